"""One step of one lead, read top to bottom. Safe to run twice, late, or concurrently.

The actor (tasks/sequences.py) runs engine/chain.py, which runs `step` for the lead, then for the steps it
hands on while they are due at once. `step` goes down once:

1. Load (engine/snapshot.py): the lead with its contact, campaign, identity and steps digest in one query,
   and the campaign's Sequence (cached per worker). A queued message may be stale (campaign paused, lead
   moved, claim re-issued): what is read decides, not what the message says.
2. Decide (engine/decide.py, pure): what to do next. A CONDITION is walked in memory and decide is asked
   again, so a chain of conditions costs no transaction.
3. Apply (engine/apply.py, the module that writes): in one transaction, by compare-and-set on the lead.
   A wait, the end or an error is settled there and then. An action is claimed: the lead placed on the
   step, its claim inserted under the key (lead, step, attempt) (engine/claims.py), the allowances
   reserved. A key already claimed is an earlier delivery's: this one never sends (it advances past a
   SENT claim, leaves a young SENDING one alone, and reports an old one as interrupted).
4. Send (engine/send.py): an action's message, outside any transaction, only by the delivery that
   inserted the claim (at most once).
5. Apply the outcome (engine/apply.py): the claim becomes SENT, the activity is recorded and the lead
   moves on with its flags and counters, in one transaction; or, if the provider failed for good, the
   claim is taken back and the lead goes to ERROR.
6. Hand on: `step` returns what it did and, when the lead is due again at once and still claimed, the
   claim. engine/chain.py runs that next step in the same message; `run_step` (the scheduler's and the
   tests' entry) sends it as a message. Either way only after the commit that made it due.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from prometheus_client import Counter

from domain import templates
from engine import apply, clock, queue, send
from engine.apply import Applied
from engine.decide import decide, needs_usage
from engine.decisions import Act, Branch, Error, Finish, Noop, Wait, Withdraw, error
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


#: Every step of every lead, counted here and only here (chain hops, messages and tests all come through
#: `step`). `step_type` is the step the decision was made at ("none" before one: gone, not due, stale...).
STEPS = Counter(
    "outbound_engine_steps",
    "Engine steps by step type and outcome (done, wait, finish, error, moved, stale, not-due, failed...).",
    ["step_type", "outcome"],
)
#: A step that raised (the broker retries its message) or whose provider failed for good ("failed").
STEP_FAILURES = Counter(
    "outbound_engine_step_failures",
    "Engine steps that raised (retried by the broker) or whose provider failed for good, by step type.",
    ["step_type", "reason"],
)


class _At:
    """The type of the step a decision was made at, once known (for the metrics of `step`)."""

    __slots__ = ("type",)

    def __init__(self) -> None:
        self.type = "none"


async def step(lead_id: int, version: int | None = None, now: datetime | None = None) -> Applied:
    """Advance one lead as far as it can go now; the claim to hand on comes back in the result."""
    at = _At()
    try:
        applied = await _step(lead_id, version, now, at)
    except Exception:
        STEP_FAILURES.labels(at.type, "exception").inc()
        raise
    STEPS.labels(at.type, applied.what).inc()
    if applied.what == "failed":
        STEP_FAILURES.labels(at.type, "provider").inc()
    return applied


async def _step(lead_id: int, version: int | None, now: datetime | None, seen: _At) -> Applied:
    now = now or clock.now()

    # 1. Load.
    joined = await read_lead(lead_id)
    if joined is None or joined.lead.removed_at is not None:
        return Applied("gone")
    lead = joined.lead
    if lead.status not in RUNNABLE or lead.next_action_at is None or lead.next_action_at > now:
        await _release_claim(lead)
        return Applied("not-due")
    if version is not None and lead.state_version != version and _claimed(lead, now):
        return Applied("stale")  # the lead moved on and a newer claim holds it: that message does the work
    snap = await load(joined, now)
    if snap is None or snap.campaign.status != CampaignStatus.ACTIVE:
        await _release_claim(lead)
        return Applied("campaign-not-active")

    # 2. Decide.
    decision, rendered, at = await _resolve(snap, now)
    if at is not None:
        seen.type = at.type.value
    if isinstance(decision, Noop):
        await _release_claim(lead)
        return Applied("noop")

    # 3. Apply: a decision that sends nothing is settled in one write.
    if not isinstance(decision, Act | Withdraw):
        return await apply.settle(snap, decision, now, at)
    claimed = await apply.claim(snap, decision, rendered, now)
    if isinstance(claimed, Applied):  # moved meanwhile, or an allowance ran out (settled as a wait/error)
        return claimed

    # 4. Send.
    failure = await send.deliver(snap, claimed, rendered) if claimed.must_send else None

    # 5. Apply the outcome (6. the hand-on is in what it returns).
    if failure is not None:
        return await apply.fail(snap, decision, claimed, failure.message, now, disconnected=failure.disconnected)
    return await apply.advance(snap, decision, claimed, now)


async def run_step(lead_id: int, version: int | None = None, now: datetime | None = None) -> str:
    """`step`, with its hand-on sent as a message (outside engine/chain.py). Returns what it did."""
    applied = await step(lead_id, version, now)
    if applied.hand_on is not None:
        try:
            await queue.enqueue_run_steps([applied.hand_on])
        except Exception:  # committed already: the lease runs out and the scheduler claims the lead again
            log.exception("hand-on of lead %s failed", lead_id)
    return applied.what


def _claimed(lead: Lead, now: datetime) -> bool:
    return lead.claimed_until is not None and lead.claimed_until > now


async def _release_claim(lead: Lead) -> None:
    """A message that finds nothing to do frees its lead at once (e.g. for a quick resume), not at lease end.

    Conditional on the claim it read, so a newer claim of another scheduler is left alone.
    """
    if lead.claimed_until is not None:
        await Lead.filter(id=lead.id, claimed_until=lead.claimed_until).update(claimed_until=None)


async def _resolve(
    snap: Snapshot, now: datetime
) -> tuple[Act | Withdraw | Wait | Finish | Error | Noop, Rendered, StepView | None]:
    """Ask `decide` until it names something other than a branch (conditions cost no transaction).

    Returns the decision, the step's texts and the step it was made at."""
    view = snap.lead_view()
    for _ in range(MAX_HOPS):
        current = step_at(view, snap.sequence)
        rendered = await render(current, snap.contact) if current is not None else Rendered()
        if current is not None and needs_usage(current):
            await snap.with_usage(now)
        decision = decide(view, snap.sequence, snap.identity_view, now, rendered)
        if not isinstance(decision, Branch):
            return decision, rendered, current
        view = replace(
            view,
            status=LeadStatus.IN_PROGRESS,
            substatus=LeadSubstatus.SCHEDULED,
            current_step_id=decision.to.id,
            started_at=view.started_at or now,
        )
    current = step_at(view, snap.sequence)
    assert current is not None
    return error(current, LeadSubstatus.SYSTEM_ERROR, "The sequence does not end."), Rendered(), current


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
