"""CSV export (export.py): the same rows as the connections, in their order, with their values; keys, tenancy
and bad input answered in JSON before anything streams; formula-looking cells defused."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from models.enums import ActivityKind, CampaignStatus, Channel, LeadStatus, LeadSubstatus, StepType
from resolvers import streams
from tests import factories as f
from tests.conftest import GraphQLClient

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
async def running(workspace: Any) -> dict[str, Any]:
    """A campaign of 9 leads (one removed) at three steps, contacts with awkward text, activity with ties."""
    ws, _ = workspace
    campaign, steps = await f.campaign(
        ws, "Q4 outreach: SaaS founders (ES)", CampaignStatus.ACTIVE, [StepType.LINKEDIN_VISIT_PROFILE, StepType.EMAIL]
    )
    awkward: list[dict[str, str | None]] = [
        {"company": 'Acme, "the" company'},
        {"company": '=HYPERLINK("http://evil")', "title": "+1 caller"},
        {"company": "Müller & Söhne\nGmbH", "title": "@ops"},
        {"company": "-minus", "email": None},
    ]
    people = [
        await f.contact(
            ws,
            f"Ada{i}",
            "Lovelace" if i % 2 else "Hopper",
            **{"email": f"ada{i}@example.com", "company": "Acme", **awkward[i % len(awkward)]},
        )
        for i in range(9)
    ]
    leads = await f.leads(campaign, people)
    for i, lead in enumerate(leads[:7]):
        if i == 6:
            leads[i] = await f.change(
                lead,
                status=LeadStatus.ERROR,
                substatus=LeadSubstatus.MISSING_CONTACT_EMAIL,
                current_step_id=steps[1].id,
            )
            continue
        leads[i] = await f.change(
            lead,
            status=LeadStatus.IN_PROGRESS,
            substatus=LeadSubstatus.SCHEDULED if i % 2 else LeadSubstatus.OUTSIDE_WORKING_HOURS,
            current_step_id=steps[i % 2].id,
            started_at=T0,
            next_action_at=T0 + timedelta(days=i),
        )
        # Two entries at the same instant: the (occurred_at, id) order must hold across a chunk's edge.
        await f.activity(
            leads[i],
            ActivityKind.PROFILE_VISITED,
            T0 + timedelta(hours=i // 2),
            step=steps[0],
            channel=Channel.LINKEDIN,
            detail="=1+1" if i == 2 else "visited",
        )
        if i % 3 == 1:
            await f.activity(
                leads[i],
                ActivityKind.EMAIL_SENT,
                T0 + timedelta(days=1),
                step=steps[1],
                channel=Channel.EMAIL,
                detail='Subject: "Hi", again',
            )
    await f.activity(leads[7], ActivityKind.REPLY_RECEIVED, T0 + timedelta(days=2), channel=Channel.EMAIL)
    await f.remove(leads[3])
    return {"campaign": campaign, "steps": steps, "leads": leads, "people": people}


AUDIENCE = """query($id: ID!, $filter: AudienceFilter, $after: String) { campaign(id: $id) {
    audience(filter: $filter, first: 3, after: $after) { pageInfo { hasNextPage endCursor }
    nodes { id status substatus positive startedAt nextActionAt addedAt error { message hint }
            currentStep { position type }
            contact { id fullName email company title linkedinUrl } } } } }"""
ACTIVITY = """query($id: ID!, $filter: ActivityFilter, $after: String) { campaign(id: $id) {
    activity(filter: $filter, first: 3, after: $after) { pageInfo { hasNextPage endCursor }
    nodes { id occurredAt kind channel detail lead { id } contact { id fullName email }
            step { position type } } } } }"""


async def walk(gql: GraphQLClient, query: str, path: str, **variables: Any) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        data = (await gql(query, {**variables, "after": after}))["campaign"][path]
        nodes += data["nodes"]
        if not data["pageInfo"]["hasNextPage"]:
            return nodes
        after = data["pageInfo"]["endCursor"]


async def export(http: httpx.AsyncClient, key: str | None, what: str, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return await http.get(f"/export/{what}.csv", params=params, headers=headers)


def rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8"), newline="")))


def shown(value: Any) -> str:
    """A connection's value as the CSV writes it: null empty, booleans lowercase, formulas defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def audience_expected(node: dict[str, Any]) -> dict[str, str]:
    contact, step, error = node["contact"], node["currentStep"] or {}, node["error"] or {}
    return {
        "lead_id": node["id"],
        "status": node["status"],
        "substatus": shown(node["substatus"]),
        "positive": shown(node["positive"]),
        "contact_id": contact["id"],
        "contact_name": shown(contact["fullName"]),
        "contact_email": shown(contact["email"]),
        "contact_company": shown(contact["company"]),
        "contact_title": shown(contact["title"]),
        "contact_linkedin_url": shown(contact["linkedinUrl"]),
        "step_position": shown(step.get("position")),
        "step_type": shown(step.get("type")),
        "added_at": node["addedAt"],
        "started_at": shown(node["startedAt"]),
        "next_action_at": shown(node["nextActionAt"]),
        "error_message": shown(error.get("message")),
        "error_hint": shown(error.get("hint")),
    }


def activity_expected(node: dict[str, Any]) -> dict[str, str]:
    step = node["step"] or {}
    return {
        "activity_id": node["id"],
        "occurred_at": node["occurredAt"],
        "kind": node["kind"],
        "channel": shown(node["channel"]),
        "detail": shown(node["detail"]),
        "lead_id": node["lead"]["id"],
        "contact_id": node["contact"]["id"],
        "contact_name": shown(node["contact"]["fullName"]),
        "contact_email": shown(node["contact"]["email"]),
        "step_position": shown(step.get("position")),
        "step_type": shown(step.get("type")),
    }


@pytest.fixture(params=[2, 1000], ids=["chunks-of-2", "one-chunk"])
def chunk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Small chunks make every list cross several chunk edges, ties in occurred_at included."""
    monkeypatch.setattr(streams, "CHUNK", request.param)
    return request.param


async def test_audience_csv_is_the_connection(
    gql: GraphQLClient, http: httpx.AsyncClient, workspace: Any, running: dict[str, Any], chunk: int
) -> None:
    cid, (visit, email) = f.gid(running["campaign"]), running["steps"]
    filters: list[tuple[dict[str, Any] | None, dict[str, str], int]] = [
        (None, {}, 8),
        ({"status": "IN_PROGRESS"}, {"status": "IN_PROGRESS"}, 5),
        ({"substatus": "SCHEDULED"}, {"substatus": "SCHEDULED"}, 2),
        ({"stepId": f.gid(email)}, {"stepId": f.gid(email)}, 3),
        ({"status": "IN_PROGRESS", "stepId": f.gid(visit)}, {"status": "IN_PROGRESS", "stepId": f.gid(visit)}, 3),
        ({"search": "lovelace"}, {"search": "lovelace"}, 3),
        ({"search": "ada müller"}, {"search": "ada müller"}, 2),
        ({"status": "ERROR"}, {"status": "ERROR"}, 1),
        ({"status": "NOT_STARTED", "substatus": "SCHEDULED"}, {"status": "NOT_STARTED", "substatus": "SCHEDULED"}, 0),
        ({"stepId": "not-an-id"}, {"stepId": "not-an-id"}, 0),
    ]
    for filter, params, expected in filters:
        nodes = await walk(gql, AUDIENCE, "audience", id=cid, filter=filter)
        got = rows(await export(http, workspace[1], "audience", campaignId=cid, **params))
        assert len(nodes) == expected, filter
        assert [r["lead_id"] for r in got] == [n["id"] for n in nodes], filter
        for row, node in zip(got, nodes, strict=True):
            assert {k: row[k] for k in audience_expected(node)} == audience_expected(node), filter


async def test_activity_csv_is_the_connection(
    gql: GraphQLClient, http: httpx.AsyncClient, workspace: Any, running: dict[str, Any], chunk: int
) -> None:
    cid, visit = f.gid(running["campaign"]), running["steps"][0]
    lead, person = f.gid(running["leads"][1]), f.gid(running["people"][4])
    filters: list[tuple[dict[str, Any] | None, dict[str, str], int]] = [
        (None, {}, 9),
        ({"kinds": ["EMAIL_SENT", "REPLY_RECEIVED"]}, {"kinds": "EMAIL_SENT, REPLY_RECEIVED"}, 3),
        ({"stepId": f.gid(visit)}, {"stepId": f.gid(visit)}, 6),
        ({"leadId": lead}, {"leadId": lead}, 2),
        ({"contactId": person}, {"contactId": person}, 2),
        ({"from": "2026-11-20T10:00:00+00:00"}, {"from": "2026-11-20T10:00:00Z"}, 7),
        (
            {"from": "2026-11-20T10:00:00+00:00", "to": "2026-11-21T09:00:00+00:00", "stepId": f.gid(visit)},
            {"from": "2026-11-20T11:00:00+01:00", "to": "2026-11-21T09:00:00+00:00", "stepId": f.gid(visit)},
            4,
        ),
        ({"leadId": f.gid(running["campaign"])}, {"leadId": f.gid(running["campaign"])}, 0),
    ]
    for filter, params, expected in filters:
        nodes = await walk(gql, ACTIVITY, "activity", id=cid, filter=filter)
        got = rows(await export(http, workspace[1], "activity", campaignId=cid, **params))
        assert len(nodes) == expected, filter
        assert [r["activity_id"] for r in got] == [n["id"] for n in nodes], filter
        assert [activity_expected(n) for n in nodes] == [
            {k: r[k] for k in activity_expected(n)} for r, n in zip(got, nodes, strict=True)
        ], filter


async def test_the_file_is_named_and_its_cells_are_defused(
    http: httpx.AsyncClient, workspace: Any, running: dict[str, Any]
) -> None:
    cid = f.gid(running["campaign"])
    response = await export(http, workspace[1], "audience", campaignId=cid)
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert response.headers["content-disposition"] == (
        f'attachment; filename="q4-outreach-saas-founders-es-audience-{today}.csv"'
    )
    text = response.content.decode("utf-8")
    assert text.splitlines()[0].startswith("lead_id,status,substatus,positive,contact_id,contact_name")
    companies = {r["contact_company"] for r in rows(response)}
    # Quoted, embedded quotes, commas, newlines and UTF-8 survive; formulas open as text in a spreadsheet.
    assert companies == {'Acme, "the" company', '\'=HYPERLINK("http://evil")', "Müller & Söhne\nGmbH", "'-minus"}
    assert {r["contact_title"] for r in rows(response)} >= {"'+1 caller", "'@ops"}
    activity = await export(http, workspace[1], "activity", campaignId=cid)
    assert "'=1+1" in {r["detail"] for r in rows(activity)}
    assert "-activity-" in activity.headers["content-disposition"]


async def test_a_key_is_required(http: httpx.AsyncClient, running: dict[str, Any]) -> None:
    cid = f.gid(running["campaign"])
    for key in (None, "ob_not-a-key"):
        for what in ("audience", "activity"):
            response = await export(http, key, what, campaignId=cid)
            assert response.status_code == 401
            assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            assert response.headers["www-authenticate"] == "Bearer"


async def test_a_foreign_or_unknown_campaign_is_not_found(
    http: httpx.AsyncClient, workspace: Any, other_workspace: Any, running: dict[str, Any]
) -> None:
    ours = f.gid(running["campaign"])
    theirs, _ = await f.campaign(other_workspace[0], "Theirs", CampaignStatus.ACTIVE, [StepType.EMAIL])
    await f.leads(theirs, [await f.contact(other_workspace[0], "Secret", "Person")])
    for key, campaign_id in (
        (other_workspace[1], ours),  # our campaign, their key
        (workspace[1], f.gid(theirs)),  # their campaign, our key
        (workspace[1], f.gid(running["leads"][0])),  # an ID of another type
        (workspace[1], "Q2FtcGFpZ246OTk5OTk"),  # Campaign:99999
        (workspace[1], "garbage"),
    ):
        for what in ("audience", "activity"):
            response = await export(http, key, what, campaignId=campaign_id)
            assert response.status_code == 404, (what, campaign_id)
            assert response.headers["content-type"] == "application/json"
            assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    # Their own export still works, and lists only theirs.
    assert [
        r["contact_name"] for r in rows(await export(http, other_workspace[1], "audience", campaignId=f.gid(theirs)))
    ] == ["Secret Person"]


@pytest.mark.parametrize(
    ("what", "params", "says"),
    [
        ("audience", {}, "`campaignId` is required"),
        ("audience", {"status": "DONE"}, "`status` must be one of NOT_STARTED"),
        ("audience", {"substatus": "scheduled"}, "`substatus` must be one of"),
        ("audience", {"kinds": "EMAIL_SENT"}, "Unknown parameter `kinds`"),
        ("activity", {"kinds": "EMAIL_SENT,EMAIL_OPENED_TWICE"}, "`kinds` must be one of"),
        ("activity", {"from": "yesterday"}, "`from`: 'yesterday' is not an ISO-8601"),
        ("activity", {"to": "2026-11-20T09:00:00"}, "has no UTC offset"),
        ("activity", {"status": "ERROR"}, "Unknown parameter `status`"),
    ],
)
async def test_bad_filters_are_refused_in_json(
    http: httpx.AsyncClient, workspace: Any, running: dict[str, Any], what: str, params: dict[str, str], says: str
) -> None:
    if params or what == "activity":
        params = {"campaignId": f.gid(running["campaign"]), **params}
    response = await export(http, workspace[1], what, **params)
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert says in error["message"]


async def test_a_parameter_given_twice_is_refused(
    http: httpx.AsyncClient, workspace: Any, running: dict[str, Any]
) -> None:
    cid = f.gid(running["campaign"])
    response = await http.get(
        "/export/activity.csv",
        params=[("campaignId", cid), ("kinds", "EMAIL_SENT"), ("kinds", "REPLY_RECEIVED")],
        headers={"Authorization": f"Bearer {workspace[1]}"},
    )
    assert response.status_code == 400
    assert "given twice" in response.json()["errors"][0]["message"]


async def test_head_answers_the_headers_without_the_rows(
    http: httpx.AsyncClient, workspace: Any, running: dict[str, Any]
) -> None:
    params = {"campaignId": f.gid(running["campaign"])}
    response = await http.head(
        "/export/audience.csv", params=params, headers={"Authorization": f"Bearer {workspace[1]}"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="q4-outreach-saas-founders-es-')
    assert response.content == b""
    assert (await http.head("/export/audience.csv", params=params)).status_code == 401
