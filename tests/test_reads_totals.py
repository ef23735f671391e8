"""Every list's `totalCount` is the number of rows its pages list, whatever the filter: a page and its count
come from one filter (resolvers/reads.py), or from counters that count exactly those rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.enums import ActivityKind, CampaignStatus, Channel, LeadStatus, LeadSubstatus, StepType, TaskStatus
from tests import factories as f
from tests.conftest import GraphQLClient

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


async def walk(gql: GraphQLClient, query: str, path: tuple[str, ...], **variables: Any) -> tuple[list[int], list[str]]:
    """Every page, two rows at a time: (the totalCount each page reported, every node's id)."""
    totals: list[int] = []
    ids: list[str] = []
    after = None
    while True:
        data: Any = await gql(query, {**variables, "after": after})
        for key in path:
            data = data[key]
        totals.append(data["totalCount"])
        ids += [n["id"] for n in data["nodes"]]
        if not data["pageInfo"]["hasNextPage"]:
            return totals, ids
        after = data["pageInfo"]["endCursor"]


def agree(totals: list[int], ids: list[str]) -> int:
    assert len(set(ids)) == len(ids), "a row listed twice"
    assert set(totals) == {len(ids)}, f"totalCount {totals} but {len(ids)} rows listed"
    return len(ids)


@pytest.fixture
async def running(workspace: Any) -> dict[str, Any]:
    """A campaign of 9 leads (one removed) at three steps, with activity and tasks."""
    ws, _ = workspace
    campaign, steps = await f.campaign(
        ws, "Totals", CampaignStatus.ACTIVE, [StepType.LINKEDIN_VISIT_PROFILE, StepType.EMAIL, StepType.TASK]
    )
    people = [await f.contact(ws, f"Ada{i}", "Lovelace" if i % 2 else "Hopper", company="Acme") for i in range(9)]
    leads = await f.leads(campaign, people)
    for i, lead in enumerate(leads[:7]):
        substatus = LeadSubstatus.SCHEDULED if i % 2 else LeadSubstatus.WAITING_FOR_TASK
        leads[i] = await f.change(
            lead, status=LeadStatus.IN_PROGRESS, substatus=substatus, current_step_id=steps[i % 3].id
        )
        await f.activity(
            leads[i], ActivityKind.PROFILE_VISITED, T0 + timedelta(hours=i), step=steps[0], channel=Channel.LINKEDIN
        )
        if i % 3 == 1:
            await f.activity(
                leads[i], ActivityKind.EMAIL_SENT, T0 + timedelta(days=1, hours=i), step=steps[1], channel=Channel.EMAIL
            )
        await f.task(leads[i], steps[2], TaskStatus.COMPLETED if i % 3 == 0 else TaskStatus.PENDING)
    await f.remove(leads[3])  # its task leaves the list and the count; its activity stays
    return {"campaign": campaign, "steps": steps, "leads": leads}


AUDIENCE = """query($id: ID!, $filter: AudienceFilter, $after: String) { campaign(id: $id) {
    audience(filter: $filter, first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor }
    nodes { id } } } }"""
ACTIVITY = """query($id: ID!, $filter: ActivityFilter, $after: String) { campaign(id: $id) {
    activity(filter: $filter, first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor }
    nodes { id } } } }"""
TASKS = """query($id: ID!, $status: TaskStatus, $after: String) { campaign(id: $id) {
    tasks(status: $status, first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor }
    nodes { id } } } }"""


async def test_audience_rows_and_total_agree_for_every_filter(gql: GraphQLClient, running: dict[str, Any]) -> None:
    cid, (visit, email, _task) = f.gid(running["campaign"]), running["steps"]
    filters: list[tuple[dict[str, Any] | None, int]] = [
        (None, 8),
        ({"status": "IN_PROGRESS"}, 6),
        ({"substatus": "SCHEDULED"}, 2),
        ({"stepId": f.gid(visit)}, 2),  # lead 3 was removed
        ({"status": "IN_PROGRESS", "stepId": f.gid(email)}, 2),  # no counter holds this one: counted rows
        ({"status": "NOT_STARTED", "substatus": "SCHEDULED"}, 0),
        ({"search": "lovelace"}, 3),
        ({"search": "ada acme", "status": "IN_PROGRESS"}, 6),
        ({"search": "hopper", "stepId": f.gid(visit)}, 2),
    ]
    for filter, expected in filters:
        assert agree(*await walk(gql, AUDIENCE, ("campaign", "audience"), id=cid, filter=filter)) == expected, filter


async def test_activity_rows_and_total_agree_for_every_filter(gql: GraphQLClient, running: dict[str, Any]) -> None:
    cid, (visit, email, _task) = f.gid(running["campaign"]), running["steps"]
    removed = running["leads"][3]
    filters: list[tuple[dict[str, Any] | None, int]] = [
        (None, 9),
        ({"kinds": ["EMAIL_SENT"]}, 2),
        ({"stepId": f.gid(visit)}, 7),
        ({"leadId": f.gid(removed)}, 1),
        ({"from": (T0 + timedelta(hours=2)).isoformat(), "to": (T0 + timedelta(days=1)).isoformat()}, 5),
        ({"kinds": ["PROFILE_VISITED"], "stepId": f.gid(email)}, 0),
    ]
    for filter, expected in filters:
        assert agree(*await walk(gql, ACTIVITY, ("campaign", "activity"), id=cid, filter=filter)) == expected, filter


async def test_task_rows_and_total_agree_for_every_status(gql: GraphQLClient, running: dict[str, Any]) -> None:
    cid = f.gid(running["campaign"])
    for status, expected in ((None, 6), ("PENDING", 4), ("COMPLETED", 2)):
        assert agree(*await walk(gql, TASKS, ("campaign", "tasks"), id=cid, status=status)) == expected, status


CAMPAIGNS = """query($filter: CampaignFilter, $after: String) { campaigns(filter: $filter, first: 2, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { id } } }"""
CONTACTS = """query($search: String, $after: String) { contacts(search: $search, first: 2, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { id } } }"""


async def test_campaign_and_contact_rows_and_totals_agree(gql: GraphQLClient, running: dict[str, Any]) -> None:
    ws = running["campaign"].workspace_id
    from models import Workspace

    workspace = await Workspace.get(id=ws)
    for i, status in enumerate([CampaignStatus.DRAFT, CampaignStatus.ARCHIVED, CampaignStatus.PAUSED] * 2):
        await f.campaign(workspace, f"Spring {i}", status)
    for filter, expected in (
        (None, 5),
        ({"statuses": ["ARCHIVED"]}, 2),
        ({"statuses": ["DRAFT", "ACTIVE"]}, 3),
        ({"search": "spring"}, 4),
        ({"search": "100%"}, 0),
    ):
        assert agree(*await walk(gql, CAMPAIGNS, ("campaigns",), filter=filter)) == expected, filter
    for search, expected in ((None, 9), ("lovelace", 4), ("ADA1", 1), ("acme hopper", 5), ("a_a", 0)):
        assert agree(*await walk(gql, CONTACTS, ("contacts",), search=search)) == expected, search
