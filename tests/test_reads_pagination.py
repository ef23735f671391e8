"""Keyset pagination: walking every page, cursors, the `first` cap, and clear errors for bad input."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.enums import ActivityKind, CampaignStatus, StepType, TaskStatus
from resolvers.pagination import encode_cursor
from tests import factories as f
from tests.conftest import GraphQLClient

PAGE = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } totalCount edges { cursor node { id } }"

AUDIENCE = f"""query($id: ID!, $first: Int, $after: String) {{ campaign(id: $id) {{
    audience(first: $first, after: $after) {{ {PAGE} }} }} }}"""
ACTIVITY = f"""query($id: ID!, $first: Int, $after: String) {{ campaign(id: $id) {{
    activity(first: $first, after: $after) {{ {PAGE} }} }} }}"""
TASKS = f"""query($id: ID!, $first: Int, $after: String) {{ campaign(id: $id) {{
    tasks(first: $first, after: $after) {{ {PAGE} }} }} }}"""
CAMPAIGNS = f"query($first: Int, $after: String) {{ campaigns(first: $first, after: $after) {{ {PAGE} }} }}"
CONTACTS = f"query($first: Int, $after: String) {{ contacts(first: $first, after: $after) {{ {PAGE} }} }}"


async def walk(gql: GraphQLClient, query: str, path: list[str], first: int, **variables: Any) -> list[list[str]]:
    """Every page of a connection, following endCursor; returns the node IDs page by page."""
    pages: list[list[str]] = []
    after = None
    while True:
        data = await gql(query, {**variables, "first": first, "after": after})
        for key in path:
            data = data[key]
        ids = [e["node"]["id"] for e in data["edges"]]
        assert data["pageInfo"]["hasPreviousPage"] is (after is not None)
        if ids:
            assert data["pageInfo"]["startCursor"] == data["edges"][0]["cursor"]
            assert data["pageInfo"]["endCursor"] == data["edges"][-1]["cursor"]
        pages.append(ids)
        if not data["pageInfo"]["hasNextPage"]:
            return pages
        after = data["pageInfo"]["endCursor"]
        assert len(pages) < 100, "pagination does not end"


def flat(pages: list[list[str]]) -> list[str]:
    return [node for page in pages for node in page]


@pytest.fixture
async def big(workspace: Any) -> dict[str, Any]:
    """A campaign with 23 leads, 23 activities (some at the same instant) and 23 tasks."""
    ws, _ = workspace
    campaign, steps = await f.campaign(ws, "Big", CampaignStatus.ACTIVE, [StepType.EMAIL, StepType.TASK])
    leads = await f.leads(campaign, await f.contacts(ws, 23))
    base = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    activities = [
        # Three share each instant: the id breaks the tie, and no page boundary loses or repeats one.
        await f.activity(lead, ActivityKind.EMAIL_SENT, base + timedelta(minutes=i // 3), step=steps[0])
        for i, lead in enumerate(leads)
    ]
    tasks = [await f.task(lead, steps[1]) for lead in leads]
    return {"campaign": campaign, "leads": leads, "activities": activities, "tasks": tasks}


async def test_audience_pages_walk_every_lead_once_oldest_first(gql: GraphQLClient, big: dict[str, Any]) -> None:
    pages = await walk(gql, AUDIENCE, ["campaign", "audience"], 10, id=f.gid(big["campaign"]))
    assert [len(p) for p in pages] == [10, 10, 3]
    assert flat(pages) == [f.gid(lead) for lead in big["leads"]]


async def test_activity_pages_walk_newest_first_through_ties(gql: GraphQLClient, big: dict[str, Any]) -> None:
    pages = await walk(gql, ACTIVITY, ["campaign", "activity"], 4, id=f.gid(big["campaign"]))
    expected = sorted(big["activities"], key=lambda a: (a.occurred_at, a.id), reverse=True)
    assert flat(pages) == [f.gid(a) for a in expected]
    assert [len(p) for p in pages] == [4, 4, 4, 4, 4, 3]


async def test_tasks_pages_walk_every_task_once(gql: GraphQLClient, big: dict[str, Any]) -> None:
    pages = await walk(gql, TASKS, ["campaign", "tasks"], 7, id=f.gid(big["campaign"]))
    assert flat(pages) == [f.gid(t) for t in big["tasks"]]


async def test_campaigns_pages_walk_newest_first(gql: GraphQLClient, workspace: Any) -> None:
    made = [(await f.campaign(workspace[0], f"C{i}"))[0] for i in range(5)]
    pages = await walk(gql, CAMPAIGNS, ["campaigns"], 2)
    assert flat(pages) == [f.gid(c) for c in reversed(made)]


async def test_contacts_pages_walk_oldest_first(gql: GraphQLClient, workspace: Any) -> None:
    made = await f.contacts(workspace[0], 7)
    pages = await walk(gql, CONTACTS, ["contacts"], 3)
    assert flat(pages) == [f.gid(c) for c in made]


async def test_total_count_is_the_whole_list_not_the_page(gql: GraphQLClient, big: dict[str, Any]) -> None:
    data = await gql(
        """query($id: ID!) { campaign(id: $id) {
            audience(first: 1) { totalCount } activity(first: 1) { totalCount } tasks(first: 1) { totalCount }
            pending: tasks(status: PENDING, first: 1) { totalCount } done: tasks(status: COMPLETED) { totalCount }
        } }""",
        {"id": f.gid(big["campaign"])},
    )
    assert {k: v["totalCount"] for k, v in data["campaign"].items()} == {
        "audience": 23,
        "activity": 23,
        "tasks": 23,
        "pending": 23,
        "done": 0,
    }


async def test_defaults_and_first_zero(gql: GraphQLClient, big: dict[str, Any]) -> None:
    # given 23 leads, when no `first` is passed the default (50) applies; first: 0 gives an empty page
    data = await gql(AUDIENCE, {"id": f.gid(big["campaign"])})
    assert len(data["campaign"]["audience"]["edges"]) == 23
    assert data["campaign"]["audience"]["pageInfo"]["hasNextPage"] is False
    data = await gql(AUDIENCE, {"id": f.gid(big["campaign"]), "first": 0})
    page = data["campaign"]["audience"]
    assert page["edges"] == [] and page["pageInfo"]["hasNextPage"] is True and page["totalCount"] == 23


async def test_first_may_be_100_but_not_more_nor_negative(gql: GraphQLClient, big: dict[str, Any]) -> None:
    ok = await gql(AUDIENCE, {"id": f.gid(big["campaign"]), "first": 100})
    assert len(ok["campaign"]["audience"]["edges"]) == 23
    for query, variables in [
        (AUDIENCE, {"id": f.gid(big["campaign"])}),
        (ACTIVITY, {"id": f.gid(big["campaign"])}),
        (TASKS, {"id": f.gid(big["campaign"])}),
        (CAMPAIGNS, {}),
        (CONTACTS, {}),
    ]:
        for first, says in [(101, "at most 100"), (-1, "0 or more")]:
            body = (await gql.post(query, {**variables, "first": first})).json()
            assert len(body["errors"]) == 1
            assert "`first`" in body["errors"][0]["message"] and says in body["errors"][0]["message"]
            assert "Internal server error" not in body["errors"][0]["message"]


async def test_bad_cursors_are_clear_errors(gql: GraphQLClient, big: dict[str, Any]) -> None:
    # given cursors that are not one of this list's, then each is a top-level error that says so
    campaign_id = f.gid(big["campaign"])
    lead_page = await gql(AUDIENCE, {"id": campaign_id, "first": 1})
    lead_cursor = lead_page["campaign"]["audience"]["pageInfo"]["endCursor"]
    activity_page = await gql(ACTIVITY, {"id": campaign_id, "first": 1})
    activity_cursor = activity_page["campaign"]["activity"]["pageInfo"]["endCursor"]
    malformed = [
        "garbage",
        "!!!",
        encode_cursor("Lead"),
        encode_cursor("Lead", "12"),
        encode_cursor("Activity", "not a date", 1),
        encode_cursor("Activity", "2026-01-01T00:00:00", 1),  # no offset
        lead_cursor + "x",
    ]
    cases = [(AUDIENCE, c) for c in [*malformed, activity_cursor]]
    cases += [(ACTIVITY, c) for c in [*malformed, lead_cursor]]
    cases += [(TASKS, c) for c in [lead_cursor, activity_cursor]]
    for query, cursor in cases:
        body = (await gql.post(query, {"id": campaign_id, "after": cursor})).json()
        assert len(body["errors"]) == 1, cursor
        assert "`after` is not a valid cursor" in body["errors"][0]["message"], cursor
    for query in (CAMPAIGNS, CONTACTS):
        body = (await gql.post(query, {"after": lead_cursor})).json()
        assert "`after` is not a valid cursor" in body["errors"][0]["message"]


async def test_a_cursor_still_works_after_new_rows_arrive(gql: GraphQLClient, big: dict[str, Any]) -> None:
    # given page one's endCursor, when more activity is recorded, then page two continues where it was
    campaign_id = f.gid(big["campaign"])
    first_page = await gql(ACTIVITY, {"id": campaign_id, "first": 5})
    cursor = first_page["campaign"]["activity"]["pageInfo"]["endCursor"]
    await f.activity(big["leads"][0], ActivityKind.EMAIL_CLICKED, datetime(2026, 12, 1, tzinfo=UTC))
    second = await gql(ACTIVITY, {"id": campaign_id, "first": 5, "after": cursor})
    seen = [e["node"]["id"] for e in first_page["campaign"]["activity"]["edges"]]
    expected = sorted(big["activities"], key=lambda a: (a.occurred_at, a.id), reverse=True)
    assert seen + [e["node"]["id"] for e in second["campaign"]["activity"]["edges"]] == [
        f.gid(a) for a in expected[:10]
    ]


async def test_completed_tasks_filter(gql: GraphQLClient, big: dict[str, Any]) -> None:
    done = await f.task(big["leads"][0], status=TaskStatus.COMPLETED, title="Done already")
    data = await gql(
        "query($id: ID!) { campaign(id: $id) { tasks(status: COMPLETED) { totalCount nodes { id title status } } } }",
        {"id": f.gid(big["campaign"])},
    )
    assert data["campaign"]["tasks"] == {
        "totalCount": 1,
        "nodes": [{"id": f.gid(done), "title": "Done already", "status": "COMPLETED"}],
    }


async def test_a_deep_page_is_one_keyset_query_like_page_one(gql: GraphQLClient, big: dict[str, Any]) -> None:
    # given the cursor of a late page, when it is read, then it costs the same statements as page one,
    # and none of them skips rows with OFFSET: the cursor's sort key is in the WHERE clause
    from tests.test_reads_audience import counting_queries

    campaign_id = f.gid(big["campaign"])
    pages = await walk(gql, ACTIVITY, ["campaign", "activity"], 5, id=campaign_id)
    data = await gql(ACTIVITY, {"id": campaign_id, "first": 5})
    after = data["campaign"]["activity"]["pageInfo"]["endCursor"]
    for _ in range(len(pages) - 2):
        data = await gql(ACTIVITY, {"id": campaign_id, "first": 5, "after": after})
        after = data["campaign"]["activity"]["pageInfo"]["endCursor"]
    statements = {}
    for name, cursor in (("first", None), ("deep", after)):
        with counting_queries() as counter:
            await gql(ACTIVITY, {"id": campaign_id, "first": 5, "after": cursor})
        statements[name] = counter.statements
    assert len(statements["deep"]) == len(statements["first"])
    assert not any("OFFSET" in s.upper() for s in statements["deep"])
    page_query = next(s for s in statements["deep"] if 'FROM "activity"' in s)
    assert re.search(r'"occurred_at"\s*<=', page_query) and "LIMIT" in page_query


async def test_tasks_of_removed_leads_are_left_out(gql: GraphQLClient, big: dict[str, Any]) -> None:
    # given a lead with a task is removed, then its task leaves the list and the count (as in the Overview)
    await f.remove(big["leads"][0])
    data = await gql(
        """query($id: ID!) { campaign(id: $id) {
            tasks(first: 100) { totalCount nodes { id } } stats { tasks { pending } } } }""",
        {"id": f.gid(big["campaign"])},
    )
    tasks = data["campaign"]["tasks"]
    assert tasks["totalCount"] == len(tasks["nodes"]) == 22 == data["campaign"]["stats"]["tasks"]["pending"]
    assert f.gid(big["tasks"][0]) not in [n["id"] for n in tasks["nodes"]]
