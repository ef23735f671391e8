"""Test data through the model layer (models + domain/leads.py), so counters stay a projection of leads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domain import counters
from domain.activity import record_activity
from domain.ids import to_global_id
from domain.leads import count_leads, update_lead
from domain.tx import transaction
from models import Activity, Campaign, Contact, Identity, Lead, SequenceStep, Task, Workspace
from models.enums import ActivityKind, CampaignStatus, Channel, StepType, TaskStatus, TaskType


def gid(row: Any) -> str:
    """The GraphQL ID of an ORM row."""
    return to_global_id(type(row).__name__, row.id)


async def identity(ws: Workspace, name: str = "Sender", **kw: Any) -> Identity:
    return await Identity.create(workspace=ws, name=name, **kw)


async def contact(ws: Workspace, first: str = "Ada", last: str = "Lovelace", **kw: Any) -> Contact:
    return await Contact.create(workspace=ws, first_name=first, last_name=last, **kw)


async def contacts(ws: Workspace, n: int, prefix: str = "Person") -> list[Contact]:
    rows = [
        Contact(workspace=ws, first_name=f"{prefix}{i}", last_name="Test", email=f"{prefix.lower()}{i}@example.com")
        for i in range(n)
    ]
    await Contact.bulk_create(rows)
    return await Contact.filter(workspace=ws, first_name__startswith=prefix).order_by("id")


async def campaign(
    ws: Workspace,
    name: str = "Campaign",
    status: CampaignStatus = CampaignStatus.DRAFT,
    steps: list[StepType] | None = None,
) -> tuple[Campaign, list[SequenceStep]]:
    """A campaign with a linear sequence of the given step types (positions 1..n)."""
    row = await Campaign.create(workspace=ws, name=name, status=status)
    made = [
        await SequenceStep.create(campaign=row, position=i + 1, type=t, delay_seconds=3600 * i)
        for i, t in enumerate(steps or [])
    ]
    return row, made


async def leads(campaign: Campaign, people: list[Contact]) -> list[Lead]:
    """Add contacts as NOT_STARTED leads, counted."""
    async with transaction():
        rows = [Lead(workspace_id=campaign.workspace_id, campaign=campaign, contact=p) for p in people]
        await Lead.bulk_create(rows)
        made = await Lead.filter(campaign=campaign, contact_id__in=[p.id for p in people]).order_by("id")
        await count_leads(campaign.workspace_id, campaign.id, made)
    return list(made)


async def change(lead: Lead, **changes: Any) -> Lead:
    """Change a lead's counted state through domain.leads.update_lead (re-read if it moved meanwhile)."""
    async with transaction():
        if not await update_lead(lead, **changes):
            fresh = await Lead.get(id=lead.id)
            assert await update_lead(fresh, **changes)
            return fresh
    return lead


async def remove(lead: Lead) -> Lead:
    """Remove a lead as removeLeads does: it leaves every counter, its tasks' included."""
    async with transaction():
        assert await update_lead(lead, removed_at=datetime.now(UTC))
        delta: dict[str, int] = {}
        for status in await Task.filter(lead_id=lead.id).values_list("status", flat=True):
            key = counters.task_key(status)
            delta[key] = delta.get(key, 0) - 1
        await counters.apply(lead.campaign_id, delta)
    return lead


async def activity(
    lead: Lead,
    kind: ActivityKind,
    at: datetime,
    *,
    step: SequenceStep | None = None,
    channel: Channel | None = None,
    detail: str | None = None,
) -> Activity:
    async with transaction():
        pk = await record_activity(
            lead, kind, channel=channel, step_id=step.id if step else None, detail=detail, occurred_at=at
        )
    assert pk is not None
    return await Activity.get(id=pk)


async def task(
    lead: Lead, step: SequenceStep | None = None, status: TaskStatus = TaskStatus.PENDING, title: str = "Call them"
) -> Task:
    """A task, counted under tasks:{status} as the engine counts it."""
    async with transaction():
        row = await Task.create(
            workspace_id=lead.workspace_id,
            campaign_id=lead.campaign_id,
            lead=lead,
            step=step,
            type=TaskType.CALL,
            title=title,
            status=status,
            completed_at=datetime.now(UTC) if status == TaskStatus.COMPLETED else None,
        )
        await counters.apply(lead.campaign_id, {counters.task_key(status): 1})
    return row


# ------------------------------------------------------------------ the Overview, counted the slow way

STATS_QUERY = """query($id: ID!) { campaign(id: $id) { stats {
    campaignId version updatedAt
    allChannels { totalContacts started contacted replied positive }
    linkedin { engaged invited accepted contacted replied positive }
    email { sent clicked replied positive bounced unsubscribed }
    tasks { pending completed }
    statuses { status count }
    substatuses { status substatus count }
    steps { stepId leadCount } } } }"""


async def stats_from_leads(campaign: Campaign) -> dict[str, Any]:
    """CampaignStats as domain.md's metric table defines it, counted from the leads' and tasks' own rows.

    Independent of domain/counters.py on purpose: it is what the counters must agree with.
    """
    from models.enums import SUBSTATUS_STATUS, LeadStatus, LeadSubstatus

    leads = [lead for lead in await Lead.filter(campaign_id=campaign.id) if lead.removed_at is None]
    in_campaign = {lead.id for lead in leads}
    tasks = [t for t in await Task.filter(campaign_id=campaign.id) if t.lead_id in in_campaign]
    steps = await SequenceStep.filter(campaign_id=campaign.id).order_by("position")

    def n(test: Any) -> int:
        return sum(1 for lead in leads if test(lead))

    substatuses = [
        {"status": SUBSTATUS_STATUS[sub].value, "substatus": sub.value, "count": n(lambda x, s=sub: x.substatus == s)}
        for sub in LeadSubstatus
    ]
    return {
        "campaignId": gid(campaign),
        "allChannels": {
            "totalContacts": len(leads),
            "started": n(lambda x: x.started_at is not None),
            "contacted": n(lambda x: x.contacted),
            "replied": n(lambda x: x.replied),
            "positive": n(lambda x: x.replied and x.positive),
        },
        "linkedin": {
            "engaged": n(lambda x: x.li_engaged),
            "invited": n(lambda x: x.li_invited),
            "accepted": n(lambda x: x.li_accepted),
            "contacted": n(lambda x: x.li_contacted),
            "replied": n(lambda x: x.li_replied),
            "positive": n(lambda x: x.li_replied and x.positive),
        },
        "email": {
            "sent": n(lambda x: x.em_sent),
            "clicked": n(lambda x: x.em_clicked),
            "replied": n(lambda x: x.em_replied),
            "positive": n(lambda x: x.em_replied and x.positive),
            "bounced": n(lambda x: x.em_bounced),
            "unsubscribed": n(lambda x: x.em_unsubscribed),
        },
        "tasks": {
            "pending": sum(1 for t in tasks if t.status == TaskStatus.PENDING),
            "completed": sum(1 for t in tasks if t.status == TaskStatus.COMPLETED),
        },
        "statuses": [{"status": s.value, "count": n(lambda x, s=s: x.status == s)} for s in LeadStatus],
        "substatuses": [entry for entry in substatuses if entry["count"]],
        "steps": [{"stepId": gid(s), "leadCount": n(lambda x, s=s: x.current_step_id == s.id)} for s in steps],
    }


def without_version(stats: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in stats.items() if k not in ("version", "updatedAt")}
