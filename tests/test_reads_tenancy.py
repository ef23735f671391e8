"""Tenancy: every root query field shows only the workspace of the request's key.

Another workspace's objects are invisible: by ID they are null (like an ID that does not exist), in lists
they are absent, and filters naming them match nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import graphql
import pytest

from domain.ids import to_global_id
from models import ApiKey, Suppression, Webhook, WebhookDelivery, Workspace
from models.enums import ActivityKind, CampaignStatus, StepType, SuppressionReason
from models.webhook import WebhookEvent
from tests import factories as f
from tests.conftest import GraphQLClient

#: Every type that implements Node (schema.graphql, the served schema): the fixture's name of its row.
NODE_ROWS = {
    "Workspace": "workspace",
    "Identity": "identity",
    "Contact": "contact",
    "Campaign": "campaign",
    "SequenceStep": "step",
    "Lead": "lead",
    "Activity": "activity",
    "Task": "task",
    "ApiKey": "api_key",
    "Webhook": "webhook",
    "WebhookDelivery": "delivery",
    "Suppression": "suppression",
}


async def settings_rows(ws: Workspace, value: str) -> dict[str, Any]:
    """A workspace's rows of the settings' Node types: its (first) API key, a webhook and a delivery, a
    suppression."""
    hook = await Webhook.create(workspace=ws, url="https://hooks.example.com/in", events=[], secret="whsec_test")
    delivery = await WebhookDelivery.create(
        workspace=ws, webhook=hook, event_id="msg_test", event=WebhookEvent.LEAD_REPLIED, payload="{}"
    )
    return {
        "api_key": await ApiKey.filter(workspace_id=ws.id).order_by("id").first(),
        "webhook": hook,
        "delivery": delivery,
        "suppression": await Suppression.create(workspace=ws, value=value, reason=SuppressionReason.MANUAL),
    }


def test_the_node_tests_cover_every_node_type() -> None:
    # A type that comes to implement Node joins NODE_ROWS (and so the two node(id) tests below).
    served = graphql.build_schema((Path(__file__).resolve().parents[1] / "schema.graphql").read_text())
    node = served.get_type("Node")
    assert isinstance(node, graphql.GraphQLInterfaceType)
    assert {t.name for t in served.get_possible_types(node)} == set(NODE_ROWS)


@pytest.fixture
async def theirs(other_workspace: Any) -> dict[str, Any]:
    """Globex's data: a campaign with a step, a lead with activity and a task, an identity, a contact, and
    its settings' rows (settings_rows)."""
    ws, key = other_workspace
    ident = await f.identity(ws, "Globex sender")
    person = await f.contact(ws, "Hank", "Scorpio", email="hank@globex.com", company="Globex")
    campaign, steps = await f.campaign(ws, "Globex launch", CampaignStatus.ACTIVE, [StepType.TASK])
    (lead,) = await f.leads(campaign, [person])
    act = await f.activity(lead, ActivityKind.TASK_CREATED, datetime(2026, 1, 1, tzinfo=UTC), step=steps[0])
    task = await f.task(lead, steps[0])
    return {
        "workspace": ws,
        "key": key,
        "identity": ident,
        "contact": person,
        "campaign": campaign,
        "step": steps[0],
        "lead": lead,
        "activity": act,
        "task": task,
        **await settings_rows(ws, "hank@globex.com"),
    }


@pytest.fixture
async def mine(workspace: Any) -> dict[str, Any]:
    ws, _ = workspace
    person = await f.contact(ws, "Ada", "Lovelace")
    campaign, steps = await f.campaign(ws, "Acme launch", CampaignStatus.ACTIVE, [StepType.TASK])
    (lead,) = await f.leads(campaign, [person])
    return {"campaign": campaign, "lead": lead, "step": steps[0], "contact": person}


async def test_viewer_is_only_ever_the_keys_workspace(gql: GraphQLClient, theirs: dict[str, Any]) -> None:
    # given Globex exists, when Acme asks for its viewer, then it gets Acme and nothing of Globex
    data = await gql("{ viewer { id name } }")
    assert data["viewer"]["name"] == "Acme"
    assert data["viewer"]["id"] != f.gid(theirs["workspace"])


@pytest.mark.parametrize("name", NODE_ROWS.values())
async def test_node_of_another_workspace_is_null(gql: GraphQLClient, theirs: dict[str, Any], name: str) -> None:
    # given a Globex object's ID, when Acme asks node(id), then it is null, exactly like a missing ID
    row = theirs[name]
    data = await gql("query($id: ID!) { node(id: $id) { id __typename } }", {"id": f.gid(row)})
    assert data["node"] is None
    # ...and Globex itself finds it (the ID is a real one, not merely a missing row)
    own = await gql.as_key(theirs["key"])("query($id: ID!) { node(id: $id) { id } }", {"id": f.gid(row)})
    assert own["node"] == {"id": f.gid(row)}


async def test_node_finds_every_type_of_ones_own(gql: GraphQLClient, workspace: Any, mine: dict[str, Any]) -> None:
    # given Acme's own objects of every type, when Acme asks node(id), then each comes back with its type
    ws, _ = workspace
    ident = await f.identity(ws)
    act = await f.activity(mine["lead"], ActivityKind.TASK_CREATED, datetime(2026, 1, 1, tzinfo=UTC))
    task = await f.task(mine["lead"], mine["step"])
    rows = [ws, ident, mine["contact"], mine["campaign"], mine["step"], mine["lead"], act, task]
    rows += (await settings_rows(ws, "blocked.example.com")).values()
    assert {type(row).__name__ for row in rows} == set(NODE_ROWS)
    for row in rows:
        data = await gql("query($id: ID!) { node(id: $id) { id __typename } }", {"id": f.gid(row)})
        assert data["node"] == {"id": f.gid(row), "__typename": type(row).__name__}


async def test_campaigns_lists_only_ones_own(gql: GraphQLClient, theirs: dict[str, Any], mine: dict[str, Any]) -> None:
    data = await gql(
        "{ campaigns(filter: {statuses: [DRAFT, ACTIVE, PAUSED, ARCHIVED]}) { totalCount nodes { name } } }"
    )
    assert data["campaigns"] == {"totalCount": 1, "nodes": [{"name": "Acme launch"}]}


async def test_campaign_of_another_workspace_is_null(gql: GraphQLClient, theirs: dict[str, Any]) -> None:
    data = await gql("query($id: ID!) { campaign(id: $id) { name } }", {"id": f.gid(theirs["campaign"])})
    assert data["campaign"] is None


async def test_lead_of_another_workspace_is_null(gql: GraphQLClient, theirs: dict[str, Any]) -> None:
    data = await gql("query($id: ID!) { lead(id: $id) { status } }", {"id": f.gid(theirs["lead"])})
    assert data["lead"] is None


async def test_identities_lists_only_ones_own(gql: GraphQLClient, workspace: Any, theirs: dict[str, Any]) -> None:
    await f.identity(workspace[0], "Acme sender")
    data = await gql("{ identities { name } }")
    assert data["identities"] == [{"name": "Acme sender"}]


async def test_contacts_lists_only_ones_own(gql: GraphQLClient, theirs: dict[str, Any], mine: dict[str, Any]) -> None:
    everyone = await gql("{ contacts { totalCount nodes { fullName } } }")
    assert everyone["contacts"] == {"totalCount": 1, "nodes": [{"fullName": "Ada Lovelace"}]}
    searched = await gql('{ contacts(search: "globex") { totalCount nodes { fullName } } }')
    assert searched["contacts"] == {"totalCount": 0, "nodes": []}


async def test_filters_naming_another_workspaces_ids_match_nothing(
    gql: GraphQLClient, theirs: dict[str, Any], mine: dict[str, Any]
) -> None:
    # given Acme's campaign, when its audience/activity is filtered by Globex IDs, then nothing matches
    variables = {
        "id": f.gid(mine["campaign"]),
        "step": f.gid(theirs["step"]),
        "lead": f.gid(theirs["lead"]),
        "contact": f.gid(theirs["contact"]),
    }
    data = await gql(
        """query($id: ID!, $step: ID!, $lead: ID!, $contact: ID!) { campaign(id: $id) {
            audience(filter: {stepId: $step}) { totalCount nodes { id } }
            byStep: activity(filter: {stepId: $step}) { totalCount nodes { id } }
            byLead: activity(filter: {leadId: $lead}) { totalCount nodes { id } }
            byContact: activity(filter: {contactId: $contact}) { totalCount nodes { id } }
        } }""",
        variables,
    )
    for connection in data["campaign"].values():
        assert connection == {"totalCount": 0, "nodes": []}


async def test_wrong_type_and_malformed_ids_look_missing(gql: GraphQLClient, mine: dict[str, Any]) -> None:
    # given a real Lead ID passed as a campaign ID, or garbage, then the answer is null, never an error
    lead_id = f.gid(mine["lead"])
    for bad in [lead_id, "not-an-id", "", "Q2FtcGFpZ246eA", to_global_id("Campaign", 10**17)]:
        data = await gql(
            "query($id: ID!) { campaign(id: $id) { id } lead(id: $id) { id } node(id: $id) { id } }", {"id": bad}
        )
        assert data["campaign"] is None
        if bad != lead_id:
            assert data["lead"] is None and data["node"] is None
