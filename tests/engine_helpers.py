"""Factories and drivers for the engine's tests: campaigns, leads and a deterministic pump.

Campaigns and leads are made through the models and domain functions directly (not the mutations), in
the state that launchCampaign / addLeads leave them: an ACTIVE campaign's NOT_STARTED leads are due now.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from domain import counters
from domain.leads import count_leads
from domain.tx import transaction
from engine import clock, queue, runner, scheduler
from models import Activity, Campaign, Contact, Identity, Lead, SequenceStep
from models.enums import Branch, CampaignStatus, LeadStatus, StepType

ALL_WEEK = 0b1111111
CHILD_LISTS = {
    "on_true": Branch.ON_TRUE,
    "on_false": Branch.ON_FALSE,
    "on_accepted": Branch.ACCEPTED,
    "on_not_accepted": Branch.NOT_ACCEPTED,
}

#: The engine tests' frozen start: a Monday, 10:00 UTC, inside default working hours.
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


async def make_identity(workspace: Any, **fields: Any) -> Identity:
    """A fully connected sender that works around the clock (tests of hours set their own)."""
    defaults: dict[str, Any] = {
        "name": "Ada Sender",
        "linkedin_url": "https://linkedin.com/in/ada",
        "linkedin_connected": True,
        "email_address": "ada@sender.test",
        "email_connected": True,
        "timezone": "UTC",
        "work_days": ALL_WEEK,
        "work_start": "00:00",
        "work_end": "24:00",
    }
    return await Identity.create(workspace=workspace, **(defaults | fields))


def step(type: StepType, delay: int = 0, **fields: Any) -> dict[str, Any]:
    """A step spec as StepInput would give it: branch lists under on_true/on_false/on_accepted/..."""
    return {"type": type, "delay": delay, **fields}


async def make_campaign(
    workspace: Any,
    identity: Identity | None,
    steps: list[dict[str, Any]],
    *,
    status: CampaignStatus = CampaignStatus.ACTIVE,
    time_scale: float = 1.0,
    name: str = "Engine test",
) -> tuple[Campaign, list[SequenceStep]]:
    campaign = await Campaign.create(
        workspace=workspace, identity=identity, name=name, status=status, time_scale=time_scale
    )
    created: list[SequenceStep] = []

    async def add(specs: list[dict[str, Any]], parent: SequenceStep | None, branch: Branch) -> None:
        for spec in specs:
            fields = {k: v for k, v in spec.items() if k not in CHILD_LISTS and k not in ("type", "delay")}
            row = await SequenceStep.create(
                campaign=campaign,
                position=len(created) + 1,
                type=spec["type"],
                parent=parent,
                branch=branch,
                delay_seconds=spec.get("delay", 0),
                **fields,
            )
            created.append(row)
            for key, child_branch in CHILD_LISTS.items():
                if spec.get(key):
                    await add(spec[key], row, child_branch)

    await add(steps, None, Branch.MAIN)
    return campaign, created


async def add_leads(workspace: Any, campaign: Campaign, people: Iterable[dict[str, Any]]) -> list[Lead]:
    """Contacts and their leads; due at once if the campaign is ACTIVE (what launch / addLeads agree on)."""
    now = clock.now()
    async with transaction():
        leads = []
        for person in people:
            contact = await Contact.create(workspace=workspace, **person)
            leads.append(
                await Lead.create(
                    workspace=workspace,
                    campaign=campaign,
                    contact=contact,
                    next_action_at=now if campaign.status == CampaignStatus.ACTIVE else None,
                )
            )
        await count_leads(workspace.id, campaign.id, leads)
    return leads


def person(i: int, **fields: Any) -> dict[str, Any]:
    return {
        "first_name": f"First{i}",
        "last_name": f"Last{i}",
        "email": f"lead{i}@example.test",
        "linkedin_url": f"https://linkedin.com/in/lead{i}",
        "company": f"Company{i}",
        "title": "CTO",
    } | fields


class Pump:
    """Runs the scheduler and `run_step` in this task, in order: no threads, no broker, no timing.

    Messages that the engine sends (the scheduler's claims, a step chained to the next) are collected
    here instead of going to a broker, and run until none are left.
    """

    def __init__(self, monkeypatch: Any) -> None:
        self.inbox: list[tuple[int, int]] = []
        self.results: Counter[str] = Counter()

        async def collect(claims: list[tuple[int, int]]) -> None:
            self.inbox.extend(claims)

        monkeypatch.setattr(queue, "enqueue_run_steps", collect)

    async def run(self, now: datetime | None = None, rounds: int = 50) -> Counter[str]:
        """Tick and process until nothing is due at `now` (or the clock's now)."""
        for _ in range(rounds):
            await scheduler.tick(now or clock.now())
            if not self.inbox:
                return self.results
            while self.inbox:
                lead_id, version = self.inbox.pop(0)
                self.results[await runner.run_step(lead_id, version, now)] += 1
        return self.results


async def reload(lead: Lead) -> Lead:
    return await Lead.get(id=lead.id)


async def assert_counters_match(campaign_id: int) -> None:
    numbers, _, _ = await counters.read(campaign_id)
    assert {k: v for k, v in numbers.items() if v} == await counters.recompute(campaign_id)
    assert await counters.reconcile(campaign_id) == {}


async def activity_kinds(lead: Lead) -> list[str]:
    rows = await Activity.filter(lead_id=lead.id).order_by("occurred_at", "id").values_list("kind", flat=True)
    return [getattr(k, "value", k) for k in rows]


async def statuses(campaign: Campaign) -> Counter[tuple[str, str | None]]:
    rows = await Lead.filter(campaign_id=campaign.id).values_list("status", "substatus")
    return Counter((LeadStatus(s).value, getattr(ss, "value", ss)) for s, ss in rows)


async def wait_for(predicate: Any, seconds: float = 60.0, interval: float = 0.2) -> None:
    """Poll an async predicate until it holds (for tests with real workers)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        if await predicate():
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {seconds}s waiting for {predicate.__name__}")
        await asyncio.sleep(interval)
