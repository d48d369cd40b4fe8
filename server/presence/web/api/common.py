"""What the configuration resources share: the full list of agents' profiles, the checks
of a default status and of custom statuses, and the base of a PATCH."""

from __future__ import annotations

from typing import Any

from presence.core.model import AgentProfile
from presence.core.statuses import Base
from presence.web.runtime import Runtime


async def all_profiles(rt: Runtime) -> list[AgentProfile]:
    """Every configured agent (configuration changes are rare: a full read is fine)."""
    loaded = await rt.store.load_agents(await rt.store.agent_ids())
    return [snap.profile for snap in loaded if snap.profile is not None]


def check_default(rt: Runtime, status_id: str | None, errors: dict[str, str]) -> None:
    """A default status must exist, be enabled and not be Inactive (decision 8)."""
    if status_id is None:
        return
    status = rt.config.org.catalog.get(status_id)
    if status is None:
        errors["default_status"] = f"no status {status_id!r}"
    elif status.base is Base.INACTIVE:
        errors["default_status"] = "inactive is set by the system only"
    elif status.disabled:
        errors["default_status"] = f"status {status_id!r} is disabled"


def check_customs(rt: Runtime, ids: tuple[str, ...], errors: dict[str, str]) -> None:
    """Every id assigned as a custom status must name a custom status."""
    for sid in ids:
        if sid not in rt.config.org.catalog.custom:
            errors["custom_statuses"] = f"no custom status {sid!r}"


def patch_base(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored document as a PATCH base: set fields only (no id, no empty values)."""
    return {k: v for k, v in stored.items() if k != "id" and v not in (None, "")}
