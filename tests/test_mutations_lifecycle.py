"""The campaign lifecycle through the API: every row of domain.md's table, the refusals, the pause cascade,
archive, delete and duplicate."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain import counters
from domain.activity import record_activity
from domain.ids import decode_id
from domain.leads import update_lead
from domain.tx import transaction
from models import Activity, Campaign, CampaignCounter, Lead, SequenceStep, Task
from models.enums import ActivityKind, Channel, LeadStatus, LeadSubstatus, TaskStatus, TaskType
from tests.factories_mutations import (
    ERRORS,
    add_leads,
    campaign_action,
    campaign_with_leads,
    codes,
    counters_match_recount,  # noqa: F401  (autouse: counters equal a recount after each test)
    create_campaign,
    get_campaign,
    import_contacts,
    mutate,
    ok,
    statuses,
    substatuses,
)

ACTIONS = ["launchCampaign", "pauseCampaign", "resumeCampaign", "archiveCampaign"]
#: What each action is allowed from (domain.md's table); every other pair must be refused.
ALLOWED = {
    "launchCampaign": {"DRAFT"},
    "pauseCampaign": {"ACTIVE"},
    "resumeCampaign": {"PAUSED"},
    "archiveCampaign": {"DRAFT", "ACTIVE", "PAUSED"},
}
PATH_TO = {
    "DRAFT": [],
    "ACTIVE": ["launchCampaign"],
    "PAUSED": ["launchCampaign", "pauseCampaign"],
    "ARCHIVED": ["archiveCampaign"],
}


async def campaign_in(gql: Any, status: str, n_leads: int = 2) -> tuple[dict[str, Any], list[str]]:
    campaign, leads = await campaign_with_leads(gql, n_leads)
    for action in PATH_TO[status]:
        payload = await campaign_action(gql, action, campaign["id"])
        assert payload["errors"] == [], payload
        campaign = payload["campaign"]
    assert campaign["status"] == status
    return campaign, leads


async def lead_row(lead_id: str) -> Lead:
    return await Lead.get(id=decode_id(lead_id, "Lead"))


async def set_lead(lead_id: str, **changes: Any) -> Lead:
    """Put a lead in a state, the way the engine would (counters follow)."""
    lead = await lead_row(lead_id)
    async with transaction():
        assert await update_lead(lead, **changes)
    return lead


# ------------------------------------------------------------------ the table


async def test_launch_makes_draft_active_and_schedules_its_leads(gql: Any) -> None:
    campaign, leads = await campaign_in(gql, "DRAFT", 3)
    assert [(await lead_row(lead)).next_action_at for lead in leads] == [None] * len(leads)
    before = datetime.now(UTC)
    payload = await campaign_action(gql, "launchCampaign", campaign["id"])
    assert payload["errors"] == []
    assert payload["campaign"]["status"] == "ACTIVE"
    assert payload["campaign"]["launchedAt"] is not None
    for lead in leads:
        row = await lead_row(lead)
        assert row.status == LeadStatus.NOT_STARTED and row.next_action_at is not None
        assert before - timedelta(seconds=1) <= row.next_action_at <= datetime.now(UTC)


async def test_pause_and_resume(gql: Any) -> None:
    campaign, _ = await campaign_in(gql, "ACTIVE", 3)
    paused = await campaign_action(gql, "pauseCampaign", campaign["id"])
    assert paused["errors"] == [] and paused["campaign"]["status"] == "PAUSED"
    assert statuses(paused["campaign"]) == {"PAUSED": 3}
    assert substatuses(paused["campaign"]) == {"CAMPAIGN_PAUSED": 3}
    resumed = await campaign_action(gql, "resumeCampaign", campaign["id"])
    assert resumed["errors"] == [] and resumed["campaign"]["status"] == "ACTIVE"
    assert statuses(resumed["campaign"]) == {"NOT_STARTED": 3}
    assert substatuses(resumed["campaign"]) == {}


@pytest.mark.parametrize("status", ["DRAFT", "ACTIVE", "PAUSED"])
async def test_archive_is_permanent_and_unschedules(gql: Any, status: str) -> None:
    campaign, leads = await campaign_in(gql, status)
    payload = await campaign_action(gql, "archiveCampaign", campaign["id"])
    assert payload["errors"] == []
    assert payload["campaign"]["status"] == "ARCHIVED" and payload["campaign"]["archivedAt"]
    assert [(await lead_row(lead)).next_action_at for lead in leads] == [None] * len(leads)
    for action in ACTIONS:
        refused = await campaign_action(gql, action, campaign["id"])
        assert codes(refused) == ["INVALID_TRANSITION"] and refused["campaign"] is None
    assert (await get_campaign(gql, campaign["id"]))["status"] == "ARCHIVED"


REFUSED = [(s, a) for s in PATH_TO for a in ACTIONS if s not in ALLOWED[a]]


@pytest.mark.parametrize(("status", "action"), REFUSED, ids=[f"{a}-from-{s}" for s, a in REFUSED])
async def test_refused_transition_changes_nothing(gql: Any, status: str, action: str) -> None:
    campaign, leads = await campaign_in(gql, status)
    before_leads = [(r.status, r.substatus, r.next_action_at) for r in [await lead_row(lead) for lead in leads]]
    before = await get_campaign(gql, campaign["id"])
    payload = await campaign_action(gql, action, campaign["id"])
    assert payload["campaign"] is None
    assert payload["errors"][0]["code"] == "INVALID_TRANSITION" and payload["errors"][0]["field"] == ["id"]
    assert await get_campaign(gql, campaign["id"]) == before
    assert [(r.status, r.substatus, r.next_action_at) for r in [await lead_row(lead) for lead in leads]] == (
        before_leads
    )


async def test_launch_needs_identity_and_an_action_step(gql: Any) -> None:
    no_identity = await create_campaign(gql, identity=False)
    payload = await campaign_action(gql, "launchCampaign", no_identity["id"])
    assert codes(payload) == ["IDENTITY_REQUIRED"]
    only_flow = await create_campaign(gql, steps=[{"type": "CONDITION", "condition": "HAS_EMAIL"}, {"type": "END"}])
    assert codes(await campaign_action(gql, "launchCampaign", only_flow["id"])) == ["EMPTY_SEQUENCE"]
    neither = await create_campaign(gql, steps=[], identity=False)
    assert codes(await campaign_action(gql, "launchCampaign", neither["id"])) == ["IDENTITY_REQUIRED", "EMPTY_SEQUENCE"]
    for c in (no_identity, only_flow, neither):
        after = await get_campaign(gql, c["id"])
        assert after["status"] == "DRAFT" and after["launchedAt"] is None


async def test_unknown_campaign_is_not_found(gql: Any) -> None:
    for action in ACTIONS:
        for bad in ("nope", "Q2FtcGFpZ246OTk5OTk"):  # malformed, and a well-formed id of nothing
            payload = await campaign_action(gql, action, bad)
            assert payload["errors"] == [{"code": "NOT_FOUND", "message": "No such campaign.", "field": ["id"]}]


async def test_concurrent_launches_one_wins(gql: Any) -> None:
    campaign, _ = await campaign_in(gql, "DRAFT", 3)
    results = await asyncio.gather(*(campaign_action(gql, "launchCampaign", campaign["id"]) for _ in range(20)))
    winners = [r for r in results if r["errors"] == []]
    assert len(winners) == 1
    assert all(codes(r) == ["INVALID_TRANSITION"] for r in results if r["errors"])
    assert (await get_campaign(gql, campaign["id"]))["status"] == "ACTIVE"


async def test_concurrent_pause_and_resume_keep_counters(gql: Any) -> None:
    campaign, _ = await campaign_in(gql, "ACTIVE", 5)
    calls = [campaign_action(gql, a, campaign["id"]) for a in ["pauseCampaign", "resumeCampaign"] * 6]
    await asyncio.gather(*calls)
    # The autouse fixture checks the counters against a recount.
    final = await get_campaign(gql, campaign["id"])
    expected = {"PAUSED": 5} if final["status"] == "PAUSED" else {"NOT_STARTED": 5}
    assert statuses(final) == expected


# ------------------------------------------------------------------ the pause cascade


async def test_pause_cascade_remembers_each_lead_and_keeps_manual_pauses(gql: Any) -> None:
    campaign, leads = await campaign_in(gql, "ACTIVE", 6)
    steps = await SequenceStep.filter(campaign_id=decode_id(campaign["id"], "Campaign")).order_by("position")
    now = datetime.now(UTC).replace(microsecond=123456)
    past, future = now - timedelta(hours=2), now + timedelta(days=1)
    not_started, scheduled, waiting, error, finished, manual = leads
    await set_lead(
        scheduled,
        status=LeadStatus.IN_PROGRESS,
        substatus=LeadSubstatus.SCHEDULED,
        current_step_id=steps[1].id,
        started_at=past,
        last_action_at=past,
        next_action_at=future,
        li_engaged=True,
    )
    await set_lead(
        waiting,
        status=LeadStatus.IN_PROGRESS,
        substatus=LeadSubstatus.OUTSIDE_WORKING_HOURS,
        current_step_id=steps[0].id,
        started_at=past,
        next_action_at=now - timedelta(minutes=5),  # a wait that will have expired by the resume
    )
    await set_lead(error, status=LeadStatus.ERROR, substatus=LeadSubstatus.SYSTEM_ERROR, started_at=past)
    await set_lead(finished, status=LeadStatus.FINISHED, substatus=LeadSubstatus.COMPLETED, started_at=past)
    manual_before = await lead_row(manual)
    paused_lead = await ok(
        gql,
        f"mutation($id: ID!) {{ pauseLead(id: $id) {{ lead {{ id status substatus }} {ERRORS} }} }}",
        {"id": manual},
    )
    assert paused_lead["lead"]["substatus"] == "PAUSED_MANUALLY"
    remembered = {lead: await lead_row(lead) for lead in leads}

    paused = await campaign_action(gql, "pauseCampaign", campaign["id"])
    assert paused["errors"] == []
    assert statuses(paused["campaign"]) == {"PAUSED": 4, "ERROR": 1, "FINISHED": 1}
    assert substatuses(paused["campaign"]) == {
        "CAMPAIGN_PAUSED": 3,
        "PAUSED_MANUALLY": 1,
        "SYSTEM_ERROR": 1,
        "COMPLETED": 1,
    }
    for lead in (not_started, scheduled, waiting):
        row = await lead_row(lead)
        assert (row.status, row.substatus, row.next_action_at) == (
            LeadStatus.PAUSED,
            LeadSubstatus.CAMPAIGN_PAUSED,
            None,
        )
        assert row.paused_state["status"] == remembered[lead].status.value
    for lead in (error, finished, manual):
        row = await lead_row(lead)
        assert (row.status, row.substatus) == (remembered[lead].status, remembered[lead].substatus)

    resumed = await campaign_action(gql, "resumeCampaign", campaign["id"])
    assert resumed["errors"] == []
    for lead in (not_started, scheduled, waiting, error, finished, manual):
        row, was = await lead_row(lead), remembered[lead]
        assert (row.status, row.substatus, row.next_action_at) == (was.status, was.substatus, was.next_action_at)
        assert row.current_step_id == was.current_step_id and row.started_at == was.started_at
    assert (await lead_row(waiting)).next_action_at < datetime.now(UTC)  # expired meanwhile: due at once
    assert (await lead_row(manual)).paused_state["status"] == manual_before.status.value
    # The lead paused by hand resumes by hand, into what it was before.
    back = await ok(
        gql,
        f"mutation($id: ID!) {{ resumeLead(id: $id) {{ lead {{ id status substatus }} {ERRORS} }} }}",
        {"id": manual},
    )
    assert back["lead"]["status"] == "NOT_STARTED"
    assert (await lead_row(manual)).next_action_at == manual_before.next_action_at


async def test_leads_added_to_a_paused_campaign_start_on_resume(gql: Any) -> None:
    campaign, _ = await campaign_in(gql, "PAUSED", 1)
    added = await add_leads(gql, campaign["id"], await import_contacts(gql, 2, prefix="Late"))
    assert [lead["substatus"] for lead in added["leads"]] == ["CAMPAIGN_PAUSED", "CAMPAIGN_PAUSED"]
    await campaign_action(gql, "resumeCampaign", campaign["id"])
    for lead in added["leads"]:
        row = await lead_row(lead["id"])
        assert row.status == LeadStatus.NOT_STARTED and row.next_action_at <= datetime.now(UTC)


async def test_leads_added_to_an_active_campaign_are_due_now(gql: Any) -> None:
    campaign, _ = await campaign_in(gql, "ACTIVE", 1)
    added = await add_leads(gql, campaign["id"], await import_contacts(gql, 1, prefix="New"))
    assert added["leads"][0]["status"] == "NOT_STARTED" and added["leads"][0]["nextActionAt"] is not None


# ------------------------------------------------------------------ delete


async def _give_history(lead_id: str) -> None:
    """Activity, a task and flags on a lead, counted as the engine would count them."""
    lead = await set_lead(
        lead_id, status=LeadStatus.IN_PROGRESS, substatus=LeadSubstatus.WAITING_FOR_TASK, started_at=datetime.now(UTC)
    )
    async with transaction():
        await record_activity(lead, ActivityKind.TASK_CREATED, channel=Channel.TASK, dedupe_key=f"t{lead.id}")
        await Task.create(
            workspace_id=lead.workspace_id, campaign_id=lead.campaign_id, lead_id=lead.id, type=TaskType.CALL, title="x"
        )
        await counters.apply(lead.campaign_id, {counters.task_key(TaskStatus.PENDING): 1})


async def test_delete_takes_everything_and_nothing_else(gql: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from domain import events

    deleted_events: list[tuple[int, int]] = []
    monkeypatch.setattr(events, "campaign_deleted", lambda ws, cid: deleted_events.append((ws, cid)))
    doomed, doomed_leads = await campaign_in(gql, "ACTIVE", 2)
    kept, kept_leads = await campaign_in(gql, "ACTIVE", 2)
    for lead in doomed_leads + kept_leads:
        await _give_history(lead)
    kept_before = await get_campaign(gql, kept["id"])
    doomed_pk, kept_pk = decode_id(doomed["id"], "Campaign"), decode_id(kept["id"], "Campaign")

    payload = await mutate(
        gql, f"mutation($id: ID!) {{ deleteCampaign(id: $id) {{ deletedId {ERRORS} }} }}", {"id": doomed["id"]}
    )
    assert payload == {"deletedId": doomed["id"], "errors": []}
    assert await get_campaign(gql, doomed["id"]) is None
    for model in (Lead, Activity, Task, SequenceStep, CampaignCounter):
        assert await model.filter(campaign_id=doomed_pk).count() == 0
        assert await model.filter(campaign_id=kept_pk).count() > 0
    assert await get_campaign(gql, kept["id"]) == kept_before
    assert [cid for _, cid in deleted_events] == [doomed_pk]
    again = await mutate(
        gql, f"mutation($id: ID!) {{ deleteCampaign(id: $id) {{ deletedId {ERRORS} }} }}", {"id": doomed["id"]}
    )
    assert again["deletedId"] is None and codes(again) == ["NOT_FOUND"]


@pytest.mark.parametrize("status", ["DRAFT", "PAUSED", "ARCHIVED"])
async def test_delete_from_any_status(gql: Any, status: str) -> None:
    campaign, _ = await campaign_in(gql, status)
    payload = await mutate(
        gql, f"mutation($id: ID!) {{ deleteCampaign(id: $id) {{ deletedId {ERRORS} }} }}", {"id": campaign["id"]}
    )
    assert payload["errors"] == [] and await Campaign.filter(id=decode_id(campaign["id"], "Campaign")).count() == 0


# ------------------------------------------------------------------ duplicate

BRANCHY = [
    {"type": "LINKEDIN_VISIT_PROFILE"},
    {
        "type": "LINKEDIN_CONNECTION",
        "waitForAcceptanceDays": 7,
        "content": "Hi {{firstName}}",
        "onAccepted": [
            {
                "type": "LINKEDIN_MESSAGE",
                "content": "Thanks {{ai.hook}}",
                "aiVariables": [{"name": "hook", "prompt": "About {company}"}],
            }
        ],
        "onNotAccepted": [{"type": "EMAIL", "subject": "Hello", "content": "x", "delay": {"days": 2}}],
    },
    {"type": "END"},
]
DUPLICATE = f"""mutation($id: ID!, $name: String, $inc: Boolean) {{
  duplicateCampaign(id: $id, name: $name, includeLeads: $inc) {{ campaign {{ id name status launchedAt
    duplicatedFrom {{ id }} identity {{ id }}
    sequence {{ id position type parentStepId branch content subject waitForAcceptanceDays delay {{ totalSeconds }}
                aiVariables {{ name prompt }} }}
    stats {{ allChannels {{ totalContacts started }} statuses {{ status count }} }} }} {ERRORS} }} }}"""


def _shape(sequence: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The tree without its ids: (position, type, parent's position, branch, texts...)."""
    position = {s["id"]: s["position"] for s in sequence}
    return [
        (
            s["position"],
            s["type"],
            position.get(s["parentStepId"]),
            s["branch"],
            s["content"],
            s["subject"],
            s["waitForAcceptanceDays"],
            s["delay"]["totalSeconds"],
            tuple((v["name"], v["prompt"]) for v in s["aiVariables"]),
        )
        for s in sequence
    ]


async def test_duplicate_is_an_independent_draft(gql: Any) -> None:
    source, leads = await campaign_with_leads(gql, 4, steps=BRANCHY)
    await campaign_action(gql, "launchCampaign", source["id"])
    await set_lead(
        leads[0], status=LeadStatus.IN_PROGRESS, substatus=LeadSubstatus.SCHEDULED, started_at=datetime.now(UTC)
    )
    await mutate(
        gql,
        f"mutation($c: ID!, $ids: [ID!]!) {{ removeLeads(campaignId: $c, leadIds: $ids) {{ removedIds {ERRORS} }} }}",
        {"c": source["id"], "ids": [leads[3]]},
    )
    source_before = await get_campaign(gql, source["id"])

    copy = (await ok(gql, DUPLICATE, {"id": source["id"], "inc": True}))["campaign"]
    assert copy["status"] == "DRAFT" and copy["launchedAt"] is None
    assert copy["name"] == "Q4 (copy)"
    assert copy["duplicatedFrom"]["id"] == source["id"]
    assert copy["identity"]["id"] == source_before["identity"]["id"]
    assert {s["id"] for s in copy["sequence"]}.isdisjoint({s["id"] for s in source_before["sequence"]})
    assert _shape(copy["sequence"]) == _shape(
        [{**s, "delay": {"totalSeconds": s["delay"]["totalSeconds"]}} for s in source_before["sequence"]]
    )
    # The audience: live leads only, all NOT_STARTED (the removed one is left out).
    assert copy["stats"]["allChannels"] == {"totalContacts": 3, "started": 0}
    assert {s["status"]: s["count"] for s in copy["stats"]["statuses"] if s["count"]} == {"NOT_STARTED": 3}
    copy_pk = decode_id(copy["id"], "Campaign")
    assert await Lead.filter(campaign_id=copy_pk, next_action_at__isnull=False).count() == 0
    assert await Campaign.get(id=copy_pk).values_list("time_scale", flat=True) == 1.0

    # Editing the copy never changes the source.
    await ok(
        gql,
        "mutation($id: ID!, $i: UpdateCampaignInput!) { updateCampaign(id: $id, input: $i) {"
        f" campaign {{ id }} {ERRORS} }} }}",
        {"id": copy["id"], "i": {"name": "Other", "steps": [{"type": "LINKEDIN_VISIT_PROFILE"}]}},
    )
    await ok(
        gql, "mutation($id: ID!) { launchCampaign(id: $id) { campaign { id } errors { code } } }", {"id": copy["id"]}
    )
    assert await get_campaign(gql, source["id"]) == source_before


async def test_duplicate_without_leads_and_with_a_name(gql: Any) -> None:
    source, _ = await campaign_in(gql, "ARCHIVED", 2)
    copy = (await ok(gql, DUPLICATE, {"id": source["id"], "name": "Again"}))["campaign"]
    assert copy["name"] == "Again" and copy["status"] == "DRAFT"
    assert copy["stats"]["allChannels"]["totalContacts"] == 0
    bad = await mutate(gql, DUPLICATE, {"id": source["id"], "name": "  "})
    assert bad["campaign"] is None and bad["errors"][0]["field"] == ["name"]


async def test_duplicate_keeps_time_scale_and_leaves_removed_and_paused_state_behind(gql: Any) -> None:
    source, leads = await campaign_in(gql, "PAUSED", 3)
    await Campaign.filter(id=decode_id(source["id"], "Campaign")).update(time_scale=1440.0)
    copy = (await ok(gql, DUPLICATE, {"id": source["id"], "inc": True}))["campaign"]
    row = await Campaign.get(id=decode_id(copy["id"], "Campaign"))
    assert row.time_scale == 1440.0
    copied = await Lead.filter(campaign_id=row.id)
    assert len(copied) == 3
    assert {(lead.status, lead.substatus, lead.paused_state, lead.next_action_at) for lead in copied} == {
        (LeadStatus.NOT_STARTED, None, None, None)
    }
    assert {lead.contact_id for lead in copied} == {(await lead_row(lead)).contact_id for lead in leads}


async def test_pause_cascade_on_a_larger_audience(gql: Any) -> None:
    campaign, leads = await campaign_in(gql, "ACTIVE", 120)
    states = [
        (LeadStatus.IN_PROGRESS, LeadSubstatus.SCHEDULED),
        (LeadStatus.IN_PROGRESS, LeadSubstatus.IDENTITY_LIMITS),
        (LeadStatus.ERROR, LeadSubstatus.MISSING_CONTACT_EMAIL),
        (LeadStatus.REPLIED, None),
        (LeadStatus.NOT_STARTED, None),
    ]
    for i, lead in enumerate(leads[:60]):
        status, substatus = states[i % len(states)]
        await set_lead(lead, status=status, substatus=substatus, started_at=datetime.now(UTC))
    for lead in leads[60:70]:
        await mutate(gql, "mutation($id: ID!) { pauseLead(id: $id) { errors { code } } }", {"id": lead})
    before = {s["status"]: s["count"] for s in (await get_campaign(gql, campaign["id"]))["stats"]["statuses"]}
    paused = (await campaign_action(gql, "pauseCampaign", campaign["id"]))["campaign"]
    # NOT_STARTED and IN_PROGRESS all pause; ERROR and REPLIED stay; the 10 paused by hand stay paused.
    assert statuses(paused) == {
        "PAUSED": before["NOT_STARTED"] + before["IN_PROGRESS"] + 10,
        "ERROR": before["ERROR"],
        "REPLIED": before["REPLIED"],
    }
    resumed = (await campaign_action(gql, "resumeCampaign", campaign["id"]))["campaign"]
    assert {s["status"]: s["count"] for s in resumed["stats"]["statuses"]} == before


async def test_leads_added_while_launching_are_all_scheduled(gql: Any) -> None:
    campaign, _ = await campaign_in(gql, "DRAFT", 1)
    batches = [await import_contacts(gql, 3, prefix=f"B{i}") for i in range(5)]
    calls = [add_leads(gql, campaign["id"], batch) for batch in batches]
    calls.insert(2, campaign_action(gql, "launchCampaign", campaign["id"]))
    results = await asyncio.gather(*calls)
    assert all(r["errors"] == [] for r in results)
    pk = decode_id(campaign["id"], "Campaign")
    assert await Lead.filter(campaign_id=pk).count() == 16
    # Whichever ran first, no lead of the now ACTIVE campaign is left unscheduled.
    assert await Lead.filter(campaign_id=pk, next_action_at__isnull=True).count() == 0
