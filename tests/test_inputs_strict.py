"""Strict inputs (issue 12, point 3): each hostile input the issue found, and what a client now gets.

Mutations refuse with INVALID_INPUT and the field's path, storing nothing; query arguments with a top-level
error whose extensions.code is BAD_USER_INPUT. Never an internal error.
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest

from config import get_settings
from domain.ids import to_global_id
from models import Activity, Campaign, Contact, Identity, SequenceStep
from models.enums import StepType
from tests.engine_helpers import add_leads, make_campaign, make_identity, person, step
from tests.factories_mutations import (
    ERRORS,
    counters_match_recount,  # noqa: F401  (autouse: counters equal a recount after each test)
    mutate,
)

IMPORT = f"mutation($c: [ContactInput!]!) {{ importContacts(contacts: $c) {{ contacts {{ id email }} {ERRORS} }} }}"
CREATE_CAMPAIGN = (
    f"mutation($i: CreateCampaignInput!) {{ createCampaign(input: $i) {{ campaign {{ id name }} {ERRORS} }} }}"
)
CREATE_IDENTITY = f"mutation($i: IdentityInput!) {{ createIdentity(input: $i) {{ identity {{ id }} {ERRORS} }} }}"


def _cursor(*key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


async def _stored() -> tuple[int, ...]:
    return (
        await Contact.all().count(),
        await Campaign.all().count(),
        await SequenceStep.all().count(),
        await Identity.all().count(),
        await Activity.all().count(),
    )


def _refused(payload: dict[str, Any], field: list[str]) -> str:
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID_INPUT", field)], payload
    return payload["errors"][0]["message"]


@pytest.mark.parametrize(
    "email",
    [
        "root,postmaster,v1@evil.example",  # sent one email to three recipients
        "a@b.c>",  # a broken header
        "Ada <ada@example.com>",
        "ada@example.com\r\nBcc: x@y.z",
        "ada @example.com",
        "ada@exa\x00mple.com",
        "a" * 250 + "@b.co",
        "ada@@example.com",
        "ada@localhost",
    ],
)
async def test_an_email_is_one_plain_address(gql: Any, email: str) -> None:
    payload = await mutate(gql, IMPORT, {"c": [{"firstName": "Ada", "lastName": "L", "email": email}]})
    _refused(payload, ["contacts", "0", "email"])
    assert payload["contacts"] == [] and await Contact.all().count() == 0


async def test_an_email_domain_is_lower_cased(gql: Any) -> None:
    payload = await mutate(
        gql, IMPORT, {"c": [{"firstName": "Ada", "lastName": "L", "email": " Ada.L+x@Example.COM "}]}
    )
    assert payload["errors"] == [] and payload["contacts"][0]["email"] == "Ada.L+x@example.com"


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"type": "EMAIL", "subject": "s" * 999, "content": "Hi"}, "subject"),
        ({"type": "EMAIL", "subject": "Hi", "content": "c" * 100_001}, "content"),
        ({"type": "EMAIL", "subject": "Hi\r\nBcc: x@y.z", "content": "Hi"}, "subject"),
        ({"type": "EMAIL", "subject": "Hi", "content": "Hi\x00there"}, "content"),
        ({"type": "LINKEDIN_INMAIL", "subject": "s" * 201, "content": "Hi"}, "subject"),
        ({"type": "LINKEDIN_MESSAGE", "content": "m" * 8001}, "content"),
        ({"type": "LINKEDIN_CONNECTION", "waitForAcceptanceDays": 2147483647}, "waitForAcceptanceDays"),
        ({"type": "LINKEDIN_CONNECTION", "waitForAcceptanceDays": 366}, "waitForAcceptanceDays"),
        ({"type": "LINKEDIN_CONNECTION", "waitForAcceptanceDays": 0}, "waitForAcceptanceDays"),
        ({"type": "TASK", "taskType": "CALL", "title": "t" * 501}, "title"),
        ({"type": "TASK", "taskType": "CALL", "title": "Call\x00"}, "title"),
        ({"type": "LINKEDIN_VISIT_PROFILE", "delay": {"days": 366}}, "delay.days"),
        ({"type": "LINKEDIN_VISIT_PROFILE", "delay": {"hours": 24}}, "delay.hours"),
        ({"type": "LINKEDIN_VISIT_PROFILE", "delay": {"minutes": 60}}, "delay.minutes"),
        (
            {
                "type": "EMAIL",
                "subject": "Hi",
                "content": "{{ai.x}}",
                "aiVariables": [{"name": "x", "prompt": "p" * 2001}],
            },
            "aiVariables.0.prompt",
        ),
    ],
)
async def test_step_texts_and_numbers_have_limits(gql: Any, spec: dict[str, Any], field: str) -> None:
    before = await _stored()
    payload = await mutate(gql, CREATE_CAMPAIGN, {"i": {"name": "C", "steps": [spec]}})
    _refused(payload, ["input", "steps", "0", *field.split(".")])
    assert await _stored() == before


async def test_a_long_task_title_is_refused_without_logging_it(gql: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    payload = await mutate(
        gql,
        CREATE_CAMPAIGN,
        {"i": {"name": "C", "steps": [{"type": "TASK", "taskType": "CALL", "title": "t" * 1_000}]}},
    )
    assert "at most 500 characters" in _refused(payload, ["input", "steps", "0", "title"])
    assert not [r for r in caplog.records if "t" * 500 in r.getMessage()]


@pytest.mark.parametrize(
    ("mutation", "variables", "field"),
    [
        (IMPORT, {"c": [{"firstName": "Ada\x00", "lastName": "L"}]}, ["contacts", "0", "firstName"]),
        (IMPORT, {"c": [{"firstName": "Ada", "lastName": "L\x1b[2J"}]}, ["contacts", "0", "lastName"]),
        (IMPORT, {"c": [{"firstName": "A" * 201, "lastName": "L"}]}, ["contacts", "0", "firstName"]),
        (
            IMPORT,
            {"c": [{"firstName": "Ada", "lastName": "L", "company": "line\nbreak"}]},
            ["contacts", "0", "company"],
        ),
        (CREATE_CAMPAIGN, {"i": {"name": "Launch\x00"}}, ["input", "name"]),
        (CREATE_IDENTITY, {"i": {"name": "Ana\x07"}}, ["input", "name"]),
        (
            CREATE_IDENTITY,
            {
                "i": {
                    "name": "Ana",
                    "workingHours": {"timezone": "UTC", "days": ["MONDAY"], "start": "09:00\n", "end": "18:00"},
                }
            },
            ["input", "workingHours", "start"],
        ),
        (
            CREATE_IDENTITY,
            {
                "i": {
                    "name": "Ana",
                    "workingHours": {"timezone": "U" * 100_000, "days": ["MONDAY"], "start": "09:00", "end": "18:00"},
                }
            },
            ["input", "workingHours", "timezone"],
        ),
    ],
)
async def test_control_characters_and_long_names_are_refused(
    gql: Any, mutation: str, variables: dict[str, Any], field: list[str]
) -> None:
    before = await _stored()
    key = "importContacts" if "importContacts" in mutation else None
    payload = await mutate(gql, mutation, variables)
    _refused(payload, field)
    if key:
        assert payload["contacts"] == []
    assert await _stored() == before


async def _lead(workspace: Any) -> str:
    ws, _ = workspace
    identity = await make_identity(ws)
    campaign, _ = await make_campaign(ws, identity, [step(StepType.LINKEDIN_VISIT_PROFILE)])
    (lead,) = await add_leads(ws, campaign, [person(1)])
    return to_global_id("Lead", lead.id)


RECORD = f"mutation($i: LeadEventInput!) {{ recordLeadEvent(input: $i) {{ lead {{ id }} {ERRORS} }} }}"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"message": "m" * 100_001}, "message"),
        ({"message": "hi\x00"}, "message"),
        ({"occurredAt": "0001-01-01T00:00:00+00:00"}, "occurredAt"),
        ({"occurredAt": "9999-12-31T23:59:59+00:00"}, "occurredAt"),
    ],
)
async def test_event_messages_and_dates_have_limits(
    gql: Any, workspace: Any, extra: dict[str, Any], field: str
) -> None:
    lead_id = await _lead(workspace)
    before = await _stored()
    payload = await mutate(
        gql, RECORD, {"i": {"leadId": lead_id, "kind": "REPLY_RECEIVED", "channel": "LINKEDIN", **extra}}
    )
    _refused(payload, ["input", field])
    assert await _stored() == before


async def _top_level(gql: Any, query: str, variables: dict[str, Any] | None = None) -> str:
    response = await gql.post(query, variables)
    assert response.status_code in (200, 400), response.text
    body = response.json()
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    return error["message"]


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($a: String) { campaigns(after: $a) { nodes { id } } }", {"a": _cursor("Campaign", 2**63)}),
        ("query($a: String) { contacts(after: $a) { nodes { id } } }", {"a": _cursor("Contact", 2**70)}),
        ("query($a: String) { contacts(after: $a) { nodes { id } } }", {"a": "A" * 100_000}),
        ("query($s: String) { contacts(search: $s) { nodes { id } } }", {"s": "x" * 201}),
        ("query($s: String) { contacts(search: $s) { nodes { id } } }", {"s": "ada\x00"}),
        ("query($s: String) { campaigns(filter: {search: $s}) { nodes { id } } }", {"s": "x" * 100_000}),
    ],
)
async def test_query_arguments_are_refused_clearly(gql: Any, query: str, variables: dict[str, Any]) -> None:
    await _top_level(gql, query, variables)


@pytest.mark.parametrize(
    "argument",
    [
        'activity(after: "{cursor}")',
        'activity(filter: {{from: "0001-01-01T00:00:00+00:00"}})',
        'activity(filter: {{to: "9999-12-31T23:59:59+00:00"}})',
        'audience(filter: {{search: "{long}"}})',
    ],
)
async def test_campaign_list_arguments_are_refused_clearly(gql: Any, workspace: Any, argument: str) -> None:
    campaign, _ = await make_campaign(workspace[0], None, [])
    cursor = _cursor("Activity", "2026-01-01T00:00:00+00:00", 2**64)
    field = argument.format(cursor=cursor, long="x" * 300)
    query = f'{{ campaign(id: "{to_global_id("Campaign", campaign.id)}") {{ {field} {{ nodes {{ id }} }} }} }}'
    await _top_level(gql, query)


@pytest.mark.parametrize("depth", [200, 5_000, 100_000])
async def test_deeply_nested_variables_are_a_clear_error(gql: Any, depth: int) -> None:
    """Branches nested `depth` deep (written as raw JSON: a client's encoder would give up first). Within
    the JSON parser's 1,024 levels, graphql-core refuses the variables (BAD_USER_INPUT); deeper, the body is
    refused before any GraphQL runs (BAD_REQUEST). Either way a clear top-level error, nothing stored."""
    step = '{"type":"CONDITION","condition":"HAS_EMAIL","onTrue":[' * depth + '{"type":"END"}' + "]}" * depth
    body = json.dumps({"query": CREATE_CAMPAIGN, "variables": {"i": {"name": "Deep", "steps": ["STEP"]}}})
    body = body.replace('"STEP"', step)
    response = await gql.http.post(
        "/graphql", content=body, headers={"Authorization": f"Bearer {gql.key}", "Content-Type": "application/json"}
    )
    if len(body) > get_settings().max_body_bytes:  # refused by its size before it is even parsed
        assert response.status_code == 413, response.text[:500]
        assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
        assert await Campaign.all().count() == 0
        return
    assert response.status_code in (200, 400), response.text[:500]
    answer = response.json()
    (error,) = answer["errors"]
    assert error["extensions"]["code"] == ("BAD_USER_INPUT" if depth < 500 else "BAD_REQUEST"), error
    assert "nested too deeply" in error["message"], error
    assert await Campaign.all().count() == 0
