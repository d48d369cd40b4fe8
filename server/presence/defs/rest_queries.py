"""Query parameters of the REST API (decision 57): the structs the report, agent-list
and delivery endpoints decode their query into (unknown parameters are ignored), and
whose fields the OpenAPI document lists. Handlers decode them after their permission
checks, so a caller not allowed learns nothing from a bad query. Instants stay a string
here: their parsing (epoch ms or ISO 8601) is :func:`presence.web.api.reports.parse_instant`."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta, Struct, field

from presence.core.labels import Labels
from presence.defs.rest_types import OPTIONAL_ID_PATTERN

OptionalId = Annotated[str, Meta(pattern=OPTIONAL_ID_PATTERN,
                                 description="an id; empty means none")]
Instant = Annotated[str, Meta(
    description="epoch milliseconds or an ISO 8601 date-time; empty means the default",
    extra_json_schema={"anyOf": [{"pattern": "^[0-9]{0,18}$"}, {"format": "date-time"}]})]


class TeamQuery(Struct):
    """``?team=``: only this team."""

    team: OptionalId = ""


class ScopeQuery(Struct):
    """The real-time report's ``?team=`` and ``?agent=`` (an agent wins)."""

    team: OptionalId = ""
    agent: OptionalId = ""


class RangeQuery(Struct, kw_only=True):
    """``?from=&to=`` (default: the 24 hours before now), ``?format=json|csv`` (absent:
    ``Accept: text/csv`` selects CSV) and ``?labels=recorded|current``."""

    from_: Instant = field(name="from", default="")
    to: Instant = ""
    format: Annotated[Literal["", "json", "csv"], Meta(
        description="empty: CSV when Accept names text/csv")] = ""
    labels: Labels = Labels.RECORDED


class ReportQuery(RangeQuery, kw_only=True):
    """The presence report's range, with ``?team=`` and ``?agent=``."""

    team: OptionalId = ""
    agent: OptionalId = ""


class DeliveriesQuery(Struct):
    """``?limit=``: how many recent attempts, 1-100."""

    limit: Annotated[int, Meta(ge=1, le=100)] = 100
