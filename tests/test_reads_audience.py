"""The Audience tab: filters, removed leads left out, totalCount, and a fixed number of SQL queries per page."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.ids import to_global_id
from models import SequenceStep
from models.enums import CampaignStatus, LeadStatus, LeadSubstatus, StepType
from tests import factories as f
from tests.conftest import GraphQLClient

AUDIENCE = """query($id: ID!, $filter: AudienceFilter, $first: Int) { campaign(id: $id) {
    audience(filter: $filter, first: $first) { totalCount nodes { id status substatus contact { fullName } } } } }"""


@pytest.fixture
async def crowd(workspace: Any) -> dict[str, Any]:
    """Five leads in different states; one more that was removed."""
    ws, _ = workspace
    campaign, steps = await f.campaign(
        ws, "Crowd", CampaignStatus.ACTIVE, [StepType.LINKEDIN_CONNECTION, StepType.EMAIL]
    )
    people = [
        await f.contact(ws, "Ada", "Lovelace", email="ada@engines.org", company="Analytical"),
        await f.contact(ws, "Grace", "Hopper", email="grace@navy.mil", company="US Navy"),
        await f.contact(ws, "Alan", "Turing", email="alan@bletchley.uk", company="Bletchley"),
        await f.contact(ws, "Edsger", "Dijkstra", email=None, company="Eindhoven"),
        await f.contact(ws, "Barbara", "Liskov", email="barbara@mit.edu", company="MIT"),
        await f.contact(ws, "Removed", "Person", email="gone@analytical.org", company="Analytical"),
    ]
    ada, grace, alan, edsger, barbara, gone = await f.leads(campaign, people)
    now = datetime.now(UTC)
    waiting = {"status": LeadStatus.IN_PROGRESS, "substatus": LeadSubstatus.WAITING_TO_CONNECT, "started_at": now}
    await f.change(ada, **waiting, current_step_id=steps[0].id, li_invited=True, li_engaged=True)
    await f.change(grace, **waiting, current_step_id=steps[0].id, li_invited=True, li_engaged=True)
    await f.change(alan, status=LeadStatus.IN_PROGRESS, substatus=LeadSubstatus.SCHEDULED, current_step_id=steps[1].id)
    await f.change(edsger, status=LeadStatus.ERROR, substatus=LeadSubstatus.MISSING_CONTACT_EMAIL)
    await f.change(gone, **waiting, current_step_id=steps[0].id)
    await f.remove(gone)
    return {"campaign": campaign, "steps": steps, "leads": [ada, grace, alan, edsger, barbara], "removed": gone}


async def audience(gql: GraphQLClient, crowd: dict[str, Any], **filter: Any) -> tuple[int, list[str]]:
    data = await gql(AUDIENCE, {"id": f.gid(crowd["campaign"]), "filter": filter or None})
    page = data["campaign"]["audience"]
    return page["totalCount"], [n["contact"]["fullName"] for n in page["nodes"]]


async def test_unfiltered_audience_leaves_removed_leads_out(gql: GraphQLClient, crowd: dict[str, Any]) -> None:
    assert await audience(gql, crowd) == (
        5,
        ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Edsger Dijkstra", "Barbara Liskov"],
    )


async def test_filter_by_status(gql: GraphQLClient, crowd: dict[str, Any]) -> None:
    assert await audience(gql, crowd, status="IN_PROGRESS") == (3, ["Ada Lovelace", "Grace Hopper", "Alan Turing"])
    assert await audience(gql, crowd, status="NOT_STARTED") == (1, ["Barbara Liskov"])
    assert await audience(gql, crowd, status="REPLIED") == (0, [])


async def test_filter_by_substatus_and_both(gql: GraphQLClient, crowd: dict[str, Any]) -> None:
    assert await audience(gql, crowd, substatus="WAITING_TO_CONNECT") == (2, ["Ada Lovelace", "Grace Hopper"])
    assert await audience(gql, crowd, status="IN_PROGRESS", substatus="SCHEDULED") == (1, ["Alan Turing"])
    # a substatus of another status: nothing can match
    assert await audience(gql, crowd, status="FINISHED", substatus="SCHEDULED") == (0, [])


async def test_filter_by_step(gql: GraphQLClient, crowd: dict[str, Any]) -> None:
    first, second = (f.gid(s) for s in crowd["steps"])
    assert await audience(gql, crowd, stepId=first) == (2, ["Ada Lovelace", "Grace Hopper"])
    assert await audience(gql, crowd, stepId=second) == (1, ["Alan Turing"])
    assert await audience(gql, crowd, stepId=first, status="IN_PROGRESS", substatus="WAITING_TO_CONNECT") == (
        2,
        ["Ada Lovelace", "Grace Hopper"],
    )
    assert await audience(gql, crowd, stepId=second, status="ERROR") == (0, [])
    assert await audience(gql, crowd, stepId="not-an-id") == (0, [])
    assert await audience(gql, crowd, stepId=to_global_id("SequenceStep", 10**12)) == (0, [])


async def test_search_matches_name_email_or_company_case_insensitively(
    gql: GraphQLClient, crowd: dict[str, Any]
) -> None:
    assert await audience(gql, crowd, search="ADA") == (1, ["Ada Lovelace"])
    assert await audience(gql, crowd, search="hopper") == (1, ["Grace Hopper"])
    assert await audience(gql, crowd, search="Grace Hopper") == (1, ["Grace Hopper"])
    assert await audience(gql, crowd, search="@MIT.edu") == (1, ["Barbara Liskov"])
    assert await audience(gql, crowd, search="analytical") == (1, ["Ada Lovelace"])  # the removed one is out
    assert await audience(gql, crowd, search="eindhoven") == (1, ["Edsger Dijkstra"])
    assert await audience(gql, crowd, search="a", status="IN_PROGRESS") == (
        3,
        ["Ada Lovelace", "Grace Hopper", "Alan Turing"],
    )
    assert await audience(gql, crowd, search="nobody") == (0, [])
    assert await audience(gql, crowd, search="100%") == (0, [])  # LIKE wildcards are literal
    assert (await audience(gql, crowd, search="   "))[0] == 5  # blank search: no filter


async def test_lead_side_panel_fields(gql: GraphQLClient, crowd: dict[str, Any]) -> None:
    ada, _, _, edsger, _ = crowd["leads"]
    data = await gql(
        """query($a: ID!, $e: ID!) {
            ada: lead(id: $a) { status substatus positive campaign { name } currentStep { position type }
                contact { fullName email company } addedAt startedAt error { substatus } }
            edsger: lead(id: $e) { status error { substatus message hint occurredAt } currentStep { id } }
        }""",
        {"a": f.gid(ada), "e": f.gid(edsger)},
    )
    assert data["ada"]["status"] == "IN_PROGRESS" and data["ada"]["substatus"] == "WAITING_TO_CONNECT"
    assert data["ada"]["campaign"] == {"name": "Crowd"}
    assert data["ada"]["currentStep"] == {"position": 1, "type": "LINKEDIN_CONNECTION"}
    assert data["ada"]["contact"] == {"fullName": "Ada Lovelace", "email": "ada@engines.org", "company": "Analytical"}
    assert data["ada"]["startedAt"] is not None and data["ada"]["error"] is None
    assert data["edsger"]["error"]["substatus"] == "MISSING_CONTACT_EMAIL"
    assert data["edsger"]["error"]["hint"]


async def test_removed_lead_is_not_found_by_id(gql: GraphQLClient, crowd: dict[str, Any]) -> None:
    data = await gql("query($id: ID!) { lead(id: $id) { id } node(id: $id) { id } }", {"id": f.gid(crowd["removed"])})
    assert data == {"lead": None, "node": None}


async def test_step_lead_count_is_read_from_counters(gql: GraphQLClient, crowd: dict[str, Any]) -> None:
    data = await gql(
        "query($id: ID!) { campaign(id: $id) { sequence { position leadCount } } }", {"id": f.gid(crowd["campaign"])}
    )
    assert data["campaign"]["sequence"] == [{"position": 1, "leadCount": 2}, {"position": 2, "leadCount": 1}]
    # A step reached on its own (not through `sequence`, which reads the counters once for all its steps)
    # reads them itself, through a fragment and an alias too.
    steps = await SequenceStep.filter(campaign_id=crowd["campaign"].id).order_by("position")
    data = await gql(
        """query($a: ID!, $b: ID!) { a: node(id: $a) { ...Count } b: node(id: $b) { ...Count } }
        fragment Count on SequenceStep { n: leadCount }""",
        {"a": f.gid(steps[0]), "b": f.gid(steps[1])},
    )
    assert data == {"a": {"n": 2}, "b": {"n": 1}}


# ------------------------------------------------------------------ no N+1


class QueryCounter(logging.Handler):
    """Counts the SQL statements Tortoise sends (it logs each at DEBUG on `tortoise.db_client`)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.statements.append(record.getMessage())


@contextmanager
def counting_queries() -> Iterator[QueryCounter]:
    """Counts the SQL statements the requests inside run."""
    logger = logging.getLogger("tortoise.db_client")
    counter = QueryCounter()
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(level)


PAGE_QUERY = """query($id: ID!, $first: Int) { campaign(id: $id) { audience(first: $first) {
    totalCount pageInfo { endCursor } nodes { id status contact { fullName email } currentStep { id type } } } } }"""


async def test_a_page_costs_the_same_queries_for_5_rows_as_for_50(gql: GraphQLClient, workspace: Any) -> None:
    # given a campaign of 60 leads spread over its steps
    ws, _ = workspace
    campaign, steps = await f.campaign(ws, "Wide", CampaignStatus.ACTIVE, [StepType.EMAIL, StepType.LINKEDIN_MESSAGE])
    leads = await f.leads(campaign, await f.contacts(ws, 60))
    for i, lead in enumerate(leads):
        await f.change(lead, status=LeadStatus.IN_PROGRESS, current_step_id=steps[i % 2].id)
    await gql("{ viewer { id } }")  # the API key lookup is cached from here on

    # when a page of 5 and a page of 50 are read with their contacts and current steps
    counts = {}
    for first in (5, 50):
        with counting_queries() as counter:
            data = await gql(PAGE_QUERY, {"id": f.gid(campaign), "first": first})
        assert len(data["campaign"]["audience"]["nodes"]) == first
        assert all(n["contact"]["email"] and n["currentStep"]["type"] for n in data["campaign"]["audience"]["nodes"])
        counts[first] = len(counter.statements)

    # then both cost the same few queries: campaign, page, counters, contacts, steps
    assert counts[5] == counts[50], counts
    assert counts[50] <= 5, counts
