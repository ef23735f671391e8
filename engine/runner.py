"""`run_step`: what a worker does with one claimed lead. Safe to run twice, late, or concurrently.

It re-reads everything (a queued message may be stale: campaign paused, lead moved, claim re-issued),
asks `decide`, and applies the decision by compare-and-set (engine/actions.py for actions).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from domain import templates
from engine import clock
from engine.actions import apply_simple, perform
from engine.decide import decide, needs_usage
from engine.decisions import Act, Branch, Decision, Noop, Withdraw, error
from engine.sequence import Sequence, StepView
from engine.snapshot import Snapshot, load, read_lead
from engine.views import LeadView, Rendered
from models import Contact, Lead
from models.enums import CampaignStatus, LeadStatus, LeadSubstatus, StepType

log = logging.getLogger("outbound.engine")

#: Conditions resolve in memory; a sequence deeper than this is a bug, not a sequence.
MAX_HOPS = 64
RUNNABLE = (LeadStatus.NOT_STARTED, LeadStatus.IN_PROGRESS)
MESSAGE_STEPS = {
    StepType.LINKEDIN_CONNECTION,
    StepType.LINKEDIN_MESSAGE,
    StepType.LINKEDIN_INMAIL,
    StepType.EMAIL,
    StepType.TASK,
}


async def run_step(lead_id: int, version: int | None = None, now: datetime | None = None) -> str:
    """Advance one lead as far as it can go now. Returns what happened (for logs and tests)."""
    now = now or clock.now()
    joined = await read_lead(lead_id)
    if joined is None or joined.lead.removed_at is not None:
        return "gone"
    lead = joined.lead
    if lead.status not in RUNNABLE or lead.next_action_at is None or lead.next_action_at > now:
        await _release_claim(lead)
        return "not-due"
    if version is not None and lead.state_version != version and _claimed(lead, now):
        return "stale"  # the lead moved on and a newer claim holds it: that message will do the work
    snap = await load(joined, now)
    if snap is None or snap.campaign.status != CampaignStatus.ACTIVE:
        await _release_claim(lead)
        return "campaign-not-active"

    decision, rendered = await _resolve(snap, now)
    if isinstance(decision, Noop):
        await _release_claim(lead)
        return "noop"
    if isinstance(decision, Act | Withdraw):
        return await perform(snap, decision, rendered, now)
    return await apply_simple(snap, decision, now)


def _claimed(lead: Lead, now: datetime) -> bool:
    return lead.claimed_until is not None and lead.claimed_until > now


async def _release_claim(lead: Lead) -> None:
    """A message that finds nothing to do frees its lead at once (e.g. for a quick resume), not at lease end.

    Conditional on the claim it read, so a newer claim of another scheduler is left alone.
    """
    if lead.claimed_until is not None:
        await Lead.filter(id=lead.id, claimed_until=lead.claimed_until).update(claimed_until=None)


async def _resolve(snap: Snapshot, now: datetime) -> tuple[Decision, Rendered]:
    """Ask `decide` until it names something other than a branch (conditions cost no transaction)."""
    view = snap.lead_view()
    for _ in range(MAX_HOPS):
        step = step_at(view, snap.sequence)
        rendered = await render(step, snap.contact) if step is not None else Rendered()
        if step is not None and needs_usage(step):
            await snap.with_usage(now)
        decision = decide(view, snap.sequence, snap.identity_view, now, rendered)
        if not isinstance(decision, Branch):
            return decision, rendered
        view = replace(
            view,
            status=LeadStatus.IN_PROGRESS,
            substatus=LeadSubstatus.SCHEDULED,
            current_step_id=decision.to.id,
            started_at=view.started_at or now,
        )
    step = step_at(view, snap.sequence)
    assert step is not None
    return error(step, LeadSubstatus.SYSTEM_ERROR, "The sequence does not end."), Rendered()


def step_at(view: LeadView, sequence: Sequence) -> StepView | None:
    if view.status == LeadStatus.NOT_STARTED:
        return sequence.first()
    return sequence.get(view.current_step_id)


async def render(step: StepView, contact: Contact) -> Rendered:
    """The step's texts for this contact, filled at send time (domain/templates)."""
    if step.type not in MESSAGE_STEPS:
        return Rendered()
    variables = list(step.ai_variables)
    subject = await templates.render(step.subject, contact, variables) if step.subject else None
    body = await templates.render(step.content, contact, variables) if step.content else None
    return Rendered(subject=subject, body=body)
