"""The guards of presence changes and the decision table the engine runs, without Redis.

Times are seconds after ``T0``.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from presence.core import decisions, rules
from presence.core.decisions import Facts
from presence.core.errors import ErrorCode, PresenceError
from presence.core.model import AgentProfile, AgentState, ConnectionId, Reason, Source, TeamId
from presence.core.org import OrgConfig, Team
from presence.core.statuses import Base, Status, StatusCatalog, StatusId
from tests.unit.timeline import AGENT, AWAY, DND, GRACE, LUNCH, READY, applied, at

#: A custom status assigned to nobody.
TRAINING = Status(StatusId("training"), "Away – In Training", Base.AWAY)
#: A custom status an admin disabled after assigning it.
RETIRED = Status(StatusId("retired"), "Retired", Base.AWAY, disabled=True)

ORG = OrgConfig(
    catalog=StatusCatalog({s.id: s for s in (READY, LUNCH, TRAINING, RETIRED)}),
    teams={"T1": Team(TeamId("T1"), "Team 1", StatusId("away"),
                      (StatusId("lunch"), StatusId("retired")))},
)
PROFILE = AgentProfile(AGENT, team=TeamId("T1"), custom_statuses=(StatusId("ready"),))


def offline() -> AgentState:
    """The agent before its first connection."""
    return AgentState.initial(AGENT, at(0))


def connected() -> AgentState:
    """The agent signed in at t=0 with one tab, "tab1" (team default Away)."""
    return applied(decisions.connect(ConnectionId("tab1"))(Facts(offline(), PROFILE, ORG,
                                                                 at(0))))


def refusal(state: AgentState, decision: decisions.Decision) -> ErrorCode:
    """The code the decision refuses with at t=1."""
    with pytest.raises(PresenceError) as refused:
        decision(Facts(state, PROFILE, ORG, at(1)))
    return refused.value.code


# --- the agent's own choice (SPEC §1, §6; decision 5) ---


@pytest.mark.parametrize("status", [AWAY, READY, LUNCH], ids=["oob", "own", "team"])
def test_a_connected_agent_sets_any_status_its_picker_offers(status: Status) -> None:
    """An OOB status, a custom one assigned to the agent or to its team: set as manual."""
    after = applied(rules.choose_manual(connected(), PROFILE, ORG, status.id, at(1)))
    assert (after.presence.status_id, after.presence.source) == (status.id, Source.MANUAL)


@pytest.mark.parametrize(
    ("status_id", "code"),
    [
        ("nope", ErrorCode.UNKNOWN_STATUS),
        ("inactive", ErrorCode.STATUS_NOT_SELECTABLE),
        ("training", ErrorCode.STATUS_NOT_SELECTABLE),
        ("retired", ErrorCode.STATUS_NOT_SELECTABLE),
    ],
    ids=["unknown", "inactive", "not-assigned", "disabled"],
)
def test_the_agent_cannot_pick_a_status_its_picker_does_not_offer(
    status_id: str, code: ErrorCode
) -> None:
    """Unknown ids, Inactive, unassigned and disabled custom statuses are refused."""
    assert refusal(connected(), decisions.set_presence(status_id)) is code


def test_a_disconnected_agent_cannot_set_presence() -> None:
    """set_presence without a live connection is refused with not_connected."""
    assert refusal(offline(), decisions.set_presence("away")) is ErrorCode.NOT_CONNECTED


def test_an_unknown_status_is_reported_before_the_missing_connection() -> None:
    """The status is checked first: a disconnected agent asking for nonsense learns that."""
    assert refusal(offline(), decisions.set_presence("nope")) is ErrorCode.UNKNOWN_STATUS


# --- a supervisor's force (decision 9) ---


@pytest.mark.parametrize("status", [DND, READY, TRAINING], ids=["oob", "assigned", "unassigned"])
def test_a_supervisor_forces_any_enabled_status_on_a_connected_agent(status: Status) -> None:
    """Forcing accepts any enabled status, custom ones not assigned to the agent too."""
    after = applied(rules.choose_forced(connected(), ORG, status.id, "sup-1", "note", at(1)))
    p = after.presence
    assert (p.status_id, p.source, p.actor, p.note) == (status.id, Source.SUPERVISOR,
                                                        "sup-1", "note")


@pytest.mark.parametrize(
    ("status_id", "code"),
    [
        ("nope", ErrorCode.UNKNOWN_STATUS),
        ("inactive", ErrorCode.STATUS_NOT_SELECTABLE),
        ("retired", ErrorCode.STATUS_NOT_SELECTABLE),
    ],
    ids=["unknown", "inactive", "disabled"],
)
def test_a_supervisor_cannot_force_inactive_or_an_unusable_status(
    status_id: str, code: ErrorCode
) -> None:
    """A supervisor cannot force Inactive, a disabled status or an unknown id."""
    assert refusal(connected(), decisions.force_presence(status_id, "sup-1", None)) is code


def test_a_supervisor_cannot_force_a_disconnected_agent() -> None:
    """Forcing an agent without a live connection is refused with not_connected."""
    decision = decisions.force_presence("dnd", "sup-1", None)
    assert refusal(offline(), decision) is ErrorCode.NOT_CONNECTED
    assert refusal(offline(), decisions.force_presence("inactive", "sup-1", None)) \
        is ErrorCode.STATUS_NOT_SELECTABLE  # the status is checked first


# --- the decision table ---


def test_a_sign_in_decision_uses_the_organisation_default_of_the_agent() -> None:
    """connect reads the default from the facts' organisation: the team's Away here."""
    p = connected().presence
    assert (p.status_id, p.source, p.reason) == ("away", Source.DEFAULT, Reason.SIGN_IN)


def test_the_grace_window_decisions_run_on_the_facts_time() -> None:
    """disconnect opens the window at the facts' now; expire_grace closes it at the
    deadline and not before."""
    state = connected()
    # t=10: the last tab closes
    gone = applied(decisions.disconnect(ConnectionId("tab1"), Reason.DISCONNECTED, GRACE)(
        Facts(state, PROFILE, ORG, at(10))))
    assert gone.grace_until == at(10) + GRACE
    # t=159.9: still in grace
    assert decisions.expire_grace()(Facts(gone, PROFILE, ORG, at(159.9))) is None
    # t=160: the deadline
    expired = applied(decisions.expire_grace()(Facts(gone, PROFILE, ORG, at(160))))
    assert expired.presence.reason == Reason.GRACE_EXPIRED


def test_the_offer_switches_are_passed_to_their_rules() -> None:
    """offer_missed and offer_rejected act only with their workstream switch on."""
    facts = Facts(connected(), PROFILE, ORG, at(1))
    assert decisions.offer_missed(False)(facts) is None
    assert decisions.offer_rejected(False)(facts) is None
    assert applied(decisions.offer_missed(True)(facts)).presence.base is Base.INACTIVE
    assert applied(decisions.offer_rejected(True)(facts)).presence.base is Base.DND


def test_a_repair_decision_renumbers_a_state_clients_may_hold() -> None:
    """repair bumps the version of a state whose stamp is not newer than the one seen."""
    state = connected()
    after = applied(decisions.repair(state.stamp)(Facts(state, PROFILE, ORG, at(5))))
    assert after.version == state.version + 1 and after.presence == replace(
        state.presence, version=after.version, epoch=after.presence.epoch)
    assert decisions.repair((0, 0))(Facts(state, PROFILE, ORG, at(5))) is None

