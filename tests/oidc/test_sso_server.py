"""A running server with an identity provider configured: its tokens sign agents and
supervisors in over sockets and REST, a token with several roles fits each endpoint,
and an open socket renews its token with ``reauth`` instead of being closed at exp."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from presence.client import AgentClient, ServerError, SupervisorClient
from presence.clock import FakeClock
from tests.oidc.keyring import KeyServer, SigningKey, claims
from tests.support.instance import Instance
from tests.support.rest import put_agent


def provider_token(inst: Instance, ks: KeyServer, key: SigningKey, role: object = "agent",
                   sub: str = "A1", ttl: float = 600, **extra: object) -> str:
    return key.sign(claims(role, sub, now=inst.clock.now(), ttl=ttl, issuer=ks.issuer,
                           **extra))


async def test_provider_token_with_two_roles_fits_both_sockets(
        sso_server: Instance, key_server: KeyServer, rsa_key: SigningKey) -> None:
    """A provider token carrying agent and supervisor signs its agent in on /ws/agent
    and watches on /ws/supervisor."""
    await put_agent(sso_server, "A1", team="T1")
    token = provider_token(sso_server, key_server, rsa_key, ["agent", "supervisor"],
                           teams=["T1"])
    async with SupervisorClient(sso_server.ws, token) as sup, \
            AgentClient(sso_server.ws, token) as agent:
        assert agent.welcome["presence"]["reason"] == "sign_in"
        ev = await sup.wait_for(lambda m: m["type"] == "presence"
                                and m["agent"]["agent_id"] == "A1")
        assert ev["presence"] == agent.welcome["presence"]


async def test_provider_token_reads_rest_in_its_fitting_role(
        sso_server: Instance, key_server: KeyServer, rsa_key: SigningKey) -> None:
    """Over REST an agent+supervisor token may list a team's agents (as supervisor) and
    an agent-only provider token may not."""
    await put_agent(sso_server, "A1", team="T1")
    both = provider_token(sso_server, key_server, rsa_key, ["agent", "supervisor"],
                          teams=["T1"])
    agent_only = provider_token(sso_server, key_server, rsa_key, "agent")
    async with httpx.AsyncClient(base_url=sso_server.http, timeout=10) as http:
        ok = await http.get("/api/agents", headers={"Authorization": f"Bearer {both}"})
        no = await http.get("/api/agents", headers={"Authorization": f"Bearer {agent_only}"})
    assert ok.status_code == 200, ok.text
    assert [a["id"] for a in ok.json()] == ["A1"], ok.json()
    assert no.status_code == 403


async def test_reauth_keeps_the_socket_open_past_the_old_expiry(
        sso_server: Instance, key_server: KeyServer, rsa_key: SigningKey,
        fake_clock: FakeClock) -> None:
    """An agent socket that presents a renewed token is not closed at the first
    token's exp; one presenting another agent's token is refused and keeps its own."""
    await put_agent(sso_server, "A1", team="T1")
    await put_agent(sso_server, "A2", team="T1")
    first = provider_token(sso_server, key_server, rsa_key, ttl=60)
    async with AgentClient(sso_server.ws, first) as agent:
        fake_clock.advance(50)
        renewed = provider_token(sso_server, key_server, rsa_key, ttl=600)
        reply = await agent.request({"type": "reauth", "token": renewed})
        assert reply["type"] == "reauthed"
        assert reply["expires_at"] == round(fake_clock.now() + 600) * 1000
        other = provider_token(sso_server, key_server, rsa_key, sub="A2", ttl=6000)
        with pytest.raises(ServerError) as exc:
            await agent.request({"type": "reauth", "token": other})
        assert exc.value.code == "forbidden"
        fake_clock.advance(20)  # t=70: past the first token's exp
        await sso_server.runtime.check_liveness_once()
        assert (await agent.ping())["type"] == "pong"
        fake_clock.advance(600)  # past the renewed one's
        await sso_server.runtime.check_liveness_once()
        assert await agent.wait_closed() == 4003


async def test_reauth_renews_an_agent_token_that_carries_teams(
        sso_server: Instance, key_server: KeyServer, rsa_key: SigningKey,
        fake_clock: FakeClock) -> None:
    """An agent signed in with a provider token carrying teams renews it with another
    such token; a renewal naming other teams is refused."""
    await put_agent(sso_server, "A1", team="T1")
    first = provider_token(sso_server, key_server, rsa_key, ttl=60, teams=["T1"])
    async with AgentClient(sso_server.ws, first) as agent:
        fake_clock.advance(50)
        renewed = provider_token(sso_server, key_server, rsa_key, ttl=600, teams=["T1"])
        reply = await agent.request({"type": "reauth", "token": renewed})
        assert reply["type"] == "reauthed"
        assert reply["expires_at"] == round(fake_clock.now() + 600) * 1000
        moved = provider_token(sso_server, key_server, rsa_key, ttl=600, teams=["T2"])
        with pytest.raises(ServerError) as exc:
            await agent.request({"type": "reauth", "token": moved})
        assert exc.value.code == "forbidden"


async def test_provider_down_answers_try_again(
        redis_url: str, key_prefix: str, fake_clock: FakeClock, rsa_key: SigningKey) -> None:
    """With the provider down since start its tokens get 503 over REST and close 1013
    (try again later) on sockets, while embedded-secret tokens work."""
    from tests.support.instance import start_instance
    ks = KeyServer(published=[rsa_key])
    ks.start()
    ks.stop()
    inst = await start_instance(redis_url, key_prefix, fake_clock, oidc_issuer=ks.issuer)
    try:
        token = provider_token(inst, ks, rsa_key, "admin", sub="root")
        async with httpx.AsyncClient(base_url=inst.http, timeout=10) as http:
            r = await http.get("/api/agents", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable"
            async with inst.admin() as admin:
                assert (await admin.get("/api/agents")).status_code == 200
        async with asyncio.timeout(10), websockets.connect(inst.ws + "/ws/agent") as ws:
            await ws.send(json.dumps({"type": "auth", "token": token}))
            error = json.loads(await ws.recv())
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
        assert error["code"] == "unavailable"
        assert ws.close_code == 1013
    finally:
        await inst.stop()


async def test_pages_learn_the_provider_and_may_reach_it(
        redis_url: str, key_prefix: str, fake_clock: FakeClock, key_server: KeyServer) -> None:
    """With an issuer and a client id, /auth/config names them and the pages' CSP lets
    them connect to the issuer's origin (and nowhere else); without, it holds nulls."""
    from tests.support.instance import start_instance
    inst = await start_instance(redis_url, key_prefix, fake_clock,
                                oidc_issuer=key_server.issuer, oidc_client_id="pages")
    try:
        async with httpx.AsyncClient(base_url=inst.http, timeout=10) as http:
            config = (await http.get("/auth/config")).json()
            csp = (await http.get("/agent")).headers["content-security-policy"]
    finally:
        await inst.stop()
    assert config == {"issuer": key_server.issuer, "client_id": "pages",
                      "scope": "openid offline_access"}
    assert f"connect-src 'self' {key_server.issuer};" in csp


async def test_without_a_client_id_the_pages_take_tokens_from_links(
        sso_server: Instance) -> None:
    """A server verifying provider tokens but with no client id tells the pages nothing
    (nulls) and keeps connect-src to 'self'."""
    async with httpx.AsyncClient(base_url=sso_server.http, timeout=10) as http:
        config = (await http.get("/auth/config")).json()
        csp = (await http.get("/supervisor")).headers["content-security-policy"]
    assert config == {"issuer": None, "client_id": None, "scope": None}
    assert "connect-src 'self';" in csp
