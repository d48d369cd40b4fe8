"""welcome_frames: the welcome from kept parts is the frame frames.welcome builds whole."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from presence import frames
from presence.core.model import AgentId, AgentProfile, Presence, Source, TeamId
from presence.core.org import OrgConfig, Team
from presence.core.statuses import Base, Status, StatusCatalog, StatusId
from presence.core.work import new_item, offer
from presence.core.workstreams import Workstream
from presence.welcome_frames import WelcomeFrames

CHAT = Workstream("chat", name="Chat", channel="chat")
CUSTOM = {StatusId(s): Status(StatusId(s), text, base, order=order)
          for s, text, base, order in [("lunch", "Lunch", Base.AWAY, 5),
                                       ("coach", 'Coach "1:1"', Base.DND, 1),
                                       ("café", "Café ☕", Base.AWAY, 5)]}
ORG = OrgConfig(StatusCatalog(CUSTOM), {"t1": Team(TeamId("t1"), custom_statuses=(
    StatusId("lunch"),))})

texts = st.text(max_size=12)
times = st.floats(min_value=0, max_value=4e9, allow_nan=False)
presences = st.builds(
    Presence, agent_id=texts.map(AgentId), status_id=texts.map(StatusId), text=texts,
    base=st.sampled_from(Base), source=st.sampled_from(Source), reason=texts,
    since_at=times, version=st.integers(0, 2**40), actor=st.none() | texts,
    epoch=st.integers(0, 99), note=st.none() | texts,
    next_status_id=st.none() | texts.map(StatusId))
profiles = st.builds(
    AgentProfile, agent_id=texts.map(AgentId), team=st.sampled_from([None, TeamId("t1")]),
    custom_statuses=st.lists(st.sampled_from(sorted(CUSTOM)), max_size=3).map(tuple))
views = st.builds(lambda i, ws: frames.WorkView(
    offer(new_item(f"w{i}", "chat", {"customer": "Bob"}, 10.0), "A1", 30.0 + i, 11.0), ws),
    st.integers(0, 9), st.sampled_from([CHAT, None]))
pacing = st.floats(min_value=0.001, max_value=1e6, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(at=times, agent_id=texts, name=texts, connection_id=texts, presence=presences,
       profile=profiles, interval=pacing, timeout=pacing, grace=pacing, activity=pacing,
       sessions=st.lists(views, max_size=2), offers=st.lists(views, max_size=1))
def test_the_kept_welcome_is_byte_identical_to_the_built_one(
        at: float, agent_id: str, name: str, connection_id: str, presence: Presence,
        profile: AgentProfile, interval: float, timeout: float, grace: float,
        activity: float, sessions: list[frames.WorkView], offers: list[frames.WorkView],
) -> None:
    """For any agent, presence, picker, pacing, sessions and offers, the same bytes."""
    heartbeat = frames.Heartbeat(interval, timeout)
    welcomes = WelcomeFrames(heartbeat, grace, activity)
    picker, encoded = welcomes.picker(ORG, profile)
    built = frames.welcome(
        at=at, agent_id=agent_id, name=name, connection_id=connection_id,
        presence=presence, statuses=picker, heartbeat=heartbeat, grace_period=grace,
        sessions=sessions, offers=offers, activity_interval=activity)
    kept = welcomes.frame(at=at, agent_id=agent_id, name=name, connection_id=connection_id,
                          presence=presence.to_wire(), statuses=encoded, sessions=sessions,
                          offers=offers)
    assert kept == built


def test_the_picker_is_the_shared_wire_list_kept_per_configuration() -> None:
    """The same list picker_wire gives; a new configuration snapshot is read afresh."""
    welcomes = WelcomeFrames(frames.Heartbeat(10.0, 30.0), 150.0, 10.0)
    agent = AgentProfile(AgentId("A1"), team=TeamId("t1"), custom_statuses=(StatusId("coach"),))
    picker, encoded = welcomes.picker(ORG, agent)
    assert picker is frames.picker_wire(ORG.picker(agent))
    assert [s["id"] for s in picker][-2:] == [
        "coach", "lunch"]
    assert welcomes.picker(ORG, agent)[1] is encoded  # kept, not encoded again
    renamed = OrgConfig(StatusCatalog({**CUSTOM, "lunch": Status(
        StatusId("lunch"), "Long lunch", Base.AWAY)}), ORG.teams)
    _, again = welcomes.picker(renamed, agent)
    assert b"Long lunch" in again and b"Long lunch" not in encoded
