"""Relations prefetched by the page resolvers (resolvers/prefetch.py) answer exactly what the dataloaders answer.

The same objects are read two ways: through a page or `lead(id)` (prefetched onto the rows) and through
`node(id)` (not prefetched: each relation falls back to its dataloader). Both must agree, whatever the
selection asks for: nothing, aliases, fragments, `edges { node }`, relations of relations.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.enums import ActivityKind, CampaignStatus, Channel, LeadStatus, StepType
from tests import factories as f
from tests.conftest import GraphQLClient
from tests.test_reads_audience import counting_queries

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

STEP = "step { id position type }"
LEAD = "lead { id status contact { fullName email } currentStep { id type } campaign { name } }"
ACTIVITY_FIELDS = f"id kind detail contact {{ fullName }} {STEP} {LEAD}"
TASK_FIELDS = f"id title {STEP} {LEAD}"
PANEL_FIELDS = f"""id status contact {{ fullName email }} currentStep {{ id position }} campaign {{ name }}
    error {{ substatus }} timeline {{ id kind {STEP} contact {{ fullName }} lead {{ id }} }}"""


@pytest.fixture
async def world(workspace: Any) -> dict[str, Any]:
    """Three leads (one at no step), activities with and without a step, and tasks with and without one."""
    ws, _ = workspace
    campaign, (visit, email) = await f.campaign(
        ws, "Prefetch", CampaignStatus.ACTIVE, [StepType.LINKEDIN_VISIT_PROFILE, StepType.EMAIL]
    )
    people = [await f.contact(ws, "Ada", "Lovelace", email="ada@example.com"), await f.contact(ws, "Bob", "Byte")]
    people.append(await f.contact(ws, "Cy", "Clone", email="cy@example.com"))
    ada, bob, cy = await f.leads(campaign, people)
    await f.change(ada, status=LeadStatus.IN_PROGRESS, current_step_id=email.id)
    await f.change(bob, status=LeadStatus.IN_PROGRESS, current_step_id=visit.id)
    li, em = Channel.LINKEDIN, Channel.EMAIL
    for i, lead in enumerate((ada, bob, ada, cy)):
        await f.activity(lead, ActivityKind.PROFILE_VISITED, T0 + timedelta(hours=i), step=visit, channel=li)
    await f.activity(ada, ActivityKind.REPLY_RECEIVED, T0 + timedelta(days=1), channel=em, detail="Sure!")
    tasks = [await f.task(ada, email), await f.task(bob, None)]
    return {"campaign": campaign, "leads": (ada, bob, cy), "tasks": tasks}


def lead_columns_read(statements: list[str]) -> set[str]:
    """The columns the first statement reading the lead table selects."""
    query = next(s for s in statements if 'FROM "lead"' in s)
    return set(re.findall(r'"(\w+)"', query.split("FROM")[0]))


async def by_node(gql: GraphQLClient, ids: list[str], type_name: str, fields: str) -> list[dict[str, Any]]:
    """The same objects read one by one through `node(id)`: no prefetch, every relation from its dataloader."""
    out = []
    for gid in ids:
        data = await gql(f"query($id: ID!) {{ node(id: $id) {{ ... on {type_name} {{ {fields} }} }} }}", {"id": gid})
        out.append(data["node"])
    return out


async def test_activity_page_relations_match_the_loader_path(gql: GraphQLClient, world: dict[str, Any]) -> None:
    data = await gql(
        f"query($id: ID!) {{ campaign(id: $id) {{ activity {{ nodes {{ {ACTIVITY_FIELDS} }} }} }} }}",
        {"id": f.gid(world["campaign"])},
    )
    nodes = data["campaign"]["activity"]["nodes"]
    assert len(nodes) == 5
    assert any(n["step"] is None for n in nodes) and any(n["lead"]["currentStep"] is None for n in nodes)
    assert nodes == await by_node(gql, [n["id"] for n in nodes], "Activity", ACTIVITY_FIELDS)


async def test_task_page_relations_match_the_loader_path(gql: GraphQLClient, world: dict[str, Any]) -> None:
    data = await gql(
        f"query($id: ID!) {{ campaign(id: $id) {{ tasks {{ nodes {{ {TASK_FIELDS} }} }} }} }}",
        {"id": f.gid(world["campaign"])},
    )
    nodes = data["campaign"]["tasks"]["nodes"]
    assert [n["step"] is None for n in nodes] == [False, True]
    assert nodes == await by_node(gql, [n["id"] for n in nodes], "Task", TASK_FIELDS)


async def test_side_panel_matches_the_loader_path(gql: GraphQLClient, world: dict[str, Any]) -> None:
    ada = f.gid(world["leads"][0])
    data = await gql(f"query($id: ID!) {{ lead(id: $id) {{ {PANEL_FIELDS} }} }}", {"id": ada})
    panel = data["lead"]
    assert [e["kind"] for e in panel["timeline"]] == ["PROFILE_VISITED", "PROFILE_VISITED", "REPLY_RECEIVED"]
    assert panel["timeline"][-1]["step"] is None and panel["currentStep"]["position"] == 2
    assert [panel] == await by_node(gql, [ada], "Lead", PANEL_FIELDS)


async def test_side_panel_reads_its_relations_in_one_round(gql: GraphQLClient, world: dict[str, Any]) -> None:
    await gql("{ viewer { id } }")  # the API key lookup is cached from here on
    with counting_queries() as counter:
        await gql(f"query($id: ID!) {{ lead(id: $id) {{ {PANEL_FIELDS} }} }}", {"id": f.gid(world["leads"][0])})
    # the lead, then contact, steps (the campaign's sequence: also the timeline's steps), campaign, timeline
    assert len(counter.statements) <= 5, counter.statements


async def test_aliases_fragments_and_edges_are_prefetched_too(gql: GraphQLClient, world: dict[str, Any]) -> None:
    data = await gql(
        """query($id: ID!) { campaign(id: $id) { audience {
            edges { node { id who: contact { fullName } ...Step } }
            nodes { id ... on Lead { contact { email } } mail: contact { email } }
        } } }
        fragment Step on Lead { currentStep { position } }""",
        {"id": f.gid(world["campaign"])},
    )
    page = data["campaign"]["audience"]
    assert [e["node"]["who"]["fullName"] for e in page["edges"]] == ["Ada Lovelace", "Bob Byte", "Cy Clone"]
    assert [e["node"]["currentStep"] for e in page["edges"]] == [{"position": 2}, {"position": 1}, None]
    assert [n["contact"]["email"] for n in page["nodes"]] == ["ada@example.com", None, "cy@example.com"]
    assert [n["mail"] for n in page["nodes"]] == [n["contact"] for n in page["nodes"]]


async def test_a_page_that_asks_for_no_relation_reads_none(gql: GraphQLClient, world: dict[str, Any]) -> None:
    await gql("{ viewer { id } }")
    query = "query($id: ID!) { campaign(id: $id) { audience { nodes { id status } } } }"
    with counting_queries() as counter:
        data = await gql(query, {"id": f.gid(world["campaign"])})
    assert [n["status"] for n in data["campaign"]["audience"]["nodes"]] == ["IN_PROGRESS", "IN_PROGRESS", "NOT_STARTED"]
    assert len(counter.statements) == 2, counter.statements  # the campaign and the page


@pytest.mark.parametrize(
    ("fields", "lead_columns"),
    [
        # Plain columns and relations' keys: only those are read.
        ("lead { id status substatus positive }", {"id", "status", "substatus", "positive"}),
        (
            "lead { id contact { email } currentStep { position } }",
            {"id", "contact_id", "campaign_id", "current_step_id"},
        ),
        # A field with a resolver (error) may read anything: the whole row is read.
        ("lead { id error { message } }", None),
        # fullName is a property of the contact, not a column: the whole contact, the lead's key only.
        ("lead { __typename contact { fullName } }", {"id", "contact_id"}),
    ],
)
async def test_related_rows_read_only_the_columns_the_selection_needs(
    gql: GraphQLClient, world: dict[str, Any], fields: str, lead_columns: set[str] | None
) -> None:
    await gql("{ viewer { id } }")
    query = f"query($id: ID!) {{ campaign(id: $id) {{ activity {{ nodes {{ id {fields} }} }} }} }}"
    with counting_queries() as counter:
        data = await gql(query, {"id": f.gid(world["campaign"])})
    nodes = data["campaign"]["activity"]["nodes"]
    assert nodes == await by_node(gql, [n["id"] for n in nodes], "Activity", f"id {fields}")
    read = lead_columns_read(counter.statements)
    if lead_columns is None:
        assert {"error_message", "error_hint", "status", "contact_id"} <= read
    else:
        assert read == lead_columns


@pytest.mark.parametrize(
    ("fields", "columns"),
    [
        ("id status nextActionAt", {"id", "status", "next_action_at"}),
        ("id contact { email } currentStep { position }", {"id", "contact_id", "campaign_id", "current_step_id"}),
        ("id error { message } startedAt", None),
    ],
)
async def test_an_audience_page_reads_only_the_lead_columns_it_shows(
    gql: GraphQLClient, world: dict[str, Any], fields: str, columns: set[str] | None
) -> None:
    await gql("{ viewer { id } }")
    query = f"query($id: ID!) {{ campaign(id: $id) {{ audience {{ nodes {{ {fields} }} }} }} }}"
    with counting_queries() as counter:
        data = await gql(query, {"id": f.gid(world["campaign"])})
    nodes = data["campaign"]["audience"]["nodes"]
    assert len(nodes) == 3
    assert nodes == await by_node(gql, [n["id"] for n in nodes], "Lead", fields)
    read = lead_columns_read(counter.statements)
    assert read == columns if columns is not None else {"error_message", "started_at", "status"} <= read
