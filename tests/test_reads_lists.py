"""The lists of the root: campaigns (archived hidden, search, newest first), contacts, identities."""

from __future__ import annotations

from typing import Any

from models.enums import CampaignStatus, StepType
from models.enums import CampaignStatus as S
from tests import factories as f
from tests.conftest import GraphQLClient

CAMPAIGNS = """query($filter: CampaignFilter) { campaigns(filter: $filter) { totalCount nodes { name status } } }"""


async def names(gql: GraphQLClient, **filter: Any) -> tuple[int, list[str]]:
    data = await gql(CAMPAIGNS, {"filter": filter or None})
    return data["campaigns"]["totalCount"], [n["name"] for n in data["campaigns"]["nodes"]]


async def test_campaigns_newest_first_without_archived(gql: GraphQLClient, workspace: Any) -> None:
    # given campaigns in every status, created in this order
    ws, _ = workspace
    for name, status in [("Spring", S.DRAFT), ("Summer", S.ACTIVE), ("Autumn", S.ARCHIVED), ("Winter", S.PAUSED)]:
        await f.campaign(ws, name, status)
    # when listed without a filter, then newest first and the archived one left out
    assert await names(gql) == (3, ["Winter", "Summer", "Spring"])
    # statuses naming ARCHIVED bring it back; other statuses filter
    assert await names(gql, statuses=["ARCHIVED"]) == (1, ["Autumn"])
    assert await names(gql, statuses=["ACTIVE", "ARCHIVED"]) == (2, ["Autumn", "Summer"])
    assert await names(gql, statuses=["DRAFT", "PAUSED"]) == (2, ["Winter", "Spring"])
    assert await names(gql, statuses=[]) == (0, [])


async def test_campaigns_search_by_name_case_insensitively(gql: GraphQLClient, workspace: Any) -> None:
    ws, _ = workspace
    for name, status in [("Q4 Outreach", S.ACTIVE), ("q4 follow-up", S.DRAFT), ("Old q4", S.ARCHIVED), ("Q1", S.DRAFT)]:
        await f.campaign(ws, name, status)
    assert await names(gql, search="Q4") == (2, ["q4 follow-up", "Q4 Outreach"])
    assert await names(gql, search="OUTREACH") == (1, ["Q4 Outreach"])
    assert await names(gql, search="q4", statuses=["ARCHIVED"]) == (1, ["Old q4"])
    assert await names(gql, search="nothing like it") == (0, [])
    assert await names(gql, search="_") == (0, [])  # a LIKE wildcard is a literal character


async def test_contacts_search_and_fields(gql: GraphQLClient, workspace: Any) -> None:
    ws, _ = workspace
    await f.contact(ws, "Ada", "Lovelace", email="ada@engines.org", company="Analytical", title="Countess")
    await f.contact(ws, "Grace", "Hopper", email="grace@navy.mil", company="US Navy", linkedin_url="https://li/gh")
    query = """query($search: String) { contacts(search: $search) { totalCount nodes {
        firstName lastName fullName email linkedinUrl company title } } }"""
    data = await gql(query, {"search": "NAVY"})
    assert data["contacts"] == {
        "totalCount": 1,
        "nodes": [
            {
                "firstName": "Grace",
                "lastName": "Hopper",
                "fullName": "Grace Hopper",
                "email": "grace@navy.mil",
                "linkedinUrl": "https://li/gh",
                "company": "US Navy",
                "title": None,
            }
        ],
    }
    assert (await gql(query, {"search": "ada lovelace"}))["contacts"]["totalCount"] == 1
    assert (await gql(query, {"search": "ENGINES.org"}))["contacts"]["totalCount"] == 1
    assert (await gql(query, {"search": None}))["contacts"]["totalCount"] == 2


async def test_identities_in_creation_order_with_hours_and_limits(gql: GraphQLClient, workspace: Any) -> None:
    ws, _ = workspace
    await f.identity(ws, "First", timezone="Europe/Madrid", email_address="a@acme.com", email_connected=True)
    await f.identity(ws, "Second")
    data = await gql(
        """{ identities { name emailAddress emailConnected linkedinConnected
            workingHours { timezone days start end } limits { dailyConnectionRequests dailyEmails } } }"""
    )
    first, second = data["identities"]
    assert first["name"] == "First" and second["name"] == "Second"
    assert first["workingHours"] == {
        "timezone": "Europe/Madrid",
        "days": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY"],
        "start": "09:00",
        "end": "18:00",
    }
    assert first["limits"] == {"dailyConnectionRequests": 20, "dailyEmails": 30}
    assert first["emailConnected"] is True and second["emailAddress"] is None


async def test_campaign_shows_its_sequence_identity_and_origin(gql: GraphQLClient, workspace: Any) -> None:
    ws, _ = workspace
    sender = await f.identity(ws, "Sender")
    source, _ = await f.campaign(ws, "Source", CampaignStatus.ACTIVE, [StepType.LINKEDIN_CONNECTION, StepType.END])
    copy, _ = await f.campaign(ws, "Copy", CampaignStatus.DRAFT, [StepType.EMAIL])
    copy.identity = sender
    copy.duplicated_from = source
    await copy.save()
    data = await gql(
        """query($id: ID!) { campaign(id: $id) { name status identity { name } duplicatedFrom { name }
            sequence { position type channel branch parentStepId delay { days hours minutes totalSeconds } } } }""",
        {"id": f.gid(copy)},
    )
    assert data["campaign"] == {
        "name": "Copy",
        "status": "DRAFT",
        "identity": {"name": "Sender"},
        "duplicatedFrom": {"name": "Source"},
        "sequence": [
            {
                "position": 1,
                "type": "EMAIL",
                "channel": "EMAIL",
                "branch": "MAIN",
                "parentStepId": None,
                "delay": {"days": 0, "hours": 0, "minutes": 0, "totalSeconds": 0},
            }
        ],
    }
