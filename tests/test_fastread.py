"""models/fastread.py: its rows are the QuerySet's rows, field for field, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from models import Activity, Campaign, Contact, Lead, SequenceStep, fastread
from models.enums import ActivityKind, CampaignStatus, LeadStatus, LeadSubstatus, StepType
from tests import factories as f


def _state(row: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(row).items() if k != "_await_when_save"} | {"_await": row._await_when_save}


async def test_every_model_read_by_fastread_equals_the_querysets_instance(workspace: Any) -> None:
    ws, _ = workspace
    campaign, (_visit, email) = await f.campaign(
        ws, "Rows", CampaignStatus.ACTIVE, [StepType.LINKEDIN_VISIT_PROFILE, StepType.EMAIL]
    )
    people = [await f.contact(ws, "Ada", "Lovelace", email="ada@example.com"), await f.contact(ws, "Bob", "Byte")]
    ada, _bob = await f.leads(campaign, people)
    await f.change(
        ada,
        status=LeadStatus.ERROR,
        substatus=LeadSubstatus.MISSING_EMAIL,
        current_step_id=email.id,
        error_message="no email",
        next_action_at=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
    )
    await f.activity(ada, ActivityKind.EMAIL_SENT, datetime(2026, 11, 20, 9, 0, tzinfo=UTC), step=email, detail="hi")

    for model in (Campaign, SequenceStep, Contact, Lead, Activity):
        if model is SequenceStep:
            expected = await SequenceStep.filter(campaign_id=campaign.id).order_by("id")
            got = await fastread.select(
                SequenceStep, fastread.where().equals("campaign_id", campaign.id), order_by=("id",)
            )
        else:
            expected = await model.filter(workspace_id=ws.id).order_by("id")
            got = await fastread.select(model, fastread.where().equals("workspace_id", ws.id), order_by=("id",))
        assert expected, model
        assert [type(r) for r in got] == [model] * len(expected)
        assert [_state(r) for r in got] == [_state(r) for r in expected], model


async def test_conditions_filter_order_and_limit_as_the_queryset_does(workspace: Any) -> None:
    ws, _ = workspace
    campaign, _ = await f.campaign(ws, "Rows", CampaignStatus.ACTIVE, [StepType.EMAIL])
    leads = await f.leads(campaign, await f.contacts(ws, 5))
    await f.change(leads[1], status=LeadStatus.IN_PROGRESS, substatus=LeadSubstatus.SCHEDULED)
    await f.change(leads[3], status=LeadStatus.IN_PROGRESS, substatus=LeadSubstatus.SCHEDULED)

    status = fastread.db_value(Lead, "status", LeadStatus.IN_PROGRESS)
    got = await fastread.select(Lead, fastread.where().equals("campaign_id", campaign.id).equals("status", status))
    assert sorted(r.id for r in got) == [leads[1].id, leads[3].id]

    ids = [leads[0].id, leads[2].id, leads[4].id]
    got = await fastread.select(Lead, fastread.where().among("id", ids), order_by=("-id",), limit=2)
    assert [r.id for r in got] == [leads[4].id, leads[2].id]
    assert await fastread.select(Lead, fastread.where().among("id", [])) == []
    got = await fastread.select(Lead, fastread.where().add('"id" > {}', leads[2].id), order_by=("id",))
    assert [r.id for r in got] == [leads[3].id, leads[4].id]


async def test_the_engines_joined_lead_read_builds_the_querysets_instances(workspace: Any) -> None:
    # engine/rows.py reads a lead with its contact, campaign and identity in one query, through fastread
    from engine import rows
    from models import Identity

    ws, _ = workspace
    sender = await f.identity(ws, "Sender")
    campaign, (visit,) = await f.campaign(ws, "Joined", CampaignStatus.ACTIVE, [StepType.LINKEDIN_VISIT_PROFILE])
    await Campaign.filter(id=campaign.id).update(identity_id=sender.id)
    bare, _ = await f.campaign(ws, "No identity", CampaignStatus.ACTIVE, [])
    (lead,) = await f.leads(campaign, [await f.contact(ws, "Ada", "Lovelace", email="ada@example.com")])
    (alone,) = await f.leads(bare, [await f.contact(ws, "Bob", "Byte")])
    await f.change(lead, status=LeadStatus.IN_PROGRESS, substatus=LeadSubstatus.SCHEDULED, current_step_id=visit.id)

    joined = await rows.read_lead(lead.id)
    assert joined is not None
    assert _state(joined.lead) == _state(await Lead.get(id=lead.id))
    assert joined.contact is not None and _state(joined.contact) == _state(await Contact.get(id=lead.contact_id))
    assert joined.campaign is not None and _state(joined.campaign) == _state(await Campaign.get(id=campaign.id))
    assert joined.identity is not None and _state(joined.identity) == _state(await Identity.get(id=sender.id))

    without = await rows.read_lead(alone.id)
    assert without is not None and without.identity is None and without.campaign is not None
    assert [s.id for s in await rows.campaign_steps(campaign.id)] == [visit.id]
    assert await rows.read_lead(10**9) is None
