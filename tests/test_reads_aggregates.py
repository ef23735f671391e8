"""What Campaign.series and Campaign.funnel read from (series slots, funnel counters) against the tables:
after a scripted run, a removal, a send taken back, a bulk load and its rebuild, and the tick's fold."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from domain import counters, slots
from domain.ids import to_global_id
from domain.rebuild import rebuild
from engine import channels, send
from models import Activity, ActivitySlot, Lead
from models.enums import ActivityKind, Channel, StepType
from tests.conftest import GraphQLClient
from tests.engine_helpers import Pump, add_leads, make_campaign, make_identity, person, step
from tests.test_reads_funnel import OVERVIEW, funnel_from_tables, scripted_run, series_from_tables

EMAIL = step(StepType.EMAIL, subject="Hi {{firstName}}", content="Body")
VISIT = step(StepType.LINKEDIN_VISIT_PROFILE)
REMOVE = "mutation($c: ID!, $l: [ID!]!) { removeLeads(campaignId: $c, leadIds: $l) { errors { message } } }"


async def overview(gql: GraphQLClient, campaign: Any, tz: str = "UTC") -> dict[str, Any]:
    return (await gql(OVERVIEW, {"id": to_global_id("Campaign", campaign.id), "tz": tz}))["campaign"]


async def stored(campaign: Any) -> dict[str, int]:
    """The campaign's counters as kept (zeros left out, as a recount leaves them)."""
    numbers, _, _ = await counters.read(campaign.id)
    return {k: v for k, v in numbers.items() if v}


def total(series: list[dict[str, Any]], name: str) -> int:
    return sum(p[name] for p in series)


async def test_after_a_scripted_run_the_slots_and_funnel_counters_equal_a_recount(
    gql: GraphQLClient, workspace: Any, frozen: Any, pump: Pump
) -> None:
    campaign, _ = await scripted_run(gql, workspace, frozen, pump)

    assert await slots.differences(campaign.id) == []
    numbers, _, _ = await counters.read(campaign.id)
    funnel_keys = {k: v for k, v in numbers.items() if k.startswith("funnel:") and v}
    assert funnel_keys
    assert funnel_keys == {k: v for k, v in (await counters.recompute(campaign.id)).items() if k.startswith("funnel:")}


async def test_a_removed_lead_leaves_the_funnel_and_still_counts_in_the_series(
    gql: GraphQLClient, workspace: Any, frozen: Any, pump: Pump
) -> None:
    ws, _ = workspace
    campaign, _ = await make_campaign(ws, await make_identity(ws), [VISIT, EMAIL])
    leads = await add_leads(ws, campaign, [person(i) for i in range(3)])
    await pump.run()
    data = await gql(
        "mutation($input: LeadEventInput!) { recordLeadEvent(input: $input) { errors { code } } }",
        {"input": {"leadId": to_global_id("Lead", leads[0].id), "kind": "REPLY_RECEIVED", "positive": True}},
    )
    assert data["recordLeadEvent"]["errors"] == []
    before = await overview(gql, campaign)
    assert [(e["performed"], e["replied"], e["positive"]) for e in before["funnel"]] == [(3, 0, 0), (3, 1, 1)]

    removed = await gql(REMOVE, {"c": to_global_id("Campaign", campaign.id), "l": [to_global_id("Lead", leads[0].id)]})
    assert removed["removeLeads"]["errors"] == []

    after = await overview(gql, campaign)
    assert [(e["performed"], e["replied"], e["positive"]) for e in after["funnel"]] == [(2, 0, 0), (2, 0, 0)]
    assert after["funnel"] == await funnel_from_tables(campaign)
    assert after["series"] == before["series"]  # the Activity log keeps a removed lead's entries
    assert (total(after["series"], "emailsSent"), total(after["series"], "positiveReplies")) == (3, 1)


async def test_a_send_taken_back_leaves_no_trace_in_series_or_funnel(
    gql: GraphQLClient, workspace: Any, frozen: Any, pump: Pump, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(send, "SEND_BACKOFF", 0.0)
    ws, _ = workspace
    campaign, _ = await make_campaign(ws, await make_identity(ws), [EMAIL])
    await add_leads(ws, campaign, [person(1)])
    channels.email_sandbox.fail_next(send.SEND_ATTEMPTS)  # the provider fails for good
    await pump.run()

    data = await overview(gql, campaign)
    assert total(data["series"], "emailsSent") == 0 and total(data["series"], "errors") == 1
    assert [e["performed"] for e in data["funnel"]] == [0]
    assert await slots.differences(campaign.id) == []
    assert await counters.recompute(campaign.id) == await stored(campaign)


async def test_a_bulk_load_then_rebuild_equals_a_recount(gql: GraphQLClient, workspace: Any, frozen: Any) -> None:
    ws, _ = workspace
    campaign, steps = await make_campaign(ws, None, [VISIT, EMAIL])
    leads = await add_leads(ws, campaign, [person(i) for i in range(4)])
    now = frozen.now()
    rows = []
    replies: dict[int, tuple[Any, bool]] = {}
    # Spread over days and across slot boundaries, bypassing record_activity as a COPY does.
    for i, lead in enumerate(leads):
        for n, (kind, step_id, detail) in enumerate(
            [
                (ActivityKind.PROFILE_VISITED, steps[0].id, None),
                (ActivityKind.EMAIL_SENT, steps[1].id, None),
                (ActivityKind.EMAIL_CLICKED, steps[1].id, None),
                (ActivityKind.REPLY_RECEIVED, None, "(positive) yes" if i % 2 else "no thanks"),
            ][: 2 + i % 3]
        ):
            at = now - timedelta(days=i * 3) + timedelta(minutes=14 * n + i)
            if kind == ActivityKind.REPLY_RECEIVED:
                replies[lead.id] = (at, detail.startswith("(positive)"))
            rows.append(
                Activity(
                    workspace_id=ws.id,
                    campaign_id=campaign.id,
                    lead_id=lead.id,
                    contact_id=lead.contact_id,
                    step_id=step_id,
                    kind=kind,
                    channel=Channel.EMAIL,
                    occurred_at=at,
                    detail=detail,
                )
            )
    await Activity.bulk_create(rows)
    for lead_id, (at, positive) in replies.items():
        await Lead.filter(id=lead_id).update(replied=True, positive=positive, replied_at=at)
    assert await slots.differences(campaign.id) != []  # the load bypassed them

    await rebuild(campaign.id)

    assert await slots.differences(campaign.id) == []
    data = await overview(gql, campaign, "Europe/Madrid")
    starts = [p["start"] for p in data["series"]]
    assert data["series"] == await series_from_tables(campaign, starts, ZoneInfo("Europe/Madrid"), "DAY")
    assert total(data["series"], "emailsClicked") == 2
    assert data["funnel"] == await funnel_from_tables(campaign)
    assert [e["replied"] for e in data["funnel"]] == [0, 1]  # lead 2's reply, after its email
    assert await counters.recompute(campaign.id) == await stored(campaign)


async def test_the_ticks_fold_keeps_every_number_and_leaves_one_row_per_closed_slot(
    gql: GraphQLClient, workspace: Any, frozen: Any, pump: Pump
) -> None:
    ws, _ = workspace
    campaign, _ = await make_campaign(ws, await make_identity(ws), [VISIT, EMAIL])
    await add_leads(ws, campaign, [person(i) for i in range(12)])
    await pump.run()
    await rebuild(campaign.id, shards=slots.SHARDS)  # spread as many writers leave an open slot
    before = await overview(gql, campaign, "Asia/Kathmandu")
    assert await ActivitySlot.filter(campaign_id=campaign.id).count() > 1

    folded = await slots.compact(frozen.now() + timedelta(minutes=15))

    assert folded > 0
    assert await ActivitySlot.filter(campaign_id=campaign.id).count() == 1  # one slot, one row
    assert await overview(gql, campaign, "Asia/Kathmandu") == before
    assert await slots.differences(campaign.id) == []
