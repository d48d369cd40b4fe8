"""Invariants of the rules over random sequences of events (Hypothesis).

The state machine feeds one agent random connects, disconnects, sign-outs, picks,
supervisor forces, work changes, offer outcomes, capacity changes, sweeps and time
advances — including a reconnect racing a sweeper, where the store lets one decision win
and the loser re-decides from the new state — and checks after every step:

- exactly one outcome (restore or expiry) per grace window, counted;
- with zero connections the base is offline (never available/busy);
- versions increase by exactly one per transition, and a transition never returns a
  state equal to its input;
- ``since`` moves exactly when status or source changes.
"""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import given, settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from presence.core import rules
from presence.core.capacity import (
    CapacityConfig,
    ProfileConfig,
    Usage,
    WorkLoad,
    computed_base,
)
from presence.core.following import follows_capacity
from presence.core.model import AgentProfile, AgentState, ConnectionId, Reason, Source
from presence.core.rules import Transition, WorkChangeKind
from presence.core.statuses import Base, Status
from tests.unit.timeline import (
    AGENT,
    AVAILABLE,
    AWAY,
    BUSY,
    DND,
    FAKE_AVAILABLE,
    FOCUS,
    LUNCH,
    OFFLINE,
    READY,
    T0,
    TRAINING,
)

CONNECTIONS = st.sampled_from([ConnectionId("tab1"), ConnectionId("tab2"), ConnectionId("tab3")])
PICKABLE = st.sampled_from([AVAILABLE, BUSY, DND, AWAY, OFFLINE, READY, LUNCH, TRAINING])
DEFAULTS = st.sampled_from([AVAILABLE, BUSY, READY, FOCUS, AWAY, LUNCH, OFFLINE, FAKE_AVAILABLE])
DISCONNECT_REASONS = st.sampled_from(
    [Reason.DISCONNECTED, Reason.SIGNED_OUT, Reason.HEARTBEAT_TIMEOUT, Reason.INSTANCE_LOST]
)
CAPACITIES = st.sampled_from(
    [
        CapacityConfig(),
        CapacityConfig(units=3),
        CapacityConfig(units=0),
        CapacityConfig(profiles=(ProfileConfig("chat", 2), ProfileConfig("voice", 1))),
        CapacityConfig(units=4, profiles=(ProfileConfig("voice", 1, blocking=True),)),
    ]
)
LOADS = st.sampled_from(
    [WorkLoad(), WorkLoad(units=1), WorkLoad(units=2, profile="chat"), WorkLoad(profile="voice")]
)
DELAYS = st.floats(min_value=0, max_value=400, allow_nan=False, allow_infinity=False)


class PresenceMachine(RuleBasedStateMachine):
    """One agent driven through random events; checks the SPEC §5 and §6 invariants."""

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.state = AgentState.initial(AGENT, T0)
        self.profile = AgentProfile(AGENT)
        self.default: Status = AVAILABLE
        self.grace_period = 150.0
        self.open_loads: list[WorkLoad] = []
        self.windows_opened = 0
        self.restores = 0
        self.expiries = 0

    @initialize(
        default=DEFAULTS,
        capacity=CAPACITIES,
        grace_period=st.sampled_from([0.5, 10.0, 150.0]),
        session_limit=st.integers(min_value=1, max_value=10),
    )
    def configure(
        self, default: Status, capacity: CapacityConfig, grace_period: float, session_limit: int
    ) -> None:
        self.default = default
        self.profile = AgentProfile(AGENT, capacity=capacity, session_limit=session_limit)
        self.grace_period = grace_period

    # --- applying a transition, with the per-transition checks ---

    def apply(self, transition: Transition | None) -> bool:
        if transition is None:
            return False
        before, after = self.state, transition.state
        assert after != before, "a transition returned its input"
        versions = [h.version for h in transition.history] or [after.version]
        assert versions == list(range(before.version + 1, before.version + 1 + len(versions)))
        assert after.version == versions[-1]
        assert after.presence.version == after.version
        assert transition.presence_changed == bool(transition.history)
        if transition.history:
            assert transition.history[-1] == after

        b, a = before.presence, after.presence
        same_shown = b.status_id == a.status_id and (
            b.source == a.source
            or (b.source is Source.RESTORED and a.source is before.behaves_as)
        )
        given_back = before.captured is not None and a.source is Source.RESTORED
        if given_back and before.captured is not None:  # decision 45: the original start
            assert a.since_at == before.captured.since_at
        elif same_shown:
            assert a.since_at == b.since_at
        else:
            assert a.since_at == self.now

        reasons = [s.presence.reason for s in transition.history]
        if before.captured is None and after.captured is not None:
            self.windows_opened += 1
            assert reasons == [after.presence.reason]
        if before.captured is not None and after.captured is None:
            restored = Reason.RESTORED in reasons
            expired = Reason.GRACE_EXPIRED in reasons
            assert restored != expired, f"expected one outcome, got {reasons}"
            c = before.captured
            if restored and follows_capacity(c.behaves_as, c.base, work_changed=False):
                # decision 45: an automatic status is never given back stale
                assert after.presence.base is computed_base(self.profile.capacity, after.usage)
            self.restores += restored
            self.expiries += expired
        else:
            assert Reason.RESTORED not in reasons
            assert Reason.GRACE_EXPIRED not in reasons
        self.state = after
        return True

    # --- time ---

    @rule(delay=DELAYS)
    def advance(self, delay: float) -> None:
        self.now += delay

    @precondition(lambda self: self.state.grace_until is not None)
    @rule(offset=st.sampled_from([-0.001, 0.0, 0.001]))
    def advance_to_deadline(self, offset: float) -> None:
        assert self.state.grace_until is not None
        self.now = max(self.now, self.state.grace_until + offset)

    # --- connections ---

    @rule(conn=CONNECTIONS)
    def connect(self, conn: ConnectionId) -> None:
        self.apply(rules.connect(self.state, conn, self.profile, self.default, self.now))

    @rule(conn=CONNECTIONS, reason=DISCONNECT_REASONS)
    def disconnect(self, conn: ConnectionId, reason: Reason) -> None:
        self.apply(rules.disconnect(self.state, conn, reason, self.grace_period, self.now))

    @rule()
    def sign_out(self) -> None:
        for conn in sorted(self.state.connections):
            tr = rules.disconnect(self.state, conn, Reason.SIGNED_OUT, self.grace_period, self.now)
            assert self.apply(tr)
        assert not self.state.connected

    @rule()
    def sweep(self) -> None:
        if self.apply(rules.expire_grace(self.state, self.now)):
            # a second sweeper (another instance) finds nothing left to do
            assert rules.expire_grace(self.state, self.now) is None

    @rule(conn=CONNECTIONS, sweeper_wins=st.booleans())
    def reconnect_races_sweeper(self, conn: ConnectionId, sweeper_wins: bool) -> None:
        """Both decide from the same state; one commits, the other re-decides."""
        decided_from = self.state
        via_sweep = rules.expire_grace(decided_from, self.now)
        via_connect = rules.connect(decided_from, conn, self.profile, self.default, self.now)
        if sweeper_wins:
            self.apply(via_sweep)
            self.apply(rules.connect(self.state, conn, self.profile, self.default, self.now))
        else:
            self.apply(via_connect)
            self.apply(rules.expire_grace(self.state, self.now))

    # --- presence choices ---

    @rule(status=PICKABLE)
    def pick(self, status: Status) -> None:
        self.apply(rules.set_manual(self.state, status, self.now))

    @rule(status=PICKABLE)
    def force(self, status: Status) -> None:
        self.apply(rules.force(self.state, status, "sup-1", "", self.now))

    @rule(switch_on=st.booleans())
    def miss_offer(self, switch_on: bool) -> None:
        self.apply(rules.offer_missed(self.state, switch_on, self.now))

    @rule(switch_on=st.booleans())
    def reject_offer(self, switch_on: bool) -> None:
        self.apply(rules.offer_rejected(self.state, switch_on, self.now))

    # --- work and capacity ---

    @rule(load=LOADS, assigned=st.booleans())
    def take_work(self, load: WorkLoad, assigned: bool) -> None:
        if self.state.usage.open_sessions >= self.profile.session_limit:
            self.apply(rules.session_limit_reached(self.state, self.now))
            return
        kind = WorkChangeKind.ASSIGNED if assigned else WorkChangeKind.ACCEPTED
        tr = rules.work_changed(self.state, kind, load, self.profile, self.default, self.now)
        assert self.apply(tr), "accepting work always changes usage"
        self.open_loads.append(load)

    @precondition(lambda self: bool(self.open_loads))
    @rule(data=st.data())
    def close_work(self, data: st.DataObject) -> None:
        index = data.draw(st.integers(min_value=0, max_value=len(self.open_loads) - 1))
        load = self.open_loads.pop(index)
        self.apply(
            rules.work_changed(
                self.state, WorkChangeKind.CLOSED, load, self.profile, self.default, self.now
            )
        )

    @rule(capacity=CAPACITIES)
    def reconfigure(self, capacity: CapacityConfig) -> None:
        self.profile = AgentProfile(
            AGENT, capacity=capacity, session_limit=self.profile.session_limit
        )
        self.apply(rules.capacity_reconfigured(self.state, self.profile, self.default, self.now))

    # --- invariants ---

    @invariant()
    def one_outcome_per_grace_window(self) -> None:
        open_now = 1 if self.state.captured is not None else 0
        assert self.windows_opened == self.restores + self.expiries + open_now

    @invariant()
    def zero_connections_means_offline(self) -> None:
        if not self.state.connected:
            assert self.state.presence.base is Base.OFFLINE
            assert self.state.presence.base not in (Base.AVAILABLE, Base.BUSY)

    @invariant()
    def grace_bookkeeping_is_consistent(self) -> None:
        s = self.state
        assert (s.captured is None) == (s.grace_until is None)
        if s.captured is not None:
            assert not s.connected and s.signed_in and s.in_grace
        if s.connected:
            assert s.signed_in

    @invariant()
    def behaves_as_differs_only_after_restore(self) -> None:
        p = self.state.presence
        if p.source is not Source.RESTORED:
            assert self.state.behaves_as is p.source
        else:
            assert self.state.behaves_as is not Source.RESTORED

    @invariant()
    def usage_matches_open_work(self) -> None:
        u = self.state.usage
        assert u.open_sessions == len(self.open_loads)
        assert u.units_used == sum(load.units for load in self.open_loads)
        assert all(n > 0 for n in u.profiles_used.values())

    @invariant()
    def presence_version_is_state_version(self) -> None:
        assert self.state.presence.version == self.state.version
        assert self.state.presence.since_at <= self.now


PresenceMachine.TestCase.settings = settings(
    max_examples=300, stateful_step_count=60, deadline=None, database=None
)
TestPresenceMachine = PresenceMachine.TestCase


# --- capacity arithmetic over random work ---


@settings(max_examples=300, deadline=None, database=None)
@given(
    loads=st.lists(LOADS, max_size=12),
    closes=st.lists(LOADS, max_size=16),
)
def test_usage_never_goes_negative(loads: list[WorkLoad], closes: list[WorkLoad]) -> None:
    """Any mix of accepts and (even unmatched) closes keeps every usage count ≥ 0."""
    u = Usage()
    for load in loads:
        u = u.add(load)
    for load in closes:
        u = u.remove(load)
        assert u.units_used >= 0 and u.open_sessions >= 0
        assert all(n > 0 for n in u.profiles_used.values())


@settings(max_examples=300, deadline=None, database=None)
@given(loads=st.lists(LOADS, max_size=12), capacity=CAPACITIES)
def test_closing_everything_accepted_makes_capacity_unused(
    loads: list[WorkLoad], capacity: CapacityConfig
) -> None:
    """Closing every accepted item returns usage to unused, whatever the order."""
    u = Usage()
    for load in loads:
        u = u.add(load)
    for load in reversed(loads):
        u = u.remove(load)
    assert u == Usage()
    assert u.unused
    if capacity.units != 0:
        assert computed_base(capacity, u) is Base.AVAILABLE


@settings(max_examples=300, deadline=None, database=None)
@given(loads=st.lists(LOADS, min_size=1, max_size=12), capacity=CAPACITIES)
def test_capacity_in_use_is_never_available(
    loads: list[WorkLoad], capacity: CapacityConfig
) -> None:
    """With at least one item open, computed presence is Busy or DND, never Available."""
    u = Usage()
    for load in loads:
        u = u.add(load)
    assert computed_base(capacity, u) in (Base.BUSY, Base.DND)
