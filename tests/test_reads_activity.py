"""The Activity tab and the lead's timeline: filters, order, and what each entry shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from models.enums import ActivityKind, CampaignStatus, Channel, LeadStatus, StepType
from tests import factories as f
from tests.conftest import GraphQLClient

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
ACTIVITY = """query($id: ID!, $filter: ActivityFilter) { campaign(id: $id) {
    activity(filter: $filter) { totalCount nodes { id kind } } } }"""


@pytest.fixture
async def log(workspace: Any) -> dict[str, Any]:
    """Two leads' activity over four days, across two steps."""
    ws, _ = workspace
    campaign, (visit, email) = await f.campaign(
        ws, "Log", CampaignStatus.ACTIVE, [StepType.LINKEDIN_VISIT_PROFILE, StepType.EMAIL]
    )
    ada_contact = await f.contact(ws, "Ada", "Lovelace", email="ada@example.com")
    ada, bob = await f.leads(campaign, [ada_contact, await f.contact(ws, "Bob", "Byte", email="bob@example.com")])
    li, em = Channel.LINKEDIN, Channel.EMAIL
    entries = [
        await f.activity(ada, ActivityKind.PROFILE_VISITED, T0, step=visit, channel=li),
        await f.activity(bob, ActivityKind.PROFILE_VISITED, T0 + timedelta(hours=1), step=visit, channel=li),
        await f.activity(ada, ActivityKind.EMAIL_SENT, T0 + timedelta(days=1), step=email, channel=em, detail="Hi"),
        await f.activity(bob, ActivityKind.EMAIL_SENT, T0 + timedelta(days=1), step=email, channel=em),
        await f.activity(ada, ActivityKind.REPLY_RECEIVED, T0 + timedelta(days=2), channel=em, detail="Sure!"),
        await f.activity(bob, ActivityKind.EMAIL_BOUNCED, T0 + timedelta(days=3), step=email, channel=em),
    ]
    return {
        "campaign": campaign,
        "steps": (visit, email),
        "ada": ada,
        "bob": bob,
        "ada_contact": ada_contact,
        "entries": entries,
    }


async def activity(gql: GraphQLClient, log: dict[str, Any], **filter: Any) -> tuple[int, list[str]]:
    """(totalCount, the entries' IDs as listed)."""
    data = await gql(ACTIVITY, {"id": f.gid(log["campaign"]), "filter": filter or None})
    page = data["campaign"]["activity"]
    return page["totalCount"], [n["id"] for n in page["nodes"]]


def ids(log: dict[str, Any], *indexes: int) -> list[str]:
    return [f.gid(log["entries"][i]) for i in indexes]


async def test_activity_is_newest_first_with_ties_broken_by_id(gql: GraphQLClient, log: dict[str, Any]) -> None:
    # entries 2 and 3 happened at the same instant: the later-recorded one comes first
    assert await activity(gql, log) == (6, ids(log, 5, 4, 3, 2, 1, 0))


async def test_filter_by_step_lead_and_contact(gql: GraphQLClient, log: dict[str, Any]) -> None:
    visit, email = log["steps"]
    assert await activity(gql, log, stepId=f.gid(visit)) == (2, ids(log, 1, 0))
    assert await activity(gql, log, stepId=f.gid(email)) == (3, ids(log, 5, 3, 2))
    assert await activity(gql, log, leadId=f.gid(log["ada"])) == (3, ids(log, 4, 2, 0))
    assert await activity(gql, log, contactId=f.gid(log["ada_contact"])) == (3, ids(log, 4, 2, 0))
    assert await activity(gql, log, leadId=f.gid(log["ada"]), stepId=f.gid(email)) == (1, ids(log, 2))
    assert await activity(gql, log, leadId="garbage") == (0, [])
    assert await activity(gql, log, leadId=f.gid(log["campaign"])) == (0, [])  # an ID of another type


async def test_filter_by_kinds(gql: GraphQLClient, log: dict[str, Any]) -> None:
    assert await activity(gql, log, kinds=["EMAIL_SENT"]) == (2, ids(log, 3, 2))
    assert await activity(gql, log, kinds=["REPLY_RECEIVED", "EMAIL_BOUNCED"]) == (2, ids(log, 5, 4))
    assert await activity(gql, log, kinds=["TASK_CREATED"]) == (0, [])
    assert await activity(gql, log, kinds=[]) == (0, [])


async def test_date_range_is_from_inclusive_to_exclusive(gql: GraphQLClient, log: dict[str, Any]) -> None:
    day1 = (T0 + timedelta(days=1)).isoformat()
    day2 = (T0 + timedelta(days=2)).isoformat()
    # from is inclusive: the two entries at exactly day1 are in; to is exclusive: the one at day2 is out
    assert await activity(gql, log, **{"from": day1, "to": day2}) == (2, ids(log, 3, 2))
    assert await activity(gql, log, **{"from": day2}) == (2, ids(log, 5, 4))
    assert await activity(gql, log, to=day1) == (2, ids(log, 1, 0))
    # any offset and "Z" are accepted and mean the same instant
    madrid = (T0 + timedelta(days=1)).astimezone(timezone(timedelta(hours=1)))
    assert await activity(gql, log, **{"from": madrid.isoformat(), "to": "2026-11-22T09:00:00Z"}) == (
        2,
        ids(log, 3, 2),
    )
    assert await activity(gql, log, **{"from": day2, "to": day1}) == (0, [])


async def test_combined_filters_and_paging(gql: GraphQLClient, log: dict[str, Any]) -> None:
    query = """query($id: ID!, $filter: ActivityFilter, $after: String) { campaign(id: $id) {
        activity(filter: $filter, first: 1, after: $after) { totalCount pageInfo { hasNextPage endCursor }
        nodes { id } } } }"""
    variables = {"id": f.gid(log["campaign"]), "filter": {"kinds": ["EMAIL_SENT", "EMAIL_BOUNCED"]}}
    seen = []
    after = None
    while True:
        page = (await gql(query, {**variables, "after": after}))["campaign"]["activity"]
        assert page["totalCount"] == 3
        seen += [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ids(log, 5, 3, 2)


async def test_an_entry_shows_its_lead_contact_and_step(gql: GraphQLClient, log: dict[str, Any]) -> None:
    data = await gql(
        """query($id: ID!) { campaign(id: $id) { activity(first: 2, filter: {kinds: [EMAIL_SENT, REPLY_RECEIVED]}) {
            nodes { kind channel occurredAt detail lead { id } contact { fullName } step { position type } } } } }""",
        {"id": f.gid(log["campaign"])},
    )
    reply, sent = data["campaign"]["activity"]["nodes"]
    assert reply == {
        "kind": "REPLY_RECEIVED",
        "channel": "EMAIL",
        "occurredAt": "2026-11-22T09:00:00+00:00",
        "detail": "Sure!",
        "lead": {"id": f.gid(log["ada"])},
        "contact": {"fullName": "Ada Lovelace"},
        "step": None,
    }
    assert sent["step"] == {"position": 2, "type": "EMAIL"} and sent["contact"] == {"fullName": "Bob Byte"}


async def test_removed_leads_activity_stays_in_the_log(gql: GraphQLClient, log: dict[str, Any]) -> None:
    # given Bob is removed from the campaign, then his past activity is still listed (and shows his lead)
    await f.remove(log["bob"])
    total, listed = await activity(gql, log)
    assert total == 6 and listed == ids(log, 5, 4, 3, 2, 1, 0)
    data = await gql(
        "query($id: ID!) { campaign(id: $id) { activity(first: 1) { nodes { lead { id status } } } } }",
        {"id": f.gid(log["campaign"])},
    )
    assert data["campaign"]["activity"]["nodes"][0]["lead"] == {"id": f.gid(log["bob"]), "status": "NOT_STARTED"}


async def test_a_removed_leads_activity_says_the_lead_was_removed(gql: GraphQLClient, log: dict[str, Any]) -> None:
    # given Bob, in progress, is removed from the campaign
    from models import Lead

    await Lead.filter(id=log["bob"].id).update(status=LeadStatus.IN_PROGRESS)
    log["bob"] = await Lead.get(id=log["bob"].id)
    await f.remove(log["bob"])
    removed_at = (await Lead.get(id=log["bob"].id)).removed_at
    # when the Activity log shows whose each entry is
    data = await gql(
        "query($id: ID!) { campaign(id: $id) { activity { nodes { lead { id status removedAt } } } } }",
        {"id": f.gid(log["campaign"])},
    )
    leads = {n["lead"]["id"]: n["lead"] for n in data["campaign"]["activity"]["nodes"]}
    # then Bob's entries say when he was removed (his status stays the one he had then), Ada's say she is not
    bob = leads[f.gid(log["bob"])]
    assert bob["removedAt"] is not None and datetime.fromisoformat(bob["removedAt"]) == removed_at
    assert bob["status"] == "IN_PROGRESS"
    assert leads[f.gid(log["ada"])]["removedAt"] is None


async def test_timeline_is_the_leads_activity_oldest_first(gql: GraphQLClient, log: dict[str, Any]) -> None:
    data = await gql(
        """query($a: ID!, $b: ID!) { a: lead(id: $a) { timeline { id kind occurredAt } }
            b: lead(id: $b) { timeline { id kind } } }""",
        {"a": f.gid(log["ada"]), "b": f.gid(log["bob"])},
    )
    assert [e["id"] for e in data["a"]["timeline"]] == ids(log, 0, 2, 4)
    assert [e["kind"] for e in data["a"]["timeline"]] == ["PROFILE_VISITED", "EMAIL_SENT", "REPLY_RECEIVED"]
    assert [e["kind"] for e in data["b"]["timeline"]] == ["PROFILE_VISITED", "EMAIL_SENT", "EMAIL_BOUNCED"]


async def test_timeline_of_many_leads_is_one_query(gql: GraphQLClient, log: dict[str, Any]) -> None:
    from tests.test_reads_audience import counting_queries

    await gql("{ viewer { id } }")
    with counting_queries() as counter:
        data = await gql(
            "query($id: ID!) { campaign(id: $id) { audience { nodes { timeline { kind } } } } }",
            {"id": f.gid(log["campaign"])},
        )
    assert [len(n["timeline"]) for n in data["campaign"]["audience"]["nodes"]] == [3, 3]
    assert sum('FROM "activity"' in s for s in counter.statements) == 1


async def test_lead_with_no_activity_has_an_empty_timeline(
    gql: GraphQLClient, workspace: Any, log: dict[str, Any]
) -> None:
    (carl,) = await f.leads(log["campaign"], [await f.contact(workspace[0], "Carl", "Cog")])
    await f.change(carl, status=LeadStatus.IN_PROGRESS)
    data = await gql("query($id: ID!) { lead(id: $id) { timeline { id } } }", {"id": f.gid(carl)})
    assert data["lead"]["timeline"] == []
