"""Tenancy: every mutation on another workspace's object is NOT_FOUND and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from models import Activity, Campaign, CampaignCounter, Contact, Identity, Lead, SequenceStep, Task
from tests.factories_mutations import (
    ERRORS,
    campaign_action,
    campaign_with_leads,
    counters_match_recount,  # noqa: F401  (autouse: counters equal a recount after each test)
    create_identity,
    import_contacts,
    mutate,
)


async def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table a mutation could touch."""
    models = (Identity, Contact, Campaign, SequenceStep, Lead, Activity, Task, CampaignCounter)
    return {m.__name__: await m.all().order_by("id").values() for m in models}


def _q(root: str, args: str, vars_: str, selection: str) -> str:
    return f"mutation({vars_}) {{ {root}({args}) {{ {selection} {ERRORS} }} }}"


CAMPAIGN_SEL = "campaign { id }"
CASES: dict[str, tuple[str, Any]] = {
    "updateIdentity": (
        _q("updateIdentity", 'id: $id, input: {name: "Stolen"}', "$id: ID!", "identity { id }"),
        lambda o: {"id": o["identity"]},
    ),
    "updateContact": (
        _q("updateContact", 'id: $id, input: {firstName: "Stolen"}', "$id: ID!", "contact { id }"),
        lambda o: {"id": o["contacts"][0]},
    ),
    "createCampaign": (
        _q("createCampaign", 'input: {name: "X", identityId: $id}', "$id: ID!", CAMPAIGN_SEL),
        lambda o: {"id": o["identity"]},
    ),
    "updateCampaign": (
        _q("updateCampaign", 'id: $id, input: {name: "Stolen"}', "$id: ID!", CAMPAIGN_SEL),
        lambda o: {"id": o["draft"]},
    ),
    "updateCampaign-identity": (
        _q("updateCampaign", "id: $id, input: {identityId: $identity}", "$id: ID!, $identity: ID", CAMPAIGN_SEL),
        lambda o: {"id": o["their_draft"], "identity": o["identity"]},
    ),
    "launchCampaign": (_q("launchCampaign", "id: $id", "$id: ID!", CAMPAIGN_SEL), lambda o: {"id": o["draft"]}),
    "pauseCampaign": (_q("pauseCampaign", "id: $id", "$id: ID!", CAMPAIGN_SEL), lambda o: {"id": o["active"]}),
    "resumeCampaign": (_q("resumeCampaign", "id: $id", "$id: ID!", CAMPAIGN_SEL), lambda o: {"id": o["paused"]}),
    "archiveCampaign": (_q("archiveCampaign", "id: $id", "$id: ID!", CAMPAIGN_SEL), lambda o: {"id": o["active"]}),
    "duplicateCampaign": (
        _q("duplicateCampaign", "id: $id, includeLeads: true", "$id: ID!", CAMPAIGN_SEL),
        lambda o: {"id": o["active"]},
    ),
    "deleteCampaign": (_q("deleteCampaign", "id: $id", "$id: ID!", "deletedId"), lambda o: {"id": o["active"]}),
    "addLeads": (
        _q("addLeads", "campaignId: $id, contactIds: $ids", "$id: ID!, $ids: [ID!]!", "leads { id }"),
        lambda o: {"id": o["active"], "ids": o["their_contacts"]},
    ),
    "addLeads-their-contacts": (
        _q("addLeads", "campaignId: $id, contactIds: $ids", "$id: ID!, $ids: [ID!]!", "leads { id }"),
        lambda o: {"id": o["their_draft"], "ids": o["contacts"]},
    ),
    "removeLeads": (
        _q("removeLeads", "campaignId: $id, leadIds: $ids", "$id: ID!, $ids: [ID!]!", "removedIds"),
        lambda o: {"id": o["active"], "ids": o["active_leads"]},
    ),
    "removeLeads-their-campaign": (
        _q("removeLeads", "campaignId: $id, leadIds: $ids", "$id: ID!, $ids: [ID!]!", "removedIds"),
        lambda o: {"id": o["their_draft"], "ids": o["active_leads"]},
    ),
    "pauseLead": (_q("pauseLead", "id: $id", "$id: ID!", "lead { id }"), lambda o: {"id": o["active_leads"][0]}),
    "resumeLead": (_q("resumeLead", "id: $id", "$id: ID!", "lead { id }"), lambda o: {"id": o["manual_lead"]}),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_foreign_objects_are_not_found(gql: Any, other_workspace: Any, case: str) -> None:
    draft, _ = await campaign_with_leads(gql, 1)
    active, active_leads = await campaign_with_leads(gql, 2, name="Active")
    await campaign_action(gql, "launchCampaign", active["id"])
    await mutate(gql, "mutation($id: ID!) { pauseLead(id: $id) { errors { code } } }", {"id": active_leads[1]})
    paused, _ = await campaign_with_leads(gql, 1, name="Paused")
    await campaign_action(gql, "launchCampaign", paused["id"])
    await campaign_action(gql, "pauseCampaign", paused["id"])
    them = gql.as_key(other_workspace[1])
    their_draft = (await campaign_with_leads(them, 0, identity=False, name="Theirs"))[0]
    objects = {
        "identity": await create_identity(gql, name="Mine"),
        "contacts": await import_contacts(gql, 1, prefix="Own"),
        "draft": draft["id"],
        "active": active["id"],
        "paused": paused["id"],
        "active_leads": active_leads[:1],
        "manual_lead": active_leads[1],
        "their_draft": their_draft["id"],
        "their_contacts": await import_contacts(them, 1, prefix="Their"),
    }
    before = await snapshot()
    query, variables = CASES[case]
    payload = await mutate(them, query, variables(objects))
    assert payload["errors"], payload
    assert {e["code"] for e in payload["errors"]} == {"NOT_FOUND"}
    assert all(v in (None, []) for k, v in payload.items() if k != "errors")
    assert await snapshot() == before
