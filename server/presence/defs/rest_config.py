"""Request bodies of ``/api/statuses``, ``/api/settings`` and ``/api/capacity-profiles``
(decision 57): the structs the handlers decode with, and their conversion to the core's
values. What no schema can say stays with the handlers (a status or team that exists,
``warn <= alert``)."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from presence.core.admin import CapacityProfile
from presence.core.statuses import Base, Status, StatusId
from presence.core.thresholds import MAX_THRESHOLD_SECONDS
from presence.core.validation import ID_PROBLEM, MAX_TEXT, Invalid, valid_id
from presence.defs.rest_agents import PathId
from presence.defs.rest_types import Id, Idle, Text, whole

#: The bases a custom status may have (``core.statuses.CUSTOM_BASES``; a test holds them
#: equal).
CustomBase = Literal["available", "busy", "dnd", "away", "offline"]
Order = Annotated[float, whole(0, 10_000)]
Max = Annotated[float, whole(0, 1000)]
Name = Annotated[str, Meta(max_length=MAX_TEXT)]
ThresholdSeconds = Annotated[float, Meta(ge=0, le=MAX_THRESHOLD_SECONDS)]


class StatusCreate(Struct, forbid_unknown_fields=True):
    """``POST /api/statuses``: a new custom status (``id`` generated when omitted)."""

    text: Text
    base: CustomBase
    id: Id | None = None
    disabled: bool = False
    order: Order = 100


class StatusInput(Struct, forbid_unknown_fields=True):
    """``PUT``/``PATCH /api/statuses/{status_id}``: the fields to change."""

    id: Id | None = None
    text: Text | None = None
    base: CustomBase | None = None
    disabled: bool | None = None
    order: Order | None = None


def new_status(status_id: str, body: StatusCreate) -> Status:
    return Status(StatusId(status_id), body.text.strip(), Base(body.base),
                  disabled=body.disabled, order=int(body.order))


def changed_status(current: Status, body: StatusInput) -> Status:
    return Status(current.id, body.text.strip() if body.text else current.text,
                  Base(body.base) if body.base else current.base,
                  disabled=current.disabled if body.disabled is None else body.disabled,
                  order=current.order if body.order is None else int(body.order))


class AssignmentsInput(Struct, forbid_unknown_fields=True):
    """``PUT /api/statuses/{status_id}/assignments``: a list given replaces that kind's
    assignment, an omitted one is kept."""

    agents: list[Id] | None = None
    teams: list[Id] | None = None


class ThresholdInput(Struct, forbid_unknown_fields=True):
    """Seconds in a status before the live view flags an agent (``warn <= alert``)."""

    warn: ThresholdSeconds
    alert: ThresholdSeconds


class SettingsInput(Struct, forbid_unknown_fields=True):
    """``PUT /api/settings``: fields not named keep their values."""

    global_default: Id | UnsetType | None = UNSET
    idle_away_after: Idle | UnsetType = UNSET
    thresholds: Annotated[dict[str, ThresholdInput], Meta(
        description="status id or base → seconds in status before the live view flags "
        "an agent (a status id wins over its base); replaces them all")] | UnsetType = UNSET


class CapacityProfileCreate(Struct, forbid_unknown_fields=True):
    """``POST /api/capacity-profiles`` (``id`` generated when omitted)."""

    max: Max
    id: Id | None = None
    name: Name = ""
    blocking: bool = False


class CapacityProfileReplace(Struct, forbid_unknown_fields=True):
    """``PUT /api/capacity-profiles/{profile_id}``: the whole profile."""

    max: Max
    id: PathId | None = None
    name: Name = ""
    blocking: bool = False


class CapacityProfileInput(Struct, forbid_unknown_fields=True):
    """``PATCH /api/capacity-profiles/{profile_id}``: the fields to change."""

    id: PathId | None = None
    name: Name | None = None
    max: Max | None = None
    blocking: bool | None = None


def capacity_profile(
    profile_id: str,
    body: CapacityProfileCreate | CapacityProfileReplace | CapacityProfileInput,
    current: CapacityProfile | None = None,
) -> CapacityProfile:
    """``body`` as the profile ``profile_id`` (over ``current`` for a PATCH)."""
    if not valid_id(profile_id):
        raise Invalid({"id": ID_PROBLEM})
    if not isinstance(body, CapacityProfileCreate) and body.id not in (None, profile_id):
        raise Invalid({"id": "must equal the id in the path"})
    base = current or CapacityProfile(profile_id)
    return CapacityProfile(
        profile_id, (body.name if body.name is not None else base.name).strip(),
        int(body.max) if body.max is not None else base.max,
        body.blocking if body.blocking is not None else base.blocking)
