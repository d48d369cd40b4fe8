"""The identity provider's signing keys: a JSON Web Key Set found through the issuer's
discovery document (``/.well-known/openid-configuration`` → ``jwks_uri``) or given as a
URL (``http(s)://`` or ``file://``), kept in memory and fetched again

- when a token names a key (``kid``) the set does not hold, at most once every
  :data:`REFETCH_PERIOD` (the provider rotated its keys: no restart needed);
- every :data:`MAX_AGE` by :meth:`ProviderKeys.run` (keys the provider retired stop
  being accepted), and every :data:`REFETCH_PERIOD` while no set was fetched yet (the
  provider was down at start).

Fetches run in a thread with a timeout, never on the event loop; one fetch at a time
(sign-ins waiting for a key share it). A failed fetch keeps the keys held so far.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import jwt

from presence.clock import Clock

log = logging.getLogger("presence.oidc")

#: Signature algorithms accepted from a provider; each key's own (``alg``, or what its
#: type and curve imply) is the one its tokens are checked with.
SUPPORTED_ALGORITHMS = frozenset({"RS256", "PS256", "ES256", "EdDSA"})
#: Least time between two fetches caused by unknown keys (or retries after a failure).
REFETCH_PERIOD = 30.0
#: Age after which the background loop fetches the key set again.
MAX_AGE = 300.0
#: Longest a fetch (discovery and key set together) may take.
FETCH_TIMEOUT = 5.0
#: Largest discovery document or key set read.
MAX_DOCUMENT_BYTES = 1 << 20

Fetch = Callable[[str], Awaitable[Any]]


class KeySetError(Exception):
    """The key set could not be fetched or used; the message is one line for the operator."""


def read_json(url: str) -> Any:
    """The JSON document at ``url`` (``http(s)://`` or ``file://``). Blocking: run it
    in a thread."""
    request = urllib.request.Request(
        url, headers={"Accept": "application/json", "User-Agent": "presence"})
    with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:
        raw = response.read(MAX_DOCUMENT_BYTES + 1)
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise KeySetError(f"{url}: larger than {MAX_DOCUMENT_BYTES} bytes")
    return json.loads(raw)


async def fetch_json(url: str) -> Any:
    """:func:`read_json` in a worker thread."""
    return await asyncio.to_thread(read_json, url)


def parse_key_set(doc: Any) -> dict[str | None, jwt.PyJWK]:
    """The signing keys of a JWKS document by ``kid``; keys for encryption, of other
    algorithms (symmetric ones above all) or that cannot be read are left out."""
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise KeySetError("expected a JSON Web Key Set (an object with a 'keys' list)")
    keys: dict[str | None, jwt.PyJWK] = {}
    for entry in doc["keys"]:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(entry)
        except (jwt.PyJWTError, ValueError, TypeError):
            continue
        kid = entry.get("kid")
        if key.algorithm_name in SUPPORTED_ALGORITHMS and (kid is None or isinstance(kid, str)):
            keys[kid] = key
    if not keys:
        raise KeySetError("the key set holds no signing key for "
                          + ", ".join(sorted(SUPPORTED_ALGORITHMS)))
    return keys


def discovery_url(issuer: str) -> str:
    return issuer.rstrip("/") + "/.well-known/openid-configuration"


class ProviderKeys:
    """The provider's current keys, fetched as the module docstring says."""

    def __init__(self, clock: Clock, *, issuer: str | None = None, jwks_url: str | None = None,
                 fetch: Fetch = fetch_json, fetch_timeout: float = FETCH_TIMEOUT) -> None:
        if issuer is None and jwks_url is None:
            raise ValueError("expected an issuer or a JWKS URL")
        self.clock = clock
        self.issuer = issuer
        self.jwks_url = jwks_url
        self.keys: dict[str | None, jwt.PyJWK] = {}
        self.fetched_at: float | None = None
        self.attempted_at: float | None = None
        #: Why the last fetch failed (``None`` after a success).
        self.last_error: str | None = None
        self._fetch = fetch
        self._fetch_timeout = fetch_timeout
        self._inflight: asyncio.Task[None] | None = None
        self._loop_task: asyncio.Task[None] | None = None

    def key_for(self, kid: str | None) -> jwt.PyJWK | None:
        """The key named ``kid``; a token without ``kid`` fits a set of one key."""
        if kid is None and len(self.keys) == 1:
            return next(iter(self.keys.values()))
        return self.keys.get(kid)

    async def ensure(self, kid: str | None) -> None:
        """Call before checking a token signed with ``kid``: when the key is unknown,
        fetch the set again unless a fetch was tried less than :data:`REFETCH_PERIOD`
        ago. Waits at most the fetch timeout; never raises (a failure is logged and the
        token then fails as signed by an unknown key)."""
        if self.key_for(kid) is not None or not self._may_fetch():
            return
        with contextlib.suppress(KeySetError):  # logged by refresh()
            await self.refresh()

    def _may_fetch(self) -> bool:
        at = self.attempted_at
        return at is None or self.clock.now() - at >= REFETCH_PERIOD

    async def refresh(self) -> None:
        """Fetch the key set now (joining a fetch under way); raises
        :class:`KeySetError`, keeping the keys held, when it fails."""
        task = self._inflight
        if task is None:
            task = self._inflight = asyncio.create_task(self._fetch_once(), name="oidc-keys")
            task.add_done_callback(self._fetched)
        await asyncio.shield(task)

    def _fetched(self, task: asyncio.Task[None]) -> None:
        self._inflight = None
        if not task.cancelled():
            task.exception()  # retrieved here too: a waiter may have been cancelled

    async def _fetch_once(self) -> None:
        self.attempted_at = self.clock.now()
        source = self.jwks_url or discovery_url(self.issuer or "")
        try:
            async with asyncio.timeout(self._fetch_timeout):
                url = self.jwks_url or await self._discover()
                source = url
                keys = parse_key_set(await self._fetch(url))
        except TimeoutError:
            self._failed(f"no answer from {source} within {self._fetch_timeout:g} s")
        except KeySetError as exc:
            self._failed(f"{source}: {exc}")
        except (OSError, ValueError) as exc:  # URLError is an OSError; bad JSON a ValueError
            self._failed(f"{source}: {exc}")
        if self.keys and set(keys) != set(self.keys):
            log.info("identity provider keys changed: %s", ", ".join(map(str, keys)))
        self.keys, self.fetched_at, self.last_error = keys, self.clock.now(), None

    def _failed(self, why: str) -> None:
        self.last_error = why
        held = (f"keeping the {len(self.keys)} keys fetched before" if self.keys
                else "its tokens are refused until it answers")
        log.error("identity provider keys unavailable (%s); %s; retrying in %g s",
                  why, held, REFETCH_PERIOD)
        raise KeySetError(why)

    async def _discover(self) -> str:
        assert self.issuer is not None
        doc = await self._fetch(discovery_url(self.issuer))
        if not isinstance(doc, dict) or not isinstance(doc.get("jwks_uri"), str):
            raise KeySetError("discovery document has no jwks_uri")
        if doc.get("issuer") != self.issuer:
            raise KeySetError(f"discovery document names issuer {doc.get('issuer')!r}, "
                              f"expected {self.issuer!r}")
        url: str = doc["jwks_uri"]
        return url

    def next_fetch_at(self) -> float:
        """When :meth:`run` fetches next."""
        if self.fetched_at is None or self.last_error is not None:
            return (self.attempted_at or self.clock.now()) + REFETCH_PERIOD
        return self.fetched_at + MAX_AGE

    async def run(self) -> None:
        """Keep the set fresh: every :data:`MAX_AGE`, or every :data:`REFETCH_PERIOD`
        while the last fetch failed. Runs until cancelled."""
        while True:
            await self.clock.sleep_until(self.next_fetch_at())
            if self.clock.now() >= self.next_fetch_at():
                # A failure is logged; the next attempt is REFETCH_PERIOD later.
                with contextlib.suppress(KeySetError):
                    await self.refresh()

    async def start(self) -> None:
        """Fetch the set once (a failure is logged, not raised: tokens signed with the
        embedded secret keep working) and start :meth:`run`."""
        with contextlib.suppress(KeySetError):
            await self.refresh()
        self._loop_task = asyncio.create_task(self.run(), name="oidc-keys-refresh")

    async def stop(self) -> None:
        for task in (self._loop_task, self._inflight):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, KeySetError):
                    await task
        self._loop_task = None
