"""SPEC §1: the out-of-the-box statuses, custom statuses and the agent's picker."""

from __future__ import annotations

from presence.core.statuses import (
    CUSTOM_BASES,
    OOB_BY_ID,
    OOB_STATUSES,
    Base,
    Status,
    StatusCatalog,
    StatusId,
    is_oob,
    oob_for,
)

TRAINING = Status(StatusId("training"), "Away – In Training", Base.AWAY, order=20)
READY = Status(StatusId("ready"), "Ready", Base.AVAILABLE, order=10)
LUNCH = Status(StatusId("lunch"), "Lunch", Base.AWAY, order=20)
RETIRED = Status(StatusId("retired"), "Old busy", Base.BUSY, disabled=True)
FAKE_AVAILABLE = Status(StatusId("fake-available"), "Available", Base.OFFLINE)

CATALOG = StatusCatalog({s.id: s for s in (TRAINING, READY, LUNCH, RETIRED, FAKE_AVAILABLE)})

FIVE_PICKS = ["available", "busy", "dnd", "away", "offline"]


def ids(statuses: tuple[Status, ...] | list[Status]) -> list[str]:
    return [s.id for s in statuses]


def test_oob_catalog_matches_the_spec_table() -> None:
    """The six OOB statuses have exactly the ids, texts and bases of SPEC §1."""
    table = [(s.id, s.text, s.base) for s in OOB_STATUSES]
    assert table == [
        ("available", "Available", Base.AVAILABLE),
        ("busy", "Busy", Base.BUSY),
        ("dnd", "Do not disturb", Base.DND),
        ("away", "Appear away", Base.AWAY),
        ("offline", "Offline", Base.OFFLINE),
        ("inactive", "Inactive", Base.INACTIVE),
    ]
    assert all(s.oob for s in OOB_STATUSES)


def test_only_inactive_among_oob_is_not_selectable() -> None:
    """Every OOB status but Inactive may be picked by an agent."""
    assert [s.id for s in OOB_STATUSES if s.selectable] == FIVE_PICKS
    assert not OOB_BY_ID["inactive"].selectable


def test_oob_for_returns_the_status_of_each_base() -> None:
    """Each base has exactly one OOB status, whose base is that base."""
    for base in Base:
        status = oob_for(base)
        assert status.base is base
        assert status.oob
        assert status.id == base.value


def test_is_oob_names_only_the_six_immutable_statuses() -> None:
    """``is_oob`` is true for the six OOB ids and false for custom or unknown ids."""
    assert all(is_oob(sid) for sid in [*FIVE_PICKS, "inactive"])
    assert not is_oob("training")
    assert not is_oob("Available")


def test_custom_statuses_may_map_to_every_base_but_inactive() -> None:
    """Custom statuses map onto the five pickable bases, never ``inactive``."""
    assert set(Base) - CUSTOM_BASES == {Base.INACTIVE}


def test_catalog_finds_oob_and_custom_statuses_by_id() -> None:
    """The catalog resolves OOB ids, custom ids, and nothing else."""
    assert CATALOG.get("busy") == oob_for(Base.BUSY)
    assert CATALOG.get("training") == TRAINING
    assert CATALOG.get("nope") is None


def test_custom_status_base_decides_behaviour_not_its_text() -> None:
    """A custom status texted "Available" on base offline is offline."""
    status = CATALOG.get("fake-available")
    assert status is not None
    assert status.text == "Available"
    assert status.base is Base.OFFLINE
    assert status.to_wire()["base"] == "offline"


def test_picker_lists_oob_statuses_and_assigned_customs() -> None:
    """The picker shows the OOB six (five pickable) plus the agent's assigned customs."""
    picker = CATALOG.picker(["training"])
    assert ids(picker) == [*FIVE_PICKS, "inactive", "training"]
    assert ids([s for s in picker if s.selectable]) == [*FIVE_PICKS, "training"]


def test_picker_lists_inactive_as_not_selectable() -> None:
    """Inactive is listed in the picker but flagged not selectable."""
    inactive = [s for s in CATALOG.picker([]) if s.id == "inactive"]
    assert len(inactive) == 1
    assert inactive[0].selectable is False
    assert inactive[0].to_wire()["selectable"] is False


def test_picker_hides_customs_not_assigned_to_the_agent() -> None:
    """Custom statuses assigned to other agents are not in this agent's picker."""
    assert ids(CATALOG.picker([])) == [*FIVE_PICKS, "inactive"]
    assert "lunch" not in ids(CATALOG.picker(["training"]))


def test_picker_hides_disabled_customs_even_when_assigned() -> None:
    """A disabled custom status does not appear, even for an agent assigned to it."""
    assert "retired" not in ids(CATALOG.picker(["retired", "training"]))


def test_picker_ignores_unknown_and_repeated_assignments() -> None:
    """Unknown ids are skipped and a status assigned twice is listed once."""
    assert ids(CATALOG.picker(["ghost", "training", "training"])) == [
        *FIVE_PICKS,
        "inactive",
        "training",
    ]


def test_picker_orders_customs_by_order_then_text() -> None:
    """Customs follow the OOB six, sorted by their ``order`` and then their text."""
    picker = CATALOG.picker(["training", "lunch", "ready"])
    assert ids(picker[6:]) == ["ready", "training", "lunch"]  # "Away – In…" < "Lunch"


def test_selectable_by_allows_every_pickable_oob_status() -> None:
    """Any agent may pick the five OOB picks, whatever customs it has."""
    for sid in FIVE_PICKS:
        assert CATALOG.selectable_by(sid, []) == OOB_BY_ID[sid]


def test_selectable_by_refuses_inactive() -> None:
    """No agent may pick Inactive."""
    assert CATALOG.selectable_by("inactive", ["inactive"]) is None


def test_selectable_by_refuses_customs_not_assigned() -> None:
    """A custom status not assigned to the agent cannot be picked by it."""
    assert CATALOG.selectable_by("training", ["lunch"]) is None


def test_selectable_by_allows_assigned_customs() -> None:
    """A custom status assigned to the agent can be picked by it."""
    assert CATALOG.selectable_by("training", ["lunch", "training"]) == TRAINING


def test_selectable_by_refuses_disabled_customs() -> None:
    """A disabled custom status cannot be picked even by an agent assigned to it."""
    assert CATALOG.selectable_by("retired", ["retired"]) is None


def test_selectable_by_refuses_unknown_ids() -> None:
    """An id the catalog does not know cannot be picked."""
    assert CATALOG.selectable_by("ghost", ["ghost"]) is None


def test_status_wire_form_carries_id_text_base_and_flags() -> None:
    """A status goes on the wire with id, text, base, selectable and oob."""
    assert TRAINING.to_wire() == {
        "id": "training",
        "text": "Away – In Training",
        "base": "away",
        "selectable": True,
        "oob": False,
    }
