"""The demo that `make run` seeds: a running campaign with leads in every status, counted right."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from domain import counters
from domain.demo import DEMO_WORKSPACE, ensure_demo
from domain.ids import to_global_id
from models import Activity, Campaign, Lead, SequenceStep, Workspace
from models.enums import ActivityKind, CampaignStatus, LeadStatus, LeadSubstatus
from tests.conftest import GraphQLClient


async def test_first_start_seeds_every_status_and_later_starts_print_the_same_key(
    settings: Any, database: None, http: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # given a fresh database, when the server starts twice
    monkeypatch.chdir(tmp_path)
    key = await ensure_demo(settings)
    again = await ensure_demo(settings)

    # then one demo workspace exists, the banner printed the same key twice, and that key reads it
    assert again == key and await Workspace.filter(name=DEMO_WORKSPACE).count() == 1
    assert capsys.readouterr().out.count(f"Demo API key: {key}") == 2
    campaign = await Campaign.get(status=CampaignStatus.ACTIVE, workspace__name=DEMO_WORKSPACE)
    data = await GraphQLClient(http, key)(
        "query($id: ID!) { campaign(id: $id) { stats { statuses { status count } } sequence { type } } }",
        {"id": to_global_id("Campaign", campaign.id)},
    )
    counts = {s["status"]: s["count"] for s in data["campaign"]["stats"]["statuses"]}
    assert all(counts[status.value] > 0 for status in LeadStatus), counts
    assert {"CONDITION", "LINKEDIN_CONNECTION", "EMAIL", "TASK"} <= {s["type"] for s in data["campaign"]["sequence"]}
    # and the counters are exactly what the leads say, with a history behind the seeded states
    numbers, _, _ = await counters.read(campaign.id)
    assert numbers == await counters.recompute(campaign.id)
    assert await Activity.filter(campaign=campaign).count() > 100


#: Entries that the engine writes when it performs a step (the next step's delay counts from the last one).
ACTIONS = {
    ActivityKind.PROFILE_VISITED,
    ActivityKind.INVITATION_SENT,
    ActivityKind.LINKEDIN_MESSAGE_SENT,
    ActivityKind.EMAIL_SENT,
    ActivityKind.TASK_CREATED,
}
#: The state each seeded status leaves, as the last entry of its lead's history.
LAST_ENTRY = {
    (LeadStatus.IN_PROGRESS, LeadSubstatus.WAITING_TO_CONNECT): ActivityKind.INVITATION_SENT,
    (LeadStatus.IN_PROGRESS, LeadSubstatus.WAITING_FOR_TASK): ActivityKind.TASK_CREATED,
    (LeadStatus.IN_PROGRESS, LeadSubstatus.SCHEDULED): ActivityKind.PROFILE_VISITED,
    (LeadStatus.PAUSED, LeadSubstatus.PAUSED_MANUALLY): ActivityKind.PROFILE_VISITED,
    (LeadStatus.REPLIED, None): ActivityKind.REPLY_RECEIVED,
    (LeadStatus.FINISHED, LeadSubstatus.COMPLETED): ActivityKind.EMAIL_SENT,
    (LeadStatus.FINISHED, LeadSubstatus.BOUNCED): ActivityKind.EMAIL_BOUNCED,
    (LeadStatus.ERROR, LeadSubstatus.MISSING_CONTACT_EMAIL): ActivityKind.LEAD_ERROR,
    (LeadStatus.ERROR, LeadSubstatus.LEAD_NOT_SCRAPED): ActivityKind.LEAD_ERROR,
}


async def test_every_seeded_history_is_one_a_real_run_could_have_produced(
    settings: Any, database: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given the seeded demo
    monkeypatch.chdir(tmp_path)
    await ensure_demo(settings)
    now = datetime.now(UTC)
    campaign = await Campaign.get(status=CampaignStatus.ACTIVE, workspace__name=DEMO_WORKSPACE)
    steps = {step.id: step for step in await SequenceStep.filter(campaign=campaign)}
    day = timedelta(days=1) / campaign.time_scale
    started = 0

    for lead in await Lead.filter(campaign=campaign).order_by("id"):
        entries = await Activity.filter(lead_id=lead.id).order_by("occurred_at", "id")
        if lead.status == LeadStatus.NOT_STARTED:
            assert entries == [] and lead.next_action_at is not None
            continue
        started += 1
        where = f"lead {lead.id} {lead.status.value}/{lead.substatus}: {[(e.kind.value, e.step_id) for e in entries]}"
        # then its entries walk the sequence forward: positions never go back, time strictly increases
        times = [e.occurred_at for e in entries]
        assert times == sorted(times) and len(set(times)) == len(times) and times[-1] <= now, where
        positions = [steps[e.step_id].position for e in entries if e.step_id is not None]
        assert positions == sorted(positions), where
        assert lead.started_at == times[0] and lead.added_at <= times[0], where
        # each step's delay (at the campaign's scale) passed between the previous action and its own
        anchor = None
        for e in entries:
            if e.kind in ACTIONS and anchor is not None:
                assert e.occurred_at - anchor >= timedelta(seconds=steps[e.step_id].delay_seconds) / campaign.time_scale
            if e.kind == ActivityKind.INVITATION_WITHDRAWN:
                assert e.occurred_at - anchor >= 5 * day, where  # the acceptance window ran out first
            if e.kind in ACTIONS | {ActivityKind.INVITATION_ACCEPTED, ActivityKind.INVITATION_WITHDRAWN}:
                anchor = e.occurred_at
        # and the last entry is the one that left the lead where it stands
        last = entries[-1]
        assert last.kind == LAST_ENTRY[(lead.status, lead.substatus)], where
        assert lead.last_action_at == anchor, where
        if lead.current_step_id is not None:
            assert positions[-1] <= steps[lead.current_step_id].position, where
        if lead.status == LeadStatus.ERROR or lead.substatus == LeadSubstatus.WAITING_FOR_TASK:
            assert last.step_id == lead.current_step_id, where
        if lead.substatus == LeadSubstatus.WAITING_TO_CONNECT:
            assert lead.invitation_sent_at == last.occurred_at and lead.next_action_at == last.occurred_at + 5 * day
        if lead.substatus == LeadSubstatus.SCHEDULED:
            assert last.occurred_at < now < lead.next_action_at == last.occurred_at + day, where
        if lead.status == LeadStatus.FINISHED:
            assert lead.finished_at is not None and lead.current_step_id is None, where
    assert started > 50
