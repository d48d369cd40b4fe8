"""Both socket protocols under fuzzing, against a real server.

Each Hypothesis example opens a socket, authenticates and sends a batch of frames —
malformed, oversized, wrongly typed, out of order (``auth`` again, commands for offers
that do not exist), as text or binary — generated frames plus cheap mutations of them
(seeded by the example, so a failure replays). The frame parser is the oracle: for every
frame the server's answer must be exactly what :func:`parse_agent_frame` /
:func:`parse_supervisor_frame` predicts (the same error code and ``ref``), a command's
answer an ``ack``/``pong`` or an error with a known code, and a frame over the size
limit or a sign-out must end the socket with its documented close code. State stays
consistent: the agent's presence equals the last acknowledged change, versions never go
back, refused commands change nothing. Another socket of the example sends its first
frame without authenticating. Afterwards the server is healthy and a fresh agent signs in
and changes presence.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from presence.defs.decoding import parse_agent_frame, parse_supervisor_frame
from presence.defs.frames import (
    Auth,
    ForcePresence,
    FrameError,
    Ping,
    SetPresence,
    SignOut,
    SignOutAgent,
)
from presence.web.close_codes import CloseCode
from tests.security.fuzz_frames import AGENT, MAX_FRAME, SUPERVISOR, Frame, batch_of, mutants
from tests.security.security_rig import (
    CLOSE_CODES,
    ERROR_CODES,
    FUZZ_EXAMPLES,
    FUZZ_SENT,
    Message,
    OnLoop,
    closed_with,
    encoded,
    healthy_afterwards,
    recv_json,
)
from tests.support.instance import Instance, Launch
from tests.support.rest import agent_view, put_agent

FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# --- predicting the server's answer ---


def as_received(frame: Frame) -> str:
    """The text the server acts on (binary frames are decoded; bad UTF-8 is not JSON)."""
    if isinstance(frame, str):
        return frame
    try:
        return frame.decode()
    except UnicodeDecodeError:
        return "\x00"


def size(frame: Frame) -> int:
    return len(frame.encode() if isinstance(frame, str) else frame)


@dataclass
class Expect:
    """What one frame must get: an error ``code`` (exactly), or one of ``kinds``; an ack
    must carry the presence ``status_id`` when one is given."""

    ref: object
    code: str | None = None
    kinds: tuple[str, ...] = ("error",)
    status_id: str | None = None


def predict(frame: Frame, parse: Callable[[str], object]) -> Expect | int:
    """The answer ``frame`` must get once authenticated, or the close code ending the
    socket."""
    if size(frame) > MAX_FRAME:
        return CloseCode.TOO_BIG
    try:
        cmd = parse(as_received(frame))
    except FrameError as exc:
        return Expect(exc.ref, exc.code.value)
    ref = getattr(cmd, "ref", None)
    match cmd:
        case SignOut():
            return CloseCode.SIGNED_OUT
        case Auth():
            return Expect(ref, "invalid_field")
        case Ping():
            return Expect(ref, kinds=("pong",))
        case SetPresence(status_id=status_id) | ForcePresence(status_id=status_id):
            return Expect(ref, kinds=("ack", "error"), status_id=status_id)
        case SignOutAgent():
            return Expect(ref, kinds=("ack", "error"), status_id="offline")
    return Expect(ref, kinds=("error",))  # accept / reject / close_work: no such work


def plan(
    batch: list[Frame], parse: Callable[[str], object]
) -> tuple[list[Frame], list[Expect], tuple[Frame, int] | None]:
    """The frames that keep the socket open, what each must get, and the first frame
    that ends it with the close code it must cause (``None``: there is none). That frame
    goes out last, once every answer arrived: a frame over the limit fails the
    connection at once, dropping answers still on their way."""
    sent: list[Frame] = []
    expects: list[Expect] = []
    last: tuple[Frame, int] | None = None
    for frame in batch:
        outcome = predict(frame, parse)
        if isinstance(outcome, int):
            last = last or (frame, outcome)
        else:
            sent.append(frame)
            expects.append(outcome)
    return sent, expects, last


# --- running examples on the server's loop ---


async def send_all(ws: ClientConnection, sent: list[Frame]) -> None:
    for frame in sent:
        try:
            await ws.send(frame)
        except ConnectionClosed:
            return


async def replies(ws: ClientConnection, count: int) -> tuple[list[Message], list[Message]]:
    """``count`` answers (ack, error, pong) in order, and the pushed events among them."""
    answers: list[Message] = []
    events: list[Message] = []
    while len(answers) < count:
        msg = await recv_json(ws, timeout=10)
        (answers if msg["type"] in ("ack", "error", "pong") else events).append(msg)
    return answers, events


def check_answers(answers: list[Message], expects: list[Expect]) -> list[Message]:
    """Each answer matches its prediction; returns the acks."""
    acks = []
    for answer, expect in zip(answers, expects, strict=True):
        assert answer["type"] in expect.kinds, (answer, expect)
        assert answer["ref"] == expect.ref, (answer, expect)
        if answer["type"] == "error":
            assert answer["code"] in ERROR_CODES, answer
            assert isinstance(answer["message"], str) and answer["message"], answer
            if expect.code is not None:
                assert answer["code"] == expect.code, (answer, expect)
        if answer["type"] == "ack":
            assert answer["presence"]["status_id"] == expect.status_id, (answer, expect)
            acks.append(answer)
    return acks


async def first_frame_unauthenticated(inst: Instance, path: str, frame: Frame,
                                      parse: Callable[[str], object]) -> None:
    """A socket whose first frame is not a valid ``auth`` is answered and closed with
    4001 (or 1009 when oversized)."""
    async with connect(inst.ws + path, open_timeout=5, max_size=2**22) as ws:
        await send_all(ws, [frame])
        seen, code = await closed_with(ws, timeout=10)
    FUZZ_SENT["socket frames"] += 1
    assert code in CLOSE_CODES
    if size(frame) > MAX_FRAME:
        assert code == CloseCode.TOO_BIG
        return
    assert code == CloseCode.AUTH_FAILED, (frame, seen)
    assert len(seen) == 1 and seen[0]["type"] == "error", seen
    try:
        cmd = parse(as_received(frame))
    except FrameError as exc:
        assert seen[0]["code"] == exc.code.value
    else:
        expected = "auth_failed" if isinstance(cmd, Auth) else "not_authenticated"
        assert seen[0]["code"] == expected, (frame, seen)


async def fuzz_server(launch: Launch) -> Instance:
    """A server with a small frame limit and no rate limit; F1 (team TF1) may pick the
    custom status c-ready, c-other exists but is not assigned, F2 is in team TF2."""
    inst = await launch(max_frame_bytes=MAX_FRAME, rate_limit_burst=10**9)
    async with inst.admin() as http:
        for status_id, base in (("c-ready", "available"), ("c-other", "busy")):
            r = await http.post("/api/statuses", json={"id": status_id, "text": status_id,
                                                       "base": base})
            assert r.status_code == 201, r.text
        r = await http.put("/api/workstreams/chat", json={"teams": ["TF1"]})
        assert r.status_code == 201, r.text
    await put_agent(inst, "F1", team="TF1", custom_statuses=["c-ready"])
    await put_agent(inst, "F2", team="TF2")
    return inst


# --- the tests ---


async def test_agent_socket_survives_fuzzing_with_typed_answers(launch: Launch) -> None:
    """Fuzzed agent frames get the parser's exact answer and presence follows the last ack."""
    inst = await fuzz_server(launch)
    run = OnLoop(asyncio.get_running_loop())
    token = inst.token("agent", "F1")
    last_version = [0]

    async def example(batch: list[Frame]) -> None:
        sent, expects, last = plan(batch, parse_agent_frame)
        await first_frame_unauthenticated(inst, "/ws/agent", batch[0], parse_agent_frame)
        async with connect(inst.ws + "/ws/agent", open_timeout=5, max_size=2**22) as ws:
            await ws.send(encoded({"type": "auth", "token": token}))
            welcome = await recv_json(ws)
            assert welcome["type"] == "welcome", welcome
            presence = welcome["presence"]
            assert presence["version"] >= last_version[0]
            await send_all(ws, sent)
            FUZZ_SENT["socket frames"] += len(sent)
            answers, events = await replies(ws, len(expects))
            for ack in check_answers(answers, expects):
                assert ack["presence"]["version"] >= presence["version"], ack
                if ack["presence"]["status_id"] != presence["status_id"]:
                    assert ack["presence"]["version"] > presence["version"], ack
                presence = ack["presence"]
            versions = [e["presence"]["version"] for e in events if e["type"] == "presence"]
            assert versions == sorted(versions)
            view = await agent_view(inst, "F1")
            assert (view["status_id"], view["version"]) == (
                presence["status_id"], presence["version"])
            last_version[0] = presence["version"]
            if last is not None:
                await send_all(ws, [last[0]])
                FUZZ_SENT["socket frames"] += 1
                _, code = await closed_with(ws, timeout=10)
                assert code == last[1]

    @FUZZ
    @given(batch=batch_of(AGENT))
    def fuzz(batch: list[Frame]) -> None:
        run(example(batch))

    await asyncio.to_thread(fuzz)
    await healthy_afterwards(inst)


async def test_supervisor_socket_survives_fuzzing_with_typed_answers(launch: Launch) -> None:
    """Fuzzed supervisor frames get the parser's exact answer and never touch other teams."""
    inst = await fuzz_server(launch)
    run = OnLoop(asyncio.get_running_loop())
    token = inst.token("supervisor", "S1", teams=("TF1",))
    tabs = {"F1": inst.agent("F1"), "F2": inst.agent("F2")}
    for tab in tabs.values():
        await tab.open()
    other_before = await agent_view(inst, "F2")

    async def example(batch: list[Frame]) -> None:
        if tabs["F1"].close_code is not None:  # signed out by the previous batch
            tabs["F1"] = inst.agent("F1")
            await tabs["F1"].open()
        sent, expects, last = plan(batch, parse_supervisor_frame)
        await first_frame_unauthenticated(inst, "/ws/supervisor", batch[0],
                                          parse_supervisor_frame)
        async with connect(inst.ws + "/ws/supervisor", open_timeout=5, max_size=2**22) as ws:
            await ws.send(encoded({"type": "auth", "token": token}))
            snapshot = await recv_json(ws)
            assert snapshot["type"] == "snapshot", snapshot
            assert {a["agent_id"] for a in snapshot["agents"]} == {"F1"}
            before = await agent_view(inst, "F1")
            await send_all(ws, sent)
            FUZZ_SENT["socket frames"] += len(sent)
            answers, events = await replies(ws, len(expects))
            presence = before
            for ack in check_answers(answers, expects):
                assert ack["presence"]["agent_id"] == "F1", ack
                assert ack["presence"]["version"] >= presence["version"], ack
                presence = ack["presence"]
            assert all(e["agent"]["team"] == "TF1" for e in events
                       if e["type"] in ("presence", "agent")), events
            view = await agent_view(inst, "F1")
            assert (view["status_id"], view["version"]) == (
                presence["status_id"], presence["version"])
            assert await agent_view(inst, "F2") == other_before
            if last is not None:
                await send_all(ws, [last[0]])
                FUZZ_SENT["socket frames"] += 1
                _, code = await closed_with(ws, timeout=10)
                assert code == last[1]

    @FUZZ
    @given(batch=batch_of(SUPERVISOR))
    def fuzz(batch: list[Frame]) -> None:
        run(example(batch))

    try:
        await asyncio.to_thread(fuzz)
    finally:
        for tab in tabs.values():
            await tab.close()
    await healthy_afterwards(inst)


def test_mutants_are_deterministic_per_seed() -> None:
    """The same seed mutates a frame the same way, so a failing example replays."""
    base = {"type": "set_presence", "status_id": "away", "ref": 1}
    one = list(mutants(random.Random(7), AGENT, base, 200))
    assert one == list(mutants(random.Random(7), AGENT, base, 200))
    assert any(isinstance(m, bytes) for m in one) and any(isinstance(m, str) for m in one)
    parsed = 0
    for m in one:
        try:
            parse_agent_frame(as_received(m))
            parsed += 1
        except FrameError:
            pass
    assert 20 < parsed < 200
