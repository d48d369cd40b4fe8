"""Structured logs: one JSON object per line, with agent and connection ids as fields.

Tokens never reach the logs: sockets authenticate in a frame or header (never the URL),
and no code of ours logs a frame or a header. The protocol libraries do at debug level
(handshake headers, frames) and the access log writes URLs, so the handler also masks
anything shaped like a token (:class:`RedactTokens`).

Per-socket lines have loggers of their own, whose level is ``PRESENCE_LOG_CONNECTIONS``
rather than the log level (decision 77): :data:`CONNECTIONS` (ours: a socket's
``connected`` / ``disconnected``, every role: :mod:`presence.web.connection_lines`) and
:data:`TRANSPORT` (uvicorn's ``[accepted]`` and websockets' ``connection open`` /
``connection closed``, and at debug the handshake and frames).
Warnings and errors about sockets are written whatever the setting.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

import orjson

from presence.log_repeats import RepeatFilter

#: ``extra=`` keys copied into the JSON object when present.
FIELDS = ("agent_id", "connection_id", "instance_id", "code", "closed_by", "reason", "role",
          "subject", "client", "repeated")

#: Our per-socket lines (``agent … connected``, ``supervisor … disconnected``, refusals).
CONNECTIONS = logging.getLogger("presence.connections")
#: The protocol libraries' per-socket lines, given to every socket's protocol by
#: :class:`presence.web.guarded_ws.GuardedWebSocketProtocol` instead of ``uvicorn.error``.
TRANSPORT = logging.getLogger("presence.connections.transport")

#: ``PRESENCE_LOG_CONNECTIONS`` → levels of :data:`CONNECTIONS` and :data:`TRANSPORT`.
#: ``off`` leaves warnings and errors (or less, see :func:`connection_levels`); ``debug``
#: adds every socket's handshake and frames.
CONNECTION_LEVELS = {
    "off": (logging.WARNING, logging.WARNING),
    "info": (logging.INFO, logging.WARNING),
    "debug": (logging.DEBUG, logging.DEBUG),
}


#: A bearer credential after its usual markers (header, query parameter, JSON field) —
#: up to the next quote, space or separator, so a truncated frame dump is masked too —
#: and any JWT on its own.
TOKEN_PATTERN = re.compile(
    r"""(?i)(authorization:\s*(?:bearer\s+|basic\s+)?|bearer\s+|[?&;]token=|"token"\s*:\s*")"""
    r"""[^\s"'&;,]+"""
    r"|\beyJ[\w-]+\.[\w.-]+"
)


def redact(text: str) -> str:
    """``text`` with every token-shaped string replaced by ``[redacted]``."""
    if text.isascii():
        # Every match in ASCII text holds one of these (the pattern ignores case; beyond
        # ASCII, "ı" and "K" match "i" and "k" too): most lines hold none, and the
        # checks cost a tenth of the pattern's scan.
        low = text.lower()
        if not ("token" in low or "bearer" in low or "authorization" in low or "eyj" in low):
            return text
    return TOKEN_PATTERN.sub(lambda m: (m.group(1) or "") + "[redacted]", text)


class RedactTokens(logging.Filter):
    """Rewrites a record whose message holds a token (the record then carries the
    masked text and no arguments, for every handler after this one too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record (orjson; the standard library's encoder for what orjson
    refuses, e.g. a lone surrogate)."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._stamp = ""

    def _time(self, created: float) -> str:
        """``created`` as ISO 8601 UTC with milliseconds; the part up to the second is
        made once per second."""
        second = int(created)
        if second != self._second:
            self._second = second
            self._stamp = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        return f"{self._stamp}.{int((created - second) * 1000):03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "time": self._time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in FIELDS:
            value = record.__dict__.get(key)
            if value is not None:
                out[key] = value
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        try:
            return orjson.dumps(out, default=str).decode()
        except TypeError:  # orjson.JSONEncodeError
            return json.dumps(out, default=str)


def configure(level: str, fmt: str, connections: str = "off") -> None:
    """Route every logger (uvicorn's too) to stderr in ``fmt`` ("json" or "text"), at
    ``level``; the per-socket lines at ``connections`` (a key of :data:`CONNECTION_LEVELS`)."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    # Repeats first: they are recognised by message template, before masking fills it in.
    handler.addFilter(RepeatFilter())
    handler.addFilter(RedactTokens())
    # Neither format shows the thread or the process: records need not look them up.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    set_connection_logging(connections, root.level)


def connection_levels(connections: str, level: int) -> tuple[int, int]:
    """The levels of :data:`CONNECTIONS` and :data:`TRANSPORT` for ``connections`` (a key
    of :data:`CONNECTION_LEVELS`) when everything else logs at ``level``: where the
    setting leaves only warnings, no more than the rest writes (at ``error``, no refusal
    warnings either); ``info`` and ``debug`` lines are asked for explicitly and are
    written whatever the rest's level."""
    ours, transport = CONNECTION_LEVELS[connections]
    return (max(ours, level) if ours >= logging.WARNING else ours,
            max(transport, level) if transport >= logging.WARNING else transport)


def set_connection_logging(connections: str, level: int = logging.INFO) -> None:
    """Set the per-socket loggers' levels (:func:`connection_levels`). Sockets opened
    before keep the debug setting of their frames (websockets reads it once)."""
    ours, transport = connection_levels(connections, level)
    CONNECTIONS.setLevel(ours)
    TRANSPORT.setLevel(transport)
