"""Time-in-status thresholds: how long an agent may stay in a status before the live view
flags it (``warn``, then ``alert``).

Thresholds are keyed by a status id or by a base; a status id wins over its base (the
out-of-the-box statuses have their base's name as id, so ``"busy"`` is both). Pure: the
settings endpoint validates with :func:`parse_thresholds`, the real-time report calls
:func:`threshold_level` with the agent's seconds in status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from presence.core.statuses import Base, StatusCatalog
from presence.core.validation import Invalid

#: The longest threshold accepted (a week), so a typo cannot hide every row for years.
MAX_THRESHOLD_SECONDS = 7 * 86_400


class Level(StrEnum):
    """How far past its thresholds an agent's time in status is."""

    WARN = "warn"
    ALERT = "alert"


@dataclass(frozen=True, slots=True)
class Threshold:
    """Seconds in a status after which an agent is flagged ``warn`` and ``alert``."""

    warn: float
    alert: float

    def to_json(self) -> dict[str, float]:
        return {"warn": self.warn, "alert": self.alert}


Thresholds = Mapping[str, Threshold]
BASE_NAMES = frozenset(b.value for b in Base)


def _seconds(raw: object, where: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise Invalid({where: f"expected seconds (a number), got {type(raw).__name__}"})
    if not 0 <= raw <= MAX_THRESHOLD_SECONDS:
        raise Invalid({where: f"expected 0 to {MAX_THRESHOLD_SECONDS} seconds, got {raw}"})
    return float(raw)


def parse_thresholds(raw: object, catalog: StatusCatalog) -> dict[str, Threshold]:
    """The ``thresholds`` setting from its JSON, else :class:`Invalid` naming the first
    bad entry: keys are known status ids or bases, each value ``{"warn", "alert"}`` in
    seconds with ``0 <= warn <= alert``."""
    if not isinstance(raw, dict):
        raise Invalid({"thresholds": "expected an object of status id or base → "
                                     "{\"warn\": seconds, \"alert\": seconds}"})
    out: dict[str, Threshold] = {}
    for key, value in raw.items():
        where = f"thresholds.{str(key)[:40]}"
        if key not in BASE_NAMES and catalog.get(str(key)) is None:
            raise Invalid({where: f"expected a status id or base, got {str(key)[:40]!r}"})
        if not isinstance(value, dict) or set(value) != {"warn", "alert"}:
            raise Invalid({where: "expected {\"warn\": seconds, \"alert\": seconds}"})
        warn = _seconds(value["warn"], f"{where}.warn")
        alert = _seconds(value["alert"], f"{where}.alert")
        if warn > alert:
            raise Invalid({where: f"expected warn <= alert, got {warn:g} > {alert:g}"})
        out[str(key)] = Threshold(warn, alert)
    return out


def thresholds_from_json(raw: Mapping[str, Any]) -> dict[str, Threshold]:
    """Stored thresholds (already validated when they were written)."""
    return {k: Threshold(float(v["warn"]), float(v["alert"])) for k, v in raw.items()}


def thresholds_to_json(thresholds: Thresholds) -> dict[str, dict[str, float]]:
    return {k: t.to_json() for k, t in sorted(thresholds.items())}


def threshold_for(status_id: str, base: str, thresholds: Thresholds) -> Threshold | None:
    """The threshold of a status: its own, else its base's, else ``None``."""
    return thresholds.get(status_id) or thresholds.get(base)


def threshold_level(
    status_id: str, base: str, seconds_in_status: float, thresholds: Thresholds
) -> Level | None:
    """``alert`` once ``seconds_in_status`` reached the alert threshold, ``warn`` once it
    reached the warn threshold, else ``None`` (also when no threshold applies)."""
    t = threshold_for(status_id, base, thresholds)
    if t is None:
        return None
    if seconds_in_status >= t.alert:
        return Level.ALERT
    if seconds_in_status >= t.warn:
        return Level.WARN
    return None


def with_thresholds(report: Mapping[str, Any], thresholds: Thresholds) -> dict[str, Any]:
    """The real-time report with each agent's ``threshold`` level (``None`` when under
    or without one) and each team's ``over_threshold`` count (warn or alert)."""
    agents = [
        {**a, "threshold": threshold_level(a["status_id"], a["base"], a["seconds_in_status"],
                                           thresholds)}
        for a in report["agents"]
    ]
    over: dict[str | None, int] = {}
    for a in agents:
        if a["threshold"] is not None:
            over[a["team"]] = over.get(a["team"], 0) + 1
    teams = [{**t, "over_threshold": over.get(t["team"], 0)} for t in report["teams"]]
    return {**report, "agents": agents, "teams": teams}
