"""The supervisors' delivery of one event-loop step's events (decision 59): batched
sessions get one ``events`` frame per distinct run, shared by every session that gets
the same run; the others get today's frame per event; cursors and versions still decide
what a session lacks."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import orjson

from presence import frames
from presence.auth import Identity, Role
from presence.core.model import AgentId, AgentProfile, AgentState, TeamId
from presence.core.views import agent_view
from presence.web.events import MAX_BATCH_EVENTS, AgentEvent, event_of
from presence.web.fanout import SupervisorFanout, deliver, groups_of
from presence.web.fastws import RAW_EXTENSION
from presence.web.peer import Outgoing, Peer, TextFrame
from presence.web.session import SupervisorSession


class Recorder:
    """A socket's outgoing side that keeps what it was offered."""

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    def offer(self, frame: Outgoing) -> bool:
        self.sent.append(frame)
        return True


def event(seq: int, agent: str = "A1", team: str = "T1", version: int | None = None,
          shard: int = 0) -> AgentEvent:
    view = agent_view(AgentState.initial(AgentId(agent), 1_700_000_000.0),
                      AgentProfile(AgentId(agent), name=agent, team=TeamId(team)))
    body = {"agent": view | {"version": version or seq}, "presence_changed": True, "ended": []}
    return event_of(shard, f"1700000000000-{seq}", body)


def session(teams: tuple[str, ...] = ("*",), *, batched: bool = True) -> SupervisorSession:
    return SupervisorSession(
        peer=cast(Peer, Recorder()), identity=Identity("S1", Role.SUPERVISOR, frozenset(teams)),
        last_seen_at=0.0, batched=batched, buffer=None, floor={0: (0, 0)})


def sent(s: SupervisorSession) -> list[Outgoing]:
    return cast(Recorder, s.peer).sent


def elements(frame: Outgoing) -> list[dict[str, Any]]:
    assert isinstance(frame, TextFrame)
    msg = orjson.loads(frame.payload)
    assert msg["type"] == "events"
    events: list[dict[str, Any]] = msg["events"]
    return events


def test_sessions_that_get_the_same_events_share_one_frame() -> None:
    """Two batched sessions of the same teams are offered the very same frame object, which
    holds each event's own supervisor frame, in order."""
    events = [event(1), event(2, "A2"), event(3)]
    a, b = session(), session()
    deliver(events, groups_of([a, b]))
    assert len(sent(a)) == 1 and sent(a)[0] is sent(b)[0]
    frame = sent(a)[0]
    assert isinstance(frame, TextFrame)
    assert frame.payload == frames.agent_events([e.supervisor_frame().payload for e in events])
    assert [e["cursor"] for e in elements(frame)] == [
        "0:1700000000000-1", "0:1700000000000-2", "0:1700000000000-3"]


def test_a_team_filtered_session_gets_only_its_teams_events() -> None:
    """A session watching T2 gets a frame of the T2 events alone; one watching every team
    gets them all."""
    events = [event(1, "A1", "T1"), event(2, "A2", "T2"), event(3, "A3", "T2")]
    every, t2 = session(), session(("T2",))
    deliver(events, groups_of([every, t2]))
    assert [e["agent"]["agent_id"] for e in elements(sent(t2)[0])] == ["A2", "A3"]
    assert [e["agent"]["agent_id"] for e in elements(sent(every)[0])] == ["A1", "A2", "A3"]
    nobody = session(("T9",))
    deliver(events, groups_of([nobody]))
    assert sent(nobody) == []


def test_a_session_without_batches_gets_one_frame_per_event() -> None:
    """A session that did not ask for batches is offered each event's own frame, as before."""
    events = [event(1), event(2)]
    plain = session(batched=False)
    deliver(events, groups_of([plain]))
    assert sent(plain) == [e.supervisor_frame() for e in events]


def test_what_a_session_holds_already_is_left_out() -> None:
    """Events at or below a session's cursor, or not newer than the version it holds, are
    not sent; the rest go in a frame of its own."""
    events = [event(1), event(2), event(3, "A2", version=1, shard=1)]
    behind = session()
    ahead = session()
    ahead.floor = {0: (1700000000000, 1), 1: (0, 0)}  # holds the first event already
    ahead.sent = {"A2": (0, 5)}  # and a newer A2 than the third
    deliver(events, groups_of([behind, ahead]))
    assert [e["cursor"] for e in elements(sent(ahead)[0])] == ["0:1700000000000-2"]
    assert len(elements(sent(behind)[0])) == 3


def test_a_replay_ahead_of_the_hub_does_not_put_the_session_in_step() -> None:
    """A resume's replay, read from the stream, may hold events the hub has not delivered
    yet: when the hub then hands them over they are dropped, not sent a second time,
    and the first newer event puts the session in step."""
    s = session()
    s.floor = {0: (1700000000000, 2)}  # the client's resume cursor
    s.send_all([event(3), event(4)], from_hub=False)  # the replay, read from the stream
    deliver([event(3), event(4)], groups_of([s]))  # the hub catching up: covered
    deliver([event(5)], groups_of([s]))
    cursors = [e["cursor"] for frame in sent(s) for e in elements(frame)]
    assert cursors == ["0:1700000000000-3", "0:1700000000000-4", "0:1700000000000-5"]
    assert s.synced == {0}


def test_a_session_in_step_with_the_hub_skips_the_checks() -> None:
    """Until an event of a shard passes a session's cursor, covered events there are
    dropped; after that every event of that shard is sent as it comes, unchecked."""
    s = session()
    s.floor = {0: (1700000000000, 2)}  # a snapshot at event 2 of shard 0
    first = [event(1)]
    deliver(first, groups_of([s]))
    assert sent(s) == [] and s.synced == set()  # event 1 was still on its way
    catching_up = [event(2), event(3)]
    deliver(catching_up, groups_of([s]))
    assert [e["cursor"] for e in elements(sent(s)[0])] == ["0:1700000000000-3"]
    assert s.synced == {0}
    later = [event(4)]
    deliver(later, groups_of([s]))
    assert len(sent(s)) == 2
    assert s.floor == {0: (1700000000000, 3)}, "no check ran: the floor stayed"


def test_a_large_delivery_is_split_into_bounded_frames() -> None:
    """More events than one frame may carry go in several frames, in order."""
    events = [event(i) for i in range(1, MAX_BATCH_EVENTS + 3)]
    s = session()
    deliver(events, groups_of([s]))
    assert [len(elements(f)) for f in sent(s)] == [MAX_BATCH_EVENTS, 2]
    assert elements(sent(s)[1])[-1]["cursor"] == f"0:1700000000000-{MAX_BATCH_EVENTS + 2}"


def test_a_session_not_live_yet_gets_its_buffer_as_one_batch() -> None:
    """Before the snapshot is sent the watched events are buffered; going live sends
    those the snapshot does not cover in one frame."""
    s = session(("T1",))
    s.buffer = []
    buffered = [event(1), event(2, "A2", "T2"), event(3)]
    deliver(buffered, groups_of([s]))
    assert sent(s) == []
    s.floor = {0: (1700000000000, 1)}  # the snapshot covered the first
    s.live()
    assert [e["cursor"] for e in elements(sent(s)[0])] == ["0:1700000000000-3"]


async def test_the_events_of_one_step_are_delivered_together_at_its_end() -> None:
    """Events added during one event-loop step reach a session in one frame once the step
    ends, none before."""
    s = session()
    fanout = SupervisorFanout({s})
    fanout.add(event(1))
    fanout.add(event(2))
    assert sent(s) == []
    await asyncio.sleep(0)  # the step ends: the delivery scheduled by the first add runs
    assert [len(elements(f)) for f in sent(s)] == [2]


class RawRecorder:
    """A raw socket (``RawSocket``) that records each write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.open, self.write_paused = True, False

    def write_frame(self, frame: bytes) -> bool:
        self.writes.append(frame)
        return True

    def write_state(self) -> bool | None:
        return self.write_paused if self.open else None


async def test_a_steps_other_callbacks_run_before_the_supervisors_writes() -> None:
    """Through a real raw-path Peer, the frame of a step's events is written after the
    callbacks already due in the step the delivery runs in (an agent's command resumed
    by its Redis reply sends its next Redis command first), not by the delivery itself;
    one write per socket, the shared frame's bytes."""
    raw = RawRecorder()
    socket = type("Socket", (), {"scope": {"extensions": {RAW_EXTENSION: raw}}})()
    s = SupervisorSession(
        peer=Peer(cast(Any, socket), 8), identity=Identity("S1", Role.SUPERVISOR,
                                                           frozenset({"*"})),
        last_seen_at=0.0, batched=True, buffer=None, floor={0: (0, 0)})
    fanout = SupervisorFanout({s})
    events = [event(1), event(2)]
    fanout.add(events[0])
    fanout.add(events[1])
    seen: list[int] = []
    asyncio.get_running_loop().call_soon(lambda: seen.append(len(raw.writes)))
    for _ in range(3):
        await asyncio.sleep(0)
    assert seen == [0]
    payload = frames.agent_events([e.supervisor_frame().payload for e in events])
    assert raw.writes == [TextFrame(payload).wire]


def test_sessions_in_step_and_catching_up_get_the_same_bytes() -> None:
    """A session in step on every shard of a delivery gets the scope's shared frame,
    unchecked (decided once for the scope); one still catching up gets the events it
    lacks, and the same frame object when it lacks them all."""
    events = [event(1), event(2, "A2")]
    in_step, catching_up, behind_on_one = session(), session(), session()
    in_step.synced, in_step.floor = {0}, {0: (1700000000000, 9)}  # unchecked: floor ignored
    behind_on_one.floor = {0: (1700000000000, 1)}
    deliver(events, groups_of([in_step, catching_up, behind_on_one]))
    assert len(sent(in_step)) == 1 and sent(in_step)[0] is sent(catching_up)[0]
    assert [e["cursor"] for e in elements(sent(in_step)[0])] == [
        "0:1700000000000-1", "0:1700000000000-2"]
    assert [e["cursor"] for e in elements(sent(behind_on_one)[0])] == ["0:1700000000000-2"]


def test_an_event_derives_its_agent_stamp_team_and_position_from_its_body() -> None:
    """``event_of`` gives an event its agent id, version, (epoch, version) stamp, team and
    stream position from the body (epoch 0 when the view has none), frames not yet made."""
    e = event(7, agent="A9", team="T4", version=12, shard=3)
    assert (e.agent_id, e.version, e.stamp, e.team, e.position, e.shard) == (
        "A9", 12, (e.agent["epoch"], 12), "T4", (1_700_000_000_000, 7), 3)
    old = event_of(0, "5-0", {"agent": {k: v for k, v in e.agent.items() if k != "epoch"},
                              "presence_changed": False})
    assert (old.stamp, old.ended, old.presence_changed) == ((0, 12), (), False)
    assert e.tab_frame() is e.tab_frame() and e.supervisor_frame() is e.supervisor_frame()
