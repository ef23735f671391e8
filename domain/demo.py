"""The demo workspace that `make run` seeds on first start, and the key it prints on every start.

A newcomer gets a workspace, a sender, 200 contacts and a running campaign whose leads stand in every
status, with a day of delay played in a minute (`time_scale`), so GraphiQL shows numbers moving at once.
The demo's API key is kept in `outbound.demo-key` beside the database (keys are stored hashed).
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from config import Settings
from domain.activity import record_activity
from domain.auth import create_api_key
from domain.counters import task_key
from domain.leads import apply_bulk_delta, count_leads
from domain.problems import PROBLEMS
from domain.tx import transaction
from models import Activity, ApiKey, Campaign, Contact, Identity, Lead, SequenceStep, Task, Workspace
from models.enums import (
    ActivityKind,
    Branch,
    CampaignStatus,
    Channel,
    ConditionType,
    LeadStatus,
    LeadSubstatus,
    StepType,
    TaskStatus,
    TaskType,
)

log = logging.getLogger("outbound.demo")
DEMO_WORKSPACE = "Outbound demo"
KEY_FILE = Path("outbound.demo-key")

FIRST = [
    "Ana",
    "Ben",
    "Chloe",
    "Diego",
    "Elena",
    "Farid",
    "Grace",
    "Hugo",
    "Ines",
    "Jonas",
    "Kenji",
    "Lucia",
    "Marta",
    "Nils",
    "Olga",
    "Pablo",
    "Quinn",
    "Rosa",
    "Sami",
    "Tara",
]
LAST = ["Garcia", "Smith", "Müller", "Rossi", "Dubois", "Novak", "Silva", "Kowalski", "Jensen", "Okafor"]
COMPANIES = [
    "Northwind",
    "Initech",
    "Hooli",
    "Umbrella",
    "Stark Labs",
    "Wayne Corp",
    "Vandelay",
    "Acme",
    "Globex",
    "Soylent",
]
TITLES = ["CEO", "CTO", "Head of Sales", "VP Marketing", "Founder", "RevOps Lead"]


async def ensure_demo(settings: Settings) -> str:
    """Seed the demo on first start; print GraphiQL's URL and the demo key every start. Returns the key."""
    workspace = await Workspace.get_or_none(name=DEMO_WORKSPACE)
    if workspace is None:
        key = await seed_demo(settings)
    elif (saved := _read_key()) is not None:
        key = saved
    else:  # the key file was lost: issue a new key, the old one keeps working
        key = await create_api_key(workspace)
        _write_key(key)
    banner = (
        f"\n  Outbound is running: open http://{settings.host}:{settings.port}/graphql\n"
        f'  In GraphiQL\'s Headers pane paste:  {{"Authorization": "Bearer {key}"}}\n'
        f"  Demo API key: {key}\n"
    )
    print(banner, flush=True)
    return key


def _read_key() -> str | None:
    # A few bytes at start-up: not worth a thread.
    return KEY_FILE.read_text().strip() if KEY_FILE.exists() else None


def _write_key(key: str) -> None:
    KEY_FILE.write_text(key + "\n")


async def seed_demo(settings: Settings, contacts: int = 200, seed: int = 7) -> str:
    rnd = random.Random(seed)
    now = datetime.now(UTC)
    async with transaction():
        workspace = await Workspace.create(name=DEMO_WORKSPACE)
        key = await create_api_key(workspace)
        identity = await Identity.create(
            workspace=workspace,
            name="Sam Sender",
            linkedin_url="https://www.linkedin.com/in/sam-sender",
            linkedin_connected=True,
            email_address="sam@outbound.example",
            email_connected=True,
            timezone="UTC",
            work_days=0b1111111,  # the demo works every day, all day, so it always moves
            work_start="00:00",
            work_end="23:59",
        )
        people = []
        for i in range(contacts):
            first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
            company = COMPANIES[i % len(COMPANIES)]
            people.append(
                Contact(
                    workspace=workspace,
                    first_name=first,
                    last_name=last,
                    # every 12th contact has no email, every 15th no LinkedIn: the demo's ERROR leads
                    email=None if i % 12 == 5 else f"{first.lower()}.{i}@{company.lower().replace(' ', '')}.example",
                    linkedin_url=None
                    if i % 15 == 7
                    else f"https://www.linkedin.com/in/{first.lower()}-{last.lower()}-{i}",
                    company=company,
                    title=TITLES[i % len(TITLES)],
                )
            )
        await Contact.bulk_create(people)
        people = await Contact.filter(workspace=workspace).order_by("id")

        campaign = await Campaign.create(
            workspace=workspace,
            name="Q4 outreach: SaaS founders",
            status=CampaignStatus.ACTIVE,
            identity=identity,
            launched_at=now - timedelta(hours=2),
            time_scale=settings.demo_speed,
        )
        steps = await _demo_sequence(campaign)
        leads = await _demo_leads(rnd, workspace, campaign, people[:160], steps, now)
        await count_leads(workspace.id, campaign.id, leads)
        pending = await Task.filter(campaign=campaign).count()
        await apply_bulk_delta(workspace.id, campaign.id, {task_key(TaskStatus.PENDING): pending})

        draft = await Campaign.create(workspace=workspace, name="Webinar follow-up (draft)", identity=identity)
        await SequenceStep.create(
            campaign=draft,
            position=1,
            type=StepType.EMAIL,
            subject="Thanks for joining, {{firstName}}",
            content="Hi {{firstName}}, here are the slides.",
        )
    _write_key(key)
    log.info("demo seeded: %s contacts, campaign %s with %s leads", contacts, campaign.id, len(leads))
    return key


async def _demo_sequence(campaign: Campaign) -> dict[str, SequenceStep]:
    async def step(position: int, type_: StepType, **kw: object) -> SequenceStep:
        return await SequenceStep.create(campaign=campaign, position=position, type=type_, **kw)

    visit = await step(1, StepType.LINKEDIN_VISIT_PROFILE)
    invite = await step(
        2,
        StepType.LINKEDIN_CONNECTION,
        delay_seconds=86400,
        wait_for_acceptance_days=5,
        content="Hi {{firstName}}, I enjoy what {{company}} is doing. Happy to connect!",
    )
    message = await step(
        3,
        StepType.LINKEDIN_MESSAGE,
        parent=invite,
        branch=Branch.ACCEPTED,
        delay_seconds=86400,
        content="Thanks for connecting, {{firstName}}! {{ai.opener}} Open to a 15-minute chat?",
        ai_variables=[{"name": "opener", "prompt": "One friendly line about {company} for {firstName}, the {title}."}],
    )
    condition = await step(
        4, StepType.CONDITION, parent=invite, branch=Branch.NOT_ACCEPTED, condition=ConditionType.HAS_EMAIL
    )
    email = await step(
        5,
        StepType.EMAIL,
        parent=condition,
        branch=Branch.ON_TRUE,
        subject="Quick question, {{firstName}}",
        content="Hi {{firstName}},\n\nHow does {{company}} handle outbound today?",
    )
    task = await step(
        6,
        StepType.TASK,
        parent=condition,
        branch=Branch.ON_FALSE,
        task_type=TaskType.CALL,
        title="Call the lead: no email, invitation not accepted",
    )
    follow_up = await step(
        7,
        StepType.EMAIL,
        delay_seconds=3 * 86400,
        subject="Following up, {{firstName}}",
        content="Hi {{firstName}}, just bumping this up. Worth a chat?",
    )
    end = await step(8, StepType.END)
    return {
        "visit": visit,
        "invite": invite,
        "message": message,
        "condition": condition,
        "email": email,
        "task": task,
        "follow_up": follow_up,
        "end": end,
    }


async def _demo_leads(
    rnd: random.Random,
    workspace: Workspace,
    campaign: Campaign,
    people: list[Contact],
    steps: dict[str, SequenceStep],
    now: datetime,
) -> list[Lead]:
    """Leads in every status, with the activity that got them there. Most start fresh and move live."""
    leads: list[Lead] = []
    for i, contact in enumerate(people):
        lead = Lead(workspace=workspace, campaign=campaign, contact=contact)
        ago = now - timedelta(minutes=rnd.randint(10, 110))
        kind = _demo_kind(i, contact)
        lead.added_at = now - timedelta(hours=2)
        if kind == "fresh":
            lead.next_action_at = now + timedelta(seconds=rnd.randint(2, 60))
        else:
            lead.started_at = ago
            lead.last_action_at = ago
            lead.li_engaged = True
        if kind == "waiting":
            lead.status, lead.substatus = LeadStatus.IN_PROGRESS, LeadSubstatus.WAITING_TO_CONNECT
            lead.current_step = steps["invite"]
            lead.li_invited = True
            lead.invitation_sent_at = ago
            lead.next_action_at = now + timedelta(seconds=rnd.randint(60, 300))
        elif kind == "scheduled":
            lead.status, lead.substatus = LeadStatus.IN_PROGRESS, LeadSubstatus.SCHEDULED
            lead.current_step = steps["invite"]
            lead.next_action_at = now + timedelta(seconds=rnd.randint(10, 60))
        elif kind == "task":
            lead.status, lead.substatus = LeadStatus.IN_PROGRESS, LeadSubstatus.WAITING_FOR_TASK
            lead.current_step = steps["task"]
            lead.li_invited = True
        elif kind == "replied":
            lead.status, lead.replied, lead.li_replied = LeadStatus.REPLIED, True, True
            lead.li_invited = lead.li_accepted = lead.li_contacted = lead.contacted = lead.connected = True
            lead.positive = (i // 16) % 2 == 0
            lead.replied_at = ago + timedelta(minutes=6)
            lead.last_channel = Channel.LINKEDIN
        elif kind == "finished":
            lead.status, lead.substatus = LeadStatus.FINISHED, LeadSubstatus.COMPLETED
            lead.li_invited = lead.li_accepted = lead.li_contacted = lead.contacted = lead.connected = True
            lead.em_sent = True
            lead.finished_at = ago + timedelta(minutes=6)
        elif kind == "bounced":
            lead.status, lead.substatus = LeadStatus.FINISHED, LeadSubstatus.BOUNCED
            lead.li_invited = lead.em_sent = lead.contacted = lead.em_bounced = True
            lead.finished_at = ago + timedelta(minutes=6)
        elif kind == "error_email":
            lead.status, lead.substatus = LeadStatus.ERROR, LeadSubstatus.MISSING_CONTACT_EMAIL
            lead.current_step = steps["follow_up"]
            lead.li_invited = True
            lead.error_message, lead.error_hint = PROBLEMS[LeadSubstatus.MISSING_CONTACT_EMAIL]
            lead.error_at = ago
        elif kind == "error_linkedin":
            lead.status, lead.substatus = LeadStatus.ERROR, LeadSubstatus.LEAD_NOT_SCRAPED
            lead.current_step = steps["visit"]
            lead.li_engaged = False
            lead.error_message, lead.error_hint = PROBLEMS[LeadSubstatus.LEAD_NOT_SCRAPED]
            lead.error_at = ago
        elif kind == "paused":
            lead.status, lead.substatus = LeadStatus.PAUSED, LeadSubstatus.PAUSED_MANUALLY
            lead.current_step = steps["invite"]
            lead.paused_state = {
                "status": "IN_PROGRESS",
                "substatus": "SCHEDULED",
                "next_action_at": (now + timedelta(minutes=1)).isoformat(),
            }
        leads.append(lead)
    await Lead.bulk_create(leads)
    leads = await Lead.filter(campaign=campaign).order_by("id").select_related("contact")
    await _demo_history(leads, steps, now)
    return leads


def _demo_kind(i: int, contact: Contact) -> str:
    if contact.linkedin_url is None and i % 2 == 1:
        return "error_linkedin"
    if contact.email is None and i % 3 == 2:
        return "error_email"
    pattern = [
        "fresh",
        "fresh",
        "waiting",
        "fresh",
        "replied",
        "finished",
        "fresh",
        "scheduled",
        "task",
        "fresh",
        "bounced",
        "fresh",
        "paused",
        "fresh",
        "waiting",
        "fresh",
    ]
    return pattern[i % len(pattern)]


async def _demo_history(leads: list[Lead], steps: dict[str, SequenceStep], now: datetime) -> None:
    """The Activity log entries that the seeded states imply (oldest first per lead)."""
    for lead in leads:
        if lead.started_at is None:
            continue
        at = lead.started_at
        note = f"Note: Hi {lead.contact.first_name}, I enjoy what {lead.contact.company} is doing. Happy to connect!"
        # (flag that implies it, kind, channel, step, minutes after the start, detail)
        implied = [
            (lead.li_engaged, ActivityKind.PROFILE_VISITED, Channel.LINKEDIN, "visit", 0, None),
            (lead.li_invited, ActivityKind.INVITATION_SENT, Channel.LINKEDIN, "invite", 1, note),
            (lead.li_accepted, ActivityKind.INVITATION_ACCEPTED, Channel.LINKEDIN, "invite", 2, None),
            (lead.li_contacted, ActivityKind.LINKEDIN_MESSAGE_SENT, Channel.LINKEDIN, "message", 3, None),
            (lead.em_sent, ActivityKind.EMAIL_SENT, Channel.EMAIL, "follow_up", 4, "Following up"),
            (lead.em_bounced, ActivityKind.EMAIL_BOUNCED, Channel.EMAIL, "follow_up", 5, None),
        ]
        for happened, kind, channel, step, minutes, detail in implied:
            if happened:
                await record_activity(
                    lead,
                    kind,
                    channel=channel,
                    step_id=steps[step].id,
                    occurred_at=at + timedelta(minutes=minutes),
                    detail=detail,
                )
        if lead.replied:
            await record_activity(
                lead,
                ActivityKind.REPLY_RECEIVED,
                channel=lead.last_channel,
                occurred_at=lead.replied_at or now,
                detail="Sounds interesting, let's talk next week."
                if lead.positive
                else "Thanks, not a priority right now.",
            )
        if lead.status == LeadStatus.ERROR:
            await record_activity(
                lead,
                ActivityKind.LEAD_ERROR,
                step_id=lead.current_step_id,
                occurred_at=lead.error_at,
                detail=lead.error_message,
            )
        if lead.substatus == LeadSubstatus.WAITING_FOR_TASK:
            task = await Task.create(
                workspace_id=lead.workspace_id,
                campaign_id=lead.campaign_id,
                lead=lead,
                step=steps["task"],
                type=TaskType.CALL,
                title=steps["task"].title,
                due_at=now + timedelta(days=1),
                dedupe_key=f"{lead.id}:{steps['task'].id}:0",
            )
            await record_activity(
                lead,
                ActivityKind.TASK_CREATED,
                channel=Channel.TASK,
                step_id=steps["task"].id,
                occurred_at=at + timedelta(minutes=2),
                detail=task.title,
            )


__all__ = ["Activity", "ApiKey", "ensure_demo", "seed_demo"]
