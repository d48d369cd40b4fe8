"""The REST API (``/api/...``), one module per resource:

- :mod:`.statuses` — the status catalog and the assignment of custom statuses
- :mod:`.agents` — agents' configuration and presence
- :mod:`.teams`, :mod:`.settings`, :mod:`.capacity_profiles` — the rest of the configuration
- :mod:`.workstreams`, :mod:`.work_items` — routing configuration and work (SPEC §7)
- :mod:`.reports` — realtime and presence reports, an agent's history (SPEC §8)
- :mod:`.revocations` — cutting a principal off before its tokens expire
- :mod:`.webhooks` — outbound webhook subscriptions, deliveries, replays

Shared helpers of the configuration resources are in :mod:`.common`; JSON answers,
typed errors and bearer authentication in :mod:`presence.web.http`; the OpenAPI document
(built from :data:`routes`) in :mod:`presence.web.openapi`.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from presence.web.api import (
    agents,
    capacity_profiles,
    reports,
    revocations,
    settings,
    statuses,
    teams,
    webhooks,
    work_items,
    workstreams,
)

#: Every REST route. Where two routes share a path, the first one listed answers a
#: method neither serves (405, with its methods in ``Allow``).
routes: list[BaseRoute] = [
    *statuses.routes,
    *agents.routes,
    *teams.routes,
    *settings.routes,
    *capacity_profiles.routes,
    *workstreams.routes,
    *work_items.routes,
    *reports.routes,
    *revocations.routes,
    *webhooks.routes,
]
