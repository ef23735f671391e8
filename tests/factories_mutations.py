"""Helpers for the mutation tests: build workspaces' objects through the API, and check counters after."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from domain import counters
from models import Campaign

CAMPAIGN_FIELDS = """
  id name status launchedAt archivedAt
  identity { id }
  duplicatedFrom { id }
  sequence { id position type channel parentStepId branch subject content condition
             waitForAcceptanceDays taskType title delay { days hours minutes totalSeconds }
             aiVariables { name prompt } }
  stats { version allChannels { totalContacts started } statuses { status count }
          substatuses { status substatus count } }
"""
ERRORS = "errors { code message field }"
LEAD_FIELDS = "id status substatus nextActionAt"


@pytest.fixture(autouse=True)
async def counters_match_recount(database: None) -> AsyncIterator[None]:
    """After each test: every campaign's counters equal the numbers recounted from its leads and tasks."""
    yield
    for campaign_id in await Campaign.all().values_list("id", flat=True):
        numbers, _, _ = await counters.read(campaign_id)
        numbers = {k: v for k, v in numbers.items() if v}
        assert numbers == await counters.recompute(campaign_id), f"counters drifted on campaign {campaign_id}"


async def mutate(gql: Any, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    """Run one mutation; returns its payload (the single root field)."""
    data = await gql(query, variables, **kw)
    (payload,) = data.values()
    return payload


async def ok(gql: Any, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    payload = await mutate(gql, query, variables, **kw)
    assert payload["errors"] == [], payload["errors"]
    return payload


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


async def create_identity(gql: Any, **input: Any) -> str:
    input = {"name": "Ana", "linkedinUrl": "https://linkedin.com/in/ana", "emailAddress": "ana@acme.test", **input}
    payload = await ok(
        gql,
        f"mutation($i: IdentityInput!) {{ createIdentity(input: $i) {{ identity {{ id }} {ERRORS} }} }}",
        {"i": input},
    )
    return payload["identity"]["id"]


async def import_contacts(gql: Any, n: int, prefix: str = "C") -> list[str]:
    contacts = [
        {"firstName": f"{prefix}{i}", "lastName": "Doe", "email": f"{prefix.lower()}{i}@x.test"} for i in range(n)
    ]
    payload = await ok(
        gql,
        f"mutation($c: [ContactInput!]!) {{ importContacts(contacts: $c) {{ contacts {{ id }} {ERRORS} }} }}",
        {"c": contacts},
    )
    return [c["id"] for c in payload["contacts"]]


SIMPLE_STEPS = [
    {"type": "LINKEDIN_VISIT_PROFILE"},
    {"type": "EMAIL", "subject": "Hi {{firstName}}", "content": "Hello", "delay": {"days": 1}},
]


async def create_campaign(
    gql: Any, *, steps: list[dict[str, Any]] | None = None, identity: bool = True, name: str = "Q4"
) -> dict[str, Any]:
    input: dict[str, Any] = {"name": name, "steps": SIMPLE_STEPS if steps is None else steps}
    if identity:
        input["identityId"] = await create_identity(gql)
    payload = await ok(
        gql,
        "mutation($i: CreateCampaignInput!) { createCampaign(input: $i) {"
        f" campaign {{ {CAMPAIGN_FIELDS} }} {ERRORS} }} }}",
        {"i": input},
    )
    return payload["campaign"]


async def add_leads(gql: Any, campaign_id: str, contact_ids: list[str]) -> dict[str, Any]:
    return await mutate(
        gql,
        "mutation($c: ID!, $ids: [ID!]!) { addLeads(campaignId: $c, contactIds: $ids) {"
        f" leads {{ {LEAD_FIELDS} }} {ERRORS} }} }}",
        {"c": campaign_id, "ids": contact_ids},
    )


async def campaign_action(gql: Any, action: str, campaign_id: str, **kw: Any) -> dict[str, Any]:
    return await mutate(
        gql,
        f"mutation($id: ID!) {{ {action}(id: $id) {{ campaign {{ {CAMPAIGN_FIELDS} }} {ERRORS} }} }}",
        {"id": campaign_id},
        **kw,
    )


async def campaign_with_leads(gql: Any, n: int = 3, **kw: Any) -> tuple[dict[str, Any], list[str]]:
    """A DRAFT campaign with an identity, a sequence and `n` leads; returns (campaign, lead ids)."""
    campaign = await create_campaign(gql, **kw)
    payload = await add_leads(gql, campaign["id"], await import_contacts(gql, n))
    assert payload["errors"] == []
    return campaign, [lead["id"] for lead in payload["leads"]]


async def get_campaign(gql: Any, campaign_id: str) -> dict[str, Any] | None:
    data = await gql(f"query($id: ID!) {{ campaign(id: $id) {{ {CAMPAIGN_FIELDS} }} }}", {"id": campaign_id})
    return data["campaign"]


async def get_lead(gql: Any, lead_id: str) -> dict[str, Any] | None:
    data = await gql(f"query($id: ID!) {{ lead(id: $id) {{ {LEAD_FIELDS} }} }}", {"id": lead_id})
    return data["lead"]


def statuses(campaign: dict[str, Any]) -> dict[str, int]:
    return {s["status"]: s["count"] for s in campaign["stats"]["statuses"] if s["count"]}


def substatuses(campaign: dict[str, Any]) -> dict[str, int]:
    return {s["substatus"]: s["count"] for s in campaign["stats"]["substatuses"]}
