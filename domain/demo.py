"""The demo workspace that `make run` seeds on first start, and the key it prints on every start.

A newcomer gets a workspace, a sender, 200 contacts and a running campaign whose leads stand in every
status, with a day of delay played in a minute (`time_scale`), so GraphiQL shows numbers moving at once.
The demo's API key is kept in `outbound.demo-key` beside the database (keys are stored hashed).
"""

from __future__ import annotations

import logging
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from config import Settings
from domain.auth import create_api_key
from domain.counters import task_key
from domain.demo_story import seed_leads
from domain.leads import apply_bulk_delta, count_leads
from domain.tx import transaction
from models import Activity, ApiKey, Campaign, Contact, Identity, SequenceStep, Task, Workspace
from models.enums import (
    Branch,
    CampaignStatus,
    ConditionType,
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


def fresh_contact(n: int) -> dict[str, str | None]:
    """The n-th contact of the demo's address book (the seed's and the simulator's new ones alike)."""
    first, last = FIRST[n % len(FIRST)], LAST[(n // len(FIRST)) % len(LAST)]
    company = COMPANIES[n % len(COMPANIES)]
    return {
        "first_name": first,
        "last_name": last,
        # every 12th contact has no email, every 15th no LinkedIn: the demo's ERROR leads and its tasks
        "email": None if n % 12 == 5 else f"{first.lower()}.{n}@{company.lower().replace(' ', '')}.example",
        "linkedin_url": None if n % 15 == 7 else f"https://www.linkedin.com/in/{first.lower()}-{last.lower()}-{n}",
        "company": company,
        "title": TITLES[n % len(TITLES)],
    }


async def ensure_demo(settings: Settings, *, serving: bool = True) -> str:
    """Seed the demo on first start; print GraphiQL's URL and the demo key every start. Returns the key.

    `serving`: called by the server as it starts (False from the command line, where nothing serves yet).
    """
    workspace = await Workspace.get_or_none(name=DEMO_WORKSPACE)
    if workspace is None:
        key = await seed_demo(settings)
    elif (saved := _read_key()) is not None:
        key = saved
    else:  # the key file was lost: issue a new key, the old one keeps working
        _, key = await create_api_key(workspace.id, "demo")
        _write_key(key)
    where = "Outbound is running: open" if serving else "Demo ready: start the server (make run), then open"
    base = f"http://{settings.host}:{settings.port}"
    banner = (
        f"\n  {where} {base}/  (the dashboard: paste the key to sign in)\n"
        f"  GraphiQL: {base}/graphql  (it asks for the key, or paste it in the Headers pane:"
        f' {{"Authorization": "Bearer {key}"}})\n'
        f"  Demo API key: {key}\n"
    )
    print(banner, flush=True)
    return key


async def reset_demo(settings: Settings, *, serving: bool = False) -> str:
    """Start the demo over: the demo workspace and everything in it go, a fresh one is seeded (new key).

    Only the workspace named DEMO_WORKSPACE is deleted (its campaigns, leads, activity, tasks, contacts and
    keys go with it, ON DELETE CASCADE); every other workspace in the database is left as it is. The new
    key replaces the old one in the key file.
    """
    async with transaction():
        deleted = await Workspace.filter(name=DEMO_WORKSPACE).delete()
    log.info("demo reset: %s demo workspace(s) deleted", deleted)
    return await ensure_demo(settings, serving=serving)


def _read_key() -> str | None:
    # A few bytes at start-up: not worth a thread.
    return KEY_FILE.read_text().strip() if KEY_FILE.exists() else None


def _write_key(key: str) -> None:
    """Readable by its owner only (0600): the key is a bearer secret. An existing file is narrowed too."""
    fd = os.open(KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        os.fchmod(fd, 0o600)  # the mode above applies only to a file it creates
        file.write(key + "\n")


async def seed_demo(settings: Settings, contacts: int = 200, seed: int = 7) -> str:
    rnd = random.Random(seed)
    now = datetime.now(UTC)
    async with transaction():
        workspace = await Workspace.create(name=DEMO_WORKSPACE)
        _, key = await create_api_key(workspace.id, "demo")
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
        people = [Contact(workspace=workspace, **fresh_contact(i)) for i in range(contacts)]
        await Contact.bulk_create(people)
        people = await Contact.filter(workspace=workspace).order_by("id")

        # Launched long enough ago for the longest seeded story (about 16 of the campaign's days).
        launched = now - max(timedelta(hours=2), timedelta(days=20) / settings.demo_speed)
        campaign = await Campaign.create(
            workspace=workspace,
            name="Q4 outreach: SaaS founders",
            status=CampaignStatus.ACTIVE,
            identity=identity,
            launched_at=launched,
            time_scale=settings.demo_speed,
        )
        steps = await _demo_sequence(campaign)
        # Four in five contacts are in the campaign; the others are there for addLeads.
        leads = await seed_leads(rnd, workspace, campaign, people[: contacts * 4 // 5], steps, now)
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
    async def step(position: int, type_: StepType, **kw: Any) -> SequenceStep:
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
        # A link, so that the demo's readers can click (engine/simulator.py): the tracker counts it.
        content="Hi {{firstName}},\n\nHow does {{company}} handle outbound today? Ours, in two minutes:"
        " https://example.com/outbound-tour",
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


__all__ = ["Activity", "ApiKey", "ensure_demo", "fresh_contact", "reset_demo", "seed_demo"]
