"""Presence statuses: the six out-of-the-box ones and admin-defined custom ones (SPEC §1)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import NewType

StatusId = NewType("StatusId", str)


class Base(StrEnum):
    """The base presence that routing and every rule use."""

    AVAILABLE = "available"
    BUSY = "busy"
    DND = "dnd"
    AWAY = "away"
    OFFLINE = "offline"
    INACTIVE = "inactive"


#: Bases a custom status may map onto (never ``inactive``).
CUSTOM_BASES: frozenset[Base] = frozenset(
    {Base.AVAILABLE, Base.BUSY, Base.DND, Base.AWAY, Base.OFFLINE}
)


@dataclass(frozen=True, slots=True)
class Status:
    """A presence status: ``id``, ``text`` people see and ``base`` routing uses."""

    id: StatusId
    text: str
    base: Base
    oob: bool = False
    disabled: bool = False
    order: int = 100

    @property
    def selectable(self) -> bool:
        """Whether an agent may pick it (Inactive never; disabled customs neither)."""
        return self.base is not Base.INACTIVE and not self.disabled

    def to_wire(self) -> dict[str, object]:
        return {
            "id": self.id,
            "text": self.text,
            "base": self.base.value,
            "selectable": self.selectable,
            "oob": self.oob,
        }


OOB_STATUSES: tuple[Status, ...] = (
    Status(StatusId("available"), "Available", Base.AVAILABLE, oob=True, order=0),
    Status(StatusId("busy"), "Busy", Base.BUSY, oob=True, order=1),
    Status(StatusId("dnd"), "Do not disturb", Base.DND, oob=True, order=2),
    Status(StatusId("away"), "Appear away", Base.AWAY, oob=True, order=3),
    Status(StatusId("offline"), "Offline", Base.OFFLINE, oob=True, order=4),
    Status(StatusId("inactive"), "Inactive", Base.INACTIVE, oob=True, order=5),
)
OOB_BY_ID: Mapping[str, Status] = {s.id: s for s in OOB_STATUSES}
OOB_BY_BASE: Mapping[Base, Status] = {s.base: s for s in OOB_STATUSES}


def oob_for(base: Base) -> Status:
    """The out-of-the-box status of ``base``."""
    return OOB_BY_BASE[base]


def is_oob(status_id: str) -> bool:
    """Whether ``status_id`` names one of the six immutable statuses."""
    return status_id in OOB_BY_ID


@dataclass(frozen=True, slots=True)
class StatusCatalog:
    """Every status the organisation knows: the OOB six plus custom ones, by id."""

    custom: Mapping[str, Status]

    def get(self, status_id: str) -> Status | None:
        """The status with this id, OOB or custom, or ``None``."""
        return OOB_BY_ID.get(status_id) or self.custom.get(status_id)

    def picker(self, assigned: Iterable[str]) -> tuple[Status, ...]:
        """The statuses an agent's picker lists (SPEC §1): the OOB six (Inactive shown
        but not selectable) plus the enabled custom statuses assigned to the agent."""
        customs = [
            s for sid in dict.fromkeys(assigned) if (s := self.custom.get(sid)) and not s.disabled
        ]
        customs.sort(key=lambda s: (s.order, s.text, s.id))
        return (*OOB_STATUSES, *customs)

    def selectable_by(self, status_id: str, assigned: Iterable[str]) -> Status | None:
        """The status if the agent may pick it, else ``None``."""
        status = self.get(status_id)
        if status is None or not status.selectable:
            return None
        if status.oob or status_id in set(assigned):
            return status
        return None
