"""Random presence histories over a few UTC days, for the report rollup properties
(decision 51): statuses renamed in history, changes at and around midnight, several at
the same millisecond."""

from __future__ import annotations

from hypothesis import strategies as st

from presence.core.intervals import Change
from presence.core.rollups import DAY_MS
from presence.core.statuses import Base, Status, StatusCatalog, StatusId

D0 = 1_767_225_600_000 // DAY_MS  # 2026-01-01, the first day of every history here
T0 = D0 * DAY_MS
#: (status id, text, base): "lunch" was renamed (both texts are in history, the catalog
#: has the new one); "training" was deleted from the catalog (history's text is shown).
STATUSES = [
    ("available", "Available", Base.AVAILABLE), ("busy", "Busy", Base.BUSY),
    ("offline", "Offline", Base.OFFLINE), ("dnd", "Do not disturb", Base.DND),
    ("lunch", "Lunch", Base.AWAY), ("lunch", "Lunch break", Base.AWAY),
    ("training", "Away – In Training", Base.AWAY),
]
CATALOG = StatusCatalog({"lunch": Status(StatusId("lunch"), "Lunch break", Base.AWAY)})

#: Offsets (ms after T0) near a midnight (the edges of parts) as often as anywhere else.
edge = st.builds(lambda k, d: k * DAY_MS + d, st.integers(0, 5), st.sampled_from([-1, 0, 1]))
#: (Hypothesis favours small integers: whole hours spread them over the days.)
offset = st.one_of(st.integers(0, 5 * DAY_MS), st.integers(0, 120).map(lambda h: h * 3_600_000),
                   edge).map(lambda o: max(0, o))
#: A history of one agent, oldest first, over days D0 … D0+5.
histories = st.lists(st.tuples(offset, st.sampled_from(STATUSES)), max_size=40).map(
    lambda raw: [Change(T0 + o, sid, text, base) for o, (sid, text, base) in sorted(
        raw, key=lambda r: r[0])])
#: An instant from the day before D0 to the day after the histories.
instant = st.one_of(st.integers(-DAY_MS, 6 * DAY_MS),
                    st.integers(-24, 144).map(lambda h: h * 3_600_000), edge).map(lambda o: T0 + o)


def duration(days: int) -> st.SearchStrategy[int]:
    """A duration up to ``days`` days, whole hours as often as any ms (Hypothesis favours
    small integers, and a horizon must move hours to pass a day's entries)."""
    return st.one_of(st.integers(0, 24 * days).map(lambda h: h * 3_600_000),
                     st.integers(0, days * DAY_MS))
