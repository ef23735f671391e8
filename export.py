"""CSV export of a campaign's audience and Activity log: `GET /export/audience.csv`, `GET /export/activity.csv`.

Each takes `campaignId` and the filters of its connection (`Campaign.audience`, `Campaign.activity`) as query
parameters, with the same meaning (the same filter builders, resolvers/reads.py), and lists the same rows in
the same order, streamed from the database chunk by chunk (resolvers/streams.py): memory stays flat however
large the campaign. Values are written as GraphQL serializes them: global IDs, enum names, DateTimes in UTC
ISO-8601, `true`/`false`. A cell that a spreadsheet would take for a formula (it starts with = + - @, a tab
or a carriage return) gets a leading apostrophe, as OWASP's "CSV Injection" page recommends.

Errors are JSON, shaped as GraphQL's top-level errors: 401 UNAUTHENTICATED without a valid key, 400
BAD_USER_INPUT for a filter that does not parse (or a parameter this export does not take), 404 NOT_FOUND
for a campaign that is not in the key's workspace. An ID filter that names nothing (malformed, foreign, of
another type) lists nothing, as in the connection.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from strawberry import ID

from domain.auth import authenticate, key_cache_of, parse_bearer
from domain.ids import to_global_id
from models import LEAD_FLAGS
from models.enums import ActivityKind, LeadStatus, LeadSubstatus
from resolvers.fields import lead_error
from resolvers.streams import Reads, Row, find_campaign, stream_activity, stream_audience
from schema.inputs import ActivityFilter, AudienceFilter
from schema.scalars import parse_datetime, serialize_datetime

CSV = "text/csv; charset=utf-8"


class BadRequest(Exception):
    """A query parameter that cannot be read: answered 400 BAD_USER_INPUT, before anything is streamed."""


def _error(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status, headers=headers or None)


# ---------------------------------------------------------------------------------------------- cells

#: What a spreadsheet reads as the start of a formula (OWASP, "CSV Injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def _converter(kind: type) -> Callable[[Any], str]:
    if issubclass(kind, bool):
        return lambda value: "true" if value else "false"
    if issubclass(kind, Enum):
        return lambda value: value.value
    if issubclass(kind, datetime):
        return serialize_datetime
    if kind is type(None):
        return lambda value: ""
    return lambda value: _text(str(value))


#: How each type of value becomes a cell, found once per type: a row has some thirty cells.
_CONVERTERS: dict[type, Callable[[Any], str]] = {str: _text}


def cell(value: Any) -> str:
    """A value as the CSV shows it: GraphQL's serialization, formula-looking text defused with a `'`."""
    convert = _CONVERTERS.get(value.__class__)
    if convert is None:
        convert = _CONVERTERS[value.__class__] = _converter(value.__class__)
    return convert(value)


def _step(row: Row) -> list[Any]:
    return [None, None] if row.step is None else [row.step.position, row.step.type]


AUDIENCE_COLUMNS = [
    "lead_id",
    "status",
    "substatus",
    "positive",
    "contact_id",
    "contact_name",
    "contact_email",
    "contact_company",
    "contact_title",
    "contact_linkedin_url",
    "step_position",
    "step_type",
    "added_at",
    "started_at",
    "next_action_at",
    "finished_at",
    "replied_at",
    "error_message",
    "error_hint",
    *LEAD_FLAGS,
]


#: What `audience_values` reads (lead_error included): the other columns are never fetched.
AUDIENCE_READS = Reads(
    item=frozenset(
        {"status", "substatus", "positive", "current_step_id", "added_at", "started_at", "next_action_at"}
        | {"finished_at", "replied_at", "error_message", "error_hint", "error_at", *LEAD_FLAGS}
    ),
    contact=frozenset({"first_name", "last_name", "email", "company", "title", "linkedin_url"}),
)


def audience_values(row: Row) -> list[Any]:
    lead, contact = row.item, row.contact
    error = lead_error(lead)
    return [
        to_global_id("Lead", lead.id),
        lead.status,
        lead.substatus,
        lead.positive,
        to_global_id("Contact", contact.id),
        contact.full_name,
        contact.email,
        contact.company,
        contact.title,
        contact.linkedin_url,
        *_step(row),
        lead.added_at,
        lead.started_at,
        lead.next_action_at,
        lead.finished_at,
        lead.replied_at,
        error.message if error else None,
        error.hint if error else None,
        *(getattr(lead, flag) for flag in LEAD_FLAGS),
    ]


ACTIVITY_COLUMNS = [
    "activity_id",
    "occurred_at",
    "kind",
    "channel",
    "detail",
    "lead_id",
    "contact_id",
    "contact_name",
    "contact_email",
    "step_position",
    "step_type",
]


ACTIVITY_READS = Reads(
    item=frozenset({"occurred_at", "kind", "channel", "detail", "lead_id", "step_id"}),
    contact=frozenset({"first_name", "last_name", "email"}),
)


def activity_values(row: Row) -> list[Any]:
    activity, contact = row.item, row.contact
    return [
        to_global_id("Activity", activity.id),
        activity.occurred_at,
        activity.kind,
        activity.channel,
        activity.detail,
        to_global_id("Lead", activity.lead_id),
        to_global_id("Contact", contact.id),
        contact.full_name,
        contact.email,
        *_step(row),
    ]


def csv_text(rows: Iterable[Iterable[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180
    writer.writerows([cell(v) for v in values] for values in rows)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------- filters


def _enum(kind: type[Enum], name: str, text: str) -> Any:
    try:
        return kind(text)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise BadRequest(f"`{name}` must be one of {allowed} (got {text!r}).") from None


def _datetime(name: str, text: str) -> datetime:
    try:
        return parse_datetime(text)
    except ValueError as error:
        raise BadRequest(f"`{name}`: {error}") from None


def _params(request: Request, allowed: tuple[str, ...]) -> dict[str, str]:
    """The query parameters, each at most once; an empty one counts as not given (as a form sends it)."""
    params: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            raise BadRequest(f"Unknown parameter `{name}`: this export takes {', '.join(allowed)}.")
        if name in params:
            raise BadRequest(f"`{name}` is given twice: give it once (`kinds` takes a comma-separated list).")
        params[name] = value
    if not params.get("campaignId"):
        raise BadRequest("`campaignId` is required: the ID of one of your campaigns.")
    return {name: value for name, value in params.items() if value.strip()}


def _id(params: dict[str, str], name: str) -> ID | None:
    """An ID filter as given: one that names nothing lists nothing (resolvers/reads.py), as in GraphQL."""
    return ID(params[name]) if name in params else None


def audience_filter(params: dict[str, str]) -> AudienceFilter:
    return AudienceFilter(
        status=_enum(LeadStatus, "status", params["status"]) if "status" in params else None,
        substatus=_enum(LeadSubstatus, "substatus", params["substatus"]) if "substatus" in params else None,
        step_id=_id(params, "stepId"),
        search=params.get("search"),
    )


def activity_filter(params: dict[str, str]) -> ActivityFilter:
    kinds = None
    if "kinds" in params:
        kinds = [_enum(ActivityKind, "kinds", k.strip()) for k in params["kinds"].split(",") if k.strip()]
    return ActivityFilter(
        step_id=_id(params, "stepId"),
        lead_id=_id(params, "leadId"),
        contact_id=_id(params, "contactId"),
        kinds=kinds or None,
        from_=_datetime("from", params["from"]) if "from" in params else None,
        to=_datetime("to", params["to"]) if "to" in params else None,
    )


# ---------------------------------------------------------------------------------------------- routes


def slug(name: str) -> str:
    """A file-name-safe form of a campaign's name: ASCII letters and digits joined by dashes."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:60].strip("-") or "campaign"


def _endpoint(
    what: str,
    allowed: tuple[str, ...],
    make_filter: Callable[[dict[str, str]], Any],
    stream: Callable[..., AsyncIterator[list[Row]]],
    columns: list[str],
    values: Callable[[Row], list[Any]],
    reads: Reads,
) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        found = await authenticate(parse_bearer(request.headers.get("authorization")), key_cache_of(request.scope))
        workspace = found.workspace if found is not None else None
        if workspace is None:
            return _error(
                401,
                "UNAUTHENTICATED",
                "Missing or invalid API key: send the header `Authorization: Bearer <key>`.",
                **{"WWW-Authenticate": "Bearer"},
            )
        try:
            params = _params(request, ("campaignId", *allowed))
            filter = make_filter(params)
        except BadRequest as error:
            return _error(400, "BAD_USER_INPUT", str(error))
        campaign = await find_campaign(workspace.id, params["campaignId"])
        if campaign is None:
            return _error(404, "NOT_FOUND", "No campaign with this `campaignId` in your workspace.")

        async def body() -> AsyncIterator[bytes]:
            yield csv_text([columns]).encode()
            async for chunk in stream(campaign, workspace.id, filter, reads):
                yield csv_text(values(row) for row in chunk).encode()

        filename = f"{slug(campaign.name)}-{what}-{datetime.now(UTC):%Y-%m-%d}.csv"
        headers = {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}
        if request.method == "HEAD":  # the headers only: a stream would read every row for nothing
            return Response(media_type=CSV, headers=headers)
        return StreamingResponse(body(), media_type=CSV, headers=headers)

    return endpoint


audience_csv = _endpoint(
    "audience",
    ("status", "substatus", "stepId", "search"),
    audience_filter,
    stream_audience,
    AUDIENCE_COLUMNS,
    audience_values,
    AUDIENCE_READS,
)
activity_csv = _endpoint(
    "activity",
    ("stepId", "leadId", "contactId", "kinds", "from", "to"),
    activity_filter,
    stream_activity,
    ACTIVITY_COLUMNS,
    activity_values,
    ACTIVITY_READS,
)

#: What server.py mounts.
ROUTES = [
    Route("/export/audience.csv", audience_csv, methods=["GET"]),
    Route("/export/activity.csv", activity_csv, methods=["GET"]),
]
