"""Fixtures for single sign-on tests: a key server standing in for a provider's key
publication (tests/oidc/keyring.py) and server instances that trust it. The end-to-end
tests run the real oidc-provider (tests/oidc/provider.mjs)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import pytest_asyncio

from tests.oidc.keyring import AUDIENCE, KeyServer, SigningKey, new_key
from tests.support.instance import Instance, Launch


@pytest.fixture(scope="session")
def rsa_key() -> SigningKey:
    """One RSA key for the session (generating one takes a while)."""
    return new_key("k1", "RS256")


@pytest.fixture
def key_server(rsa_key: SigningKey) -> Iterator[KeyServer]:
    """A running key server publishing ``rsa_key``."""
    ks = KeyServer(published=[rsa_key])
    ks.start()
    try:
        yield ks
    finally:
        ks.stop()


@pytest_asyncio.fixture
async def sso_server(key_server: KeyServer, launch: Launch) -> Instance:
    """A server instance trusting the key server as its identity provider."""
    return await launch(oidc_issuer=key_server.issuer, token_audience=AUDIENCE)
