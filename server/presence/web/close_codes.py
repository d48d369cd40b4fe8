"""WebSocket close codes, in one place, with whether the client should reconnect.

The one source of the reconnect rule: :mod:`presence.client` imports
:data:`RECONNECT_CODES` from here (this module imports nothing but the standard library,
so the client library stays light), ``static/js/closecodes.js`` carries the same list
(checked by ``tests/unit/test_close_codes.py``), and the chaos harness derives the codes
it expects under faults from it (``tests/chaos/drivers.py``).
"""

from __future__ import annotations

from enum import IntEnum


class CloseCode(IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001
    POLICY = 1008
    TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    TRY_AGAIN_LATER = 1013
    AUTH_FAILED = 4001
    AUTH_TIMEOUT = 4002
    TOKEN_EXPIRED = 4003
    FORBIDDEN = 4004
    UNKNOWN_AGENT = 4005
    SIGNED_OUT = 4010
    REPLACED = 4011
    REVOKED = 4012
    #: The agent's stored state could not be read and was rebuilt (decision 82): the
    #: tab reconnects and signs in to the rebuilt state.
    STATE_RESET = 4013
    HEARTBEAT_TIMEOUT = 4020
    SLOW_CONSUMER = 4021
    RATE_LIMITED = 4022
    TOO_MANY_CONNECTIONS = 4023


#: Close codes after which a client should reconnect (with backoff and jitter).
RECONNECT: frozenset[CloseCode] = frozenset(
    {
        CloseCode.GOING_AWAY,
        CloseCode.INTERNAL_ERROR,
        CloseCode.SERVICE_RESTART,
        CloseCode.TRY_AGAIN_LATER,
        CloseCode.HEARTBEAT_TIMEOUT,
        CloseCode.SLOW_CONSUMER,
        CloseCode.STATE_RESET,
    }
)


#: Abnormal closure: never sent in a close frame (so not a :class:`CloseCode`); what a
#: client sees when the connection ends without one (instance killed, network lost).
ABNORMAL_CLOSURE = 1006

#: Every close code a client reconnects after: :data:`RECONNECT` and 1006.
RECONNECT_CODES: frozenset[int] = frozenset({ABNORMAL_CLOSURE, *RECONNECT})


def should_reconnect(code: int) -> bool:
    """Whether a client that saw ``code`` should reconnect (abnormal 1006 included)."""
    return code in RECONNECT_CODES
