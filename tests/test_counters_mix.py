"""A scripted mix of lead changes through the model layer: counters stay equal to a recount, and the
GraphQL Overview equals the numbers counted from the leads, after every round."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from domain import counters
from domain.leads import count_leads, update_lead
from domain.tx import transaction
from models import LEAD_FLAGS, Lead
from models.enums import SUBSTATUS_STATUS, CampaignStatus, LeadStatus, LeadSubstatus, StepType, TaskStatus
from tests import factories as f
from tests.conftest import GraphQLClient

SUBSTATUSES_OF: dict[LeadStatus, list[LeadSubstatus | None]] = {s: [] for s in LeadStatus}
for _sub, _status in SUBSTATUS_STATUS.items():
    SUBSTATUSES_OF[_status].append(_sub)
SUBSTATUSES_OF[LeadStatus.NOT_STARTED] = [None]
SUBSTATUSES_OF[LeadStatus.REPLIED] = [None]


def random_change(rng: random.Random, lead: Lead, step_ids: list[int]) -> dict[str, Any]:
    """One change a worker or a person could make: a status move, flags flipping on, a step move."""
    kind = rng.choice(["status", "flags", "step", "reply", "mixed"])
    changes: dict[str, Any] = {}
    if kind in ("status", "mixed"):
        status = rng.choice(list(LeadStatus))
        changes.update(status=status, substatus=rng.choice(SUBSTATUSES_OF[status]))
        if status != LeadStatus.NOT_STARTED and lead.started_at is None:
            changes["started_at"] = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(10_000))
    if kind in ("flags", "mixed"):
        for flag in rng.sample(LEAD_FLAGS, rng.randint(1, 3)):
            changes[flag] = True
    if kind in ("step", "mixed"):
        changes["current_step_id"] = rng.choice([*step_ids, None])
    if kind == "reply":
        channel = rng.choice(["li_replied", "em_replied"])
        changes.update(status=LeadStatus.REPLIED, substatus=None, replied=True, positive=rng.random() < 0.5)
        changes[channel] = True
    return changes


async def test_scripted_mix_keeps_counters_and_stats_equal_to_the_leads(gql: GraphQLClient, workspace: Any) -> None:
    # given a running campaign of 40 leads, some with tasks
    ws, _ = workspace
    campaign, steps = await f.campaign(
        ws,
        "Mix",
        CampaignStatus.ACTIVE,
        [StepType.LINKEDIN_CONNECTION, StepType.LINKEDIN_MESSAGE, StepType.EMAIL, StepType.TASK],
    )
    step_ids = [s.id for s in steps]
    leads = {lead.id: lead for lead in await f.leads(campaign, await f.contacts(ws, 40))}
    for lead in list(leads.values())[:6]:
        await f.task(lead, steps[3], TaskStatus.PENDING)
    rng = random.Random(20261126)
    last_version = -1

    # when 8 rounds of mixed changes run: single CAS updates, stale updates that must be refused,
    # removals, and bulk re-counts of a batch of leads added later
    for round_no in range(8):
        for _ in range(25):
            live = [lead for lead in leads.values() if lead.removed_at is None]
            lead = rng.choice(live)
            roll = rng.random()
            if roll < 0.08:
                await f.remove(lead)
                continue
            changes = random_change(rng, lead, step_ids)
            if roll < 0.15:
                # a worker holding a stale copy: refused, and nothing is counted
                stale = await Lead.get(id=lead.id)
                stale.state_version -= 1
                async with transaction():
                    assert not await update_lead(stale, **changes)
                continue
            leads[lead.id] = await f.change(lead, **changes)
        if round_no == 3:
            # contacts added in bulk, counted in one go (as addLeads does)
            people = await f.contacts(ws, 5, prefix="Late")
            async with transaction():
                await Lead.bulk_create([Lead(workspace_id=ws.id, campaign=campaign, contact=p) for p in people])
                added = await Lead.filter(campaign=campaign, contact_id__in=[p.id for p in people])
                await count_leads(ws.id, campaign.id, added)
            leads.update({lead.id: lead for lead in added})

        # then every counter equals a recount from the tables
        numbers, version, _ = await counters.read(campaign.id)
        assert {k: v for k, v in numbers.items() if v} == await counters.recompute(campaign.id), f"round {round_no}"
        # and the Overview a client sees equals the numbers counted from the leads' own state
        stats = (await gql(f.STATS_QUERY, {"id": f.gid(campaign)}))["campaign"]["stats"]
        assert f.without_version(stats) == await f.stats_from_leads(campaign), f"round {round_no}"
        assert stats["version"] == version and version > last_version
        last_version = version

    # and the audience agrees with the Overview's chips, filter by filter
    stats = (await gql(f.STATS_QUERY, {"id": f.gid(campaign)}))["campaign"]["stats"]
    query = """query($id: ID!, $filter: AudienceFilter) { campaign(id: $id) {
        audience(filter: $filter, first: 100) { totalCount nodes { id } } } }"""
    for chip in stats["statuses"]:
        page = (await gql(query, {"id": f.gid(campaign), "filter": {"status": chip["status"]}}))["campaign"]
        assert page["audience"]["totalCount"] == len(page["audience"]["nodes"]) == chip["count"]
    for step in stats["steps"]:
        page = (await gql(query, {"id": f.gid(campaign), "filter": {"stepId": step["stepId"]}}))["campaign"]
        assert page["audience"]["totalCount"] == len(page["audience"]["nodes"]) == step["leadCount"]
    removed = sum(1 for lead in await Lead.filter(campaign=campaign) if lead.removed_at is not None)
    assert removed > 0 and stats["allChannels"]["totalContacts"] == 45 - removed


async def test_concurrent_changes_keep_counters_equal_to_the_leads(gql: GraphQLClient, workspace: Any) -> None:
    # given 30 leads, when rounds of changes to different leads commit at the same time (separate
    # transactions, on PostgreSQL separate connections upserting the same counter rows)
    ws, _ = workspace
    campaign, steps = await f.campaign(ws, "Rush", CampaignStatus.ACTIVE, [StepType.EMAIL, StepType.LINKEDIN_MESSAGE])
    leads = await f.leads(campaign, await f.contacts(ws, 30))
    rng = random.Random(7)
    for _ in range(4):
        batch = rng.sample(leads, 15)
        changed = await asyncio.gather(
            *(f.change(lead, **random_change(rng, lead, [s.id for s in steps])) for lead in batch)
        )
        by_id = {lead.id: lead for lead in changed}
        leads = [by_id.get(lead.id, lead) for lead in leads]
        # then the counters and the Overview still equal a recount
        numbers, _, _ = await counters.read(campaign.id)
        assert {k: v for k, v in numbers.items() if v} == await counters.recompute(campaign.id)
        stats = (await gql(f.STATS_QUERY, {"id": f.gid(campaign)}))["campaign"]["stats"]
        assert f.without_version(stats) == await f.stats_from_leads(campaign)
