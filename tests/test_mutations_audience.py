"""The audience: addLeads with per-contact errors, the removal tombstone, the caps, pauseLead / resumeLead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain import counters
from domain.activity import record_activity
from domain.ids import decode_id, to_global_id
from domain.leads import update_lead
from domain.tx import transaction
from models import Activity, Contact, Lead, Task
from models.enums import ActivityKind, Channel, LeadStatus, LeadSubstatus, TaskStatus, TaskType
from tests.factories_mutations import (
    ERRORS,
    LEAD_FIELDS,
    add_leads,
    campaign_action,
    campaign_with_leads,
    codes,
    counters_match_recount,  # noqa: F401  (autouse: counters equal a recount after each test)
    create_campaign,
    get_campaign,
    get_lead,
    import_contacts,
    mutate,
    statuses,
)

REMOVE = "mutation($c: ID!, $ids: [ID!]!) { removeLeads(campaignId: $c, leadIds: $ids) { removedIds " + ERRORS + " } }"
PAUSE = f"mutation($id: ID!) {{ pauseLead(id: $id) {{ lead {{ {LEAD_FIELDS} }} {ERRORS} }} }}"
RESUME = f"mutation($id: ID!) {{ resumeLead(id: $id) {{ lead {{ {LEAD_FIELDS} }} {ERRORS} }} }}"


async def lead_row(lead_id: str) -> Lead:
    return await Lead.get(id=decode_id(lead_id, "Lead"))


async def set_lead(lead_id: str, **changes: Any) -> Lead:
    lead = await lead_row(lead_id)
    async with transaction():
        assert await update_lead(lead, **changes)
    return lead


async def test_add_leads_reports_each_refused_contact_and_adds_the_rest(gql: Any, other_workspace: Any) -> None:
    campaign, _ = await campaign_with_leads(gql, 0)
    contacts = await import_contacts(gql, 4)
    first = await add_leads(gql, campaign["id"], contacts[:2])
    assert first["errors"] == [] and len(first["leads"]) == 2
    assert [lead["status"] for lead in first["leads"]] == ["NOT_STARTED"] * 2
    removed = await mutate(gql, REMOVE, {"c": campaign["id"], "ids": [first["leads"][1]["id"]]})
    assert removed["errors"] == []
    foreign = await Contact.create(workspace=other_workspace[0], first_name="Eve", last_name="X")
    ids = [
        contacts[0],  # 0: already in
        contacts[1],  # 1: removed once
        "bm9wZQ",  # 2: malformed
        to_global_id("Contact", foreign.id),  # 3: another workspace's
        contacts[2],  # 4: added
        contacts[2],  # 5: twice in the list
        contacts[3],  # 6: added
        campaign["id"],  # 7: an ID of another type
    ]
    payload = await add_leads(gql, campaign["id"], ids)
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("ALREADY_IN_CAMPAIGN", ["contactIds", "0"]),
        ("LEAD_PREVIOUSLY_REMOVED", ["contactIds", "1"]),
        ("NOT_FOUND", ["contactIds", "2"]),
        ("NOT_FOUND", ["contactIds", "3"]),
        ("ALREADY_IN_CAMPAIGN", ["contactIds", "5"]),
        ("NOT_FOUND", ["contactIds", "7"]),
    ]
    assert len(payload["leads"]) == 2
    after = await get_campaign(gql, campaign["id"])
    assert after["stats"]["allChannels"]["totalContacts"] == 3
    assert await Lead.filter(contact_id=foreign.id).count() == 0


async def test_remove_leaves_a_tombstone_and_every_counter(gql: Any) -> None:
    campaign, leads = await campaign_with_leads(gql, 3)
    await campaign_action(gql, "launchCampaign", campaign["id"])
    lead = await set_lead(
        leads[0],
        status=LeadStatus.IN_PROGRESS,
        substatus=LeadSubstatus.WAITING_FOR_TASK,
        started_at=datetime.now(UTC),
        contacted=True,
        em_sent=True,
        next_action_at=datetime.now(UTC) + timedelta(days=1),
    )
    async with transaction():
        await record_activity(lead, ActivityKind.EMAIL_SENT, channel=Channel.EMAIL, dedupe_key="e1")
        await Task.create(
            workspace_id=lead.workspace_id, campaign_id=lead.campaign_id, lead_id=lead.id, type=TaskType.CALL, title="t"
        )
        await counters.apply(lead.campaign_id, {counters.task_key(TaskStatus.PENDING): 1})

    payload = await mutate(gql, REMOVE, {"c": campaign["id"], "ids": [leads[0], leads[0]]})
    assert payload == {"removedIds": [leads[0]], "errors": []}
    row = await lead_row(leads[0])
    assert row.removed_at is not None and row.next_action_at is None  # the row stays, nothing scheduled
    assert await Activity.filter(lead_id=row.id).count() == 1  # its history stays
    assert await get_lead(gql, leads[0]) is None  # out of the audience
    stats = (await get_campaign(gql, campaign["id"]))["stats"]
    assert stats["allChannels"] == {"totalContacts": 2, "started": 0}
    assert statuses({"stats": stats}) == {"NOT_STARTED": 2}
    numbers, _, _ = await counters.read(row.campaign_id)
    assert numbers.get("em_sent") == 0 and numbers.get(counters.task_key(TaskStatus.PENDING)) == 0
    # Gone for good: not removable twice, and the contact can never come back.
    again = await mutate(gql, REMOVE, {"c": campaign["id"], "ids": [leads[0], "bad"]})
    assert [(e["code"], e["field"]) for e in again["errors"]] == [
        ("NOT_FOUND", ["leadIds", "0"]),
        ("NOT_FOUND", ["leadIds", "1"]),
    ]
    contact_id = to_global_id("Contact", row.contact_id)
    assert codes(await add_leads(gql, campaign["id"], [contact_id])) == ["LEAD_PREVIOUSLY_REMOVED"]


async def test_remove_refuses_leads_of_another_campaign(gql: Any) -> None:
    campaign, _ = await campaign_with_leads(gql, 1)
    _, other_leads = await campaign_with_leads(gql, 1, name="Other")
    payload = await mutate(gql, REMOVE, {"c": campaign["id"], "ids": other_leads})
    assert codes(payload) == ["NOT_FOUND"] and payload["removedIds"] == []
    assert (await lead_row(other_leads[0])).removed_at is None


@pytest.mark.parametrize("which", ["importContacts", "addLeads", "removeLeads"])
async def test_lists_over_1000_are_refused_whole(gql: Any, which: str) -> None:
    campaign, leads = await campaign_with_leads(gql, 2)
    before = await get_campaign(gql, campaign["id"])
    contacts_before = await Contact.all().count()
    if which == "importContacts":
        many = [{"firstName": "A", "lastName": "B"}] * 1001
        payload = await mutate(
            gql,
            f"mutation($c: [ContactInput!]!) {{ importContacts(contacts: $c) {{ contacts {{ id }} {ERRORS} }} }}",
            {"c": many},
        )
        field = ["contacts"]
    elif which == "addLeads":
        fresh = await import_contacts(gql, 1, prefix="Z")
        contacts_before += 1
        payload = await add_leads(gql, campaign["id"], fresh * 1001)
        field = ["contactIds"]
    else:
        payload = await mutate(gql, REMOVE, {"c": campaign["id"], "ids": leads * 501})
        field = ["leadIds"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("INVALID_INPUT", field)]
    assert await get_campaign(gql, campaign["id"]) == before
    assert await Contact.all().count() == contacts_before


async def test_exactly_1000_is_accepted(gql: Any) -> None:
    campaign, _ = await campaign_with_leads(gql, 0)
    contacts = await import_contacts(gql, 1000)
    payload = await add_leads(gql, campaign["id"], contacts)
    assert payload["errors"] == [] and len(payload["leads"]) == 1000
    assert (await get_campaign(gql, campaign["id"]))["stats"]["allChannels"]["totalContacts"] == 1000


async def test_archived_audience_is_frozen(gql: Any) -> None:
    campaign, leads = await campaign_with_leads(gql, 1)
    await campaign_action(gql, "archiveCampaign", campaign["id"])
    assert codes(await add_leads(gql, campaign["id"], await import_contacts(gql, 1, prefix="Y"))) == [
        "INVALID_TRANSITION"
    ]
    assert codes(await mutate(gql, REMOVE, {"c": campaign["id"], "ids": leads})) == ["INVALID_TRANSITION"]
    assert codes(await mutate(gql, PAUSE, {"id": leads[0]})) == ["INVALID_TRANSITION"]


# ------------------------------------------------------------------ pauseLead / resumeLead


@pytest.mark.parametrize(
    ("status", "substatus"),
    [
        (LeadStatus.NOT_STARTED, None),
        (LeadStatus.IN_PROGRESS, LeadSubstatus.SCHEDULED),
        (LeadStatus.ERROR, LeadSubstatus.LEAD_NOT_SCRAPED),
    ],
)
async def test_pause_lead_and_resume_it(gql: Any, status: LeadStatus, substatus: LeadSubstatus | None) -> None:
    campaign, leads = await campaign_with_leads(gql, 1)
    await campaign_action(gql, "launchCampaign", campaign["id"])
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3)
    if status != LeadStatus.NOT_STARTED:
        await set_lead(leads[0], status=status, substatus=substatus, started_at=datetime.now(UTC), next_action_at=due)
    before = await lead_row(leads[0])
    paused = await mutate(gql, PAUSE, {"id": leads[0]})
    assert paused["errors"] == []
    assert paused["lead"] == {"id": leads[0], "status": "PAUSED", "substatus": "PAUSED_MANUALLY", "nextActionAt": None}
    assert statuses(await get_campaign(gql, campaign["id"])) == {"PAUSED": 1}
    assert codes(await mutate(gql, PAUSE, {"id": leads[0]})) == ["INVALID_TRANSITION"]
    resumed = await mutate(gql, RESUME, {"id": leads[0]})
    assert resumed["errors"] == []
    row = await lead_row(leads[0])
    assert (row.status, row.substatus, row.next_action_at) == (before.status, before.substatus, before.next_action_at)
    assert row.paused_state is None
    assert codes(await mutate(gql, RESUME, {"id": leads[0]})) == ["INVALID_TRANSITION"]


@pytest.mark.parametrize(
    ("status", "substatus"),
    [(LeadStatus.FINISHED, LeadSubstatus.COMPLETED), (LeadStatus.REPLIED, None)],
)
async def test_pause_lead_refused_when_done(gql: Any, status: LeadStatus, substatus: LeadSubstatus | None) -> None:
    _, leads = await campaign_with_leads(gql, 1)
    await set_lead(leads[0], status=status, substatus=substatus, started_at=datetime.now(UTC))
    payload = await mutate(gql, PAUSE, {"id": leads[0]})
    assert payload["lead"] is None
    assert payload["errors"][0]["code"] == "INVALID_TRANSITION" and payload["errors"][0]["field"] == ["id"]
    assert (await lead_row(leads[0])).status == status


async def test_resume_lead_in_a_paused_campaign_stays_paused_with_it(gql: Any) -> None:
    campaign, leads = await campaign_with_leads(gql, 2)
    await campaign_action(gql, "launchCampaign", campaign["id"])
    await mutate(gql, PAUSE, {"id": leads[0]})
    kept = (await lead_row(leads[0])).paused_state
    await campaign_action(gql, "pauseCampaign", campaign["id"])
    # A lead paused by the campaign is not one to resume by hand.
    assert codes(await mutate(gql, RESUME, {"id": leads[1]})) == ["INVALID_TRANSITION"]
    assert codes(await mutate(gql, PAUSE, {"id": leads[1]})) == ["INVALID_TRANSITION"]
    resumed = await mutate(gql, RESUME, {"id": leads[0]})
    assert resumed["lead"]["status"] == "PAUSED" and resumed["lead"]["substatus"] == "CAMPAIGN_PAUSED"
    assert (await lead_row(leads[0])).paused_state == kept
    await campaign_action(gql, "resumeCampaign", campaign["id"])
    assert statuses(await get_campaign(gql, campaign["id"])) == {"NOT_STARTED": 2}


async def test_lead_paused_in_draft_is_due_when_resumed_after_launch(gql: Any) -> None:
    campaign, leads = await campaign_with_leads(gql, 1)
    await mutate(gql, PAUSE, {"id": leads[0]})
    await campaign_action(gql, "launchCampaign", campaign["id"])
    assert (await lead_row(leads[0])).status == LeadStatus.PAUSED  # launch leaves it paused
    resumed = await mutate(gql, RESUME, {"id": leads[0]})
    assert resumed["lead"]["status"] == "NOT_STARTED" and resumed["lead"]["nextActionAt"] is not None


async def test_removed_or_unknown_lead_is_not_found(gql: Any) -> None:
    campaign, leads = await campaign_with_leads(gql, 1)
    await mutate(gql, REMOVE, {"c": campaign["id"], "ids": leads})
    for lead_id in (leads[0], "bad", campaign["id"]):
        for query in (PAUSE, RESUME):
            payload = await mutate(gql, query, {"id": lead_id})
            assert payload["lead"] is None and codes(payload) == ["NOT_FOUND"]


async def test_create_campaign_without_steps(gql: Any) -> None:
    campaign = await create_campaign(gql, steps=[], identity=False)
    assert campaign["status"] == "DRAFT" and campaign["sequence"] == [] and campaign["identity"] is None
