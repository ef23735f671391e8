"""Performing an action step exactly once on at-least-once delivery.

Three steps, each safe to repeat:

1. Claim (one transaction): the lead is placed on the step by compare-and-set (this also refuses a stale
   message, e.g. after a pause), the activity is inserted under the key (lead, step, attempt) with the
   provider id chosen up front (an email's Message-ID), and the allowances are reserved. A second
   delivery finds the key taken and does not send again: it only finishes step 3.
2. Send, outside any transaction, only by the delivery that inserted the key. Retried a few times.
3. Advance (one transaction): the lead moves on by compare-and-set, with its flags and counters.
   If sending failed for good, the claim is undone instead and the lead goes to ERROR / SYSTEM_ERROR.

Trade-off: the claim is committed before the email leaves, so a crash between 1 and 2 loses that one
email (it is logged as sent but was not); a crash between 2 and 3 never sends it twice. At most once
beats twice for outreach.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import AbstractAsyncContextManager
from datetime import datetime, timedelta
from typing import Any

from domain import counters, events, leads
from domain.activity import record_activity
from domain.leads import update_lead
from domain.tx import after_commit, one_statement, transaction
from engine import channels, placement, queue, usage
from engine.chain import hand_on
from engine.decide import limit_wait
from engine.decisions import Act, Decision, Error, Wait, Withdraw, error
from engine.snapshot import Snapshot
from engine.views import Rendered
from models import Activity, Lead, Task
from models.enums import ActivityKind, LeadStatus, LeadSubstatus, TaskStatus, TaskType

log = logging.getLogger("outbound.engine")

SEND_ATTEMPTS = 3
SEND_BACKOFF = 0.2  # seconds, doubled per attempt


class _Refused(Exception):
    """An allowance ran out between the decision and the reservation: roll back, then apply `decision`."""

    def __init__(self, decision: Decision) -> None:
        self.decision = decision


def action_key(lead: Lead, step_id: int, suffix: str = "") -> str:
    return f"{lead.id}:{step_id}:{lead.attempt}{suffix}"


def _detail(kind: ActivityKind, step: Any, rendered: Rendered) -> str | None:
    if kind == ActivityKind.EMAIL_SENT:
        return f"Subject: {rendered.subject}"
    if kind == ActivityKind.INMAIL_SENT:
        return f"Subject: {rendered.subject}\n{(rendered.body or '')[:280]}"
    if kind == ActivityKind.INVITATION_SENT:
        return f"Note: {rendered.body}" if rendered.body else "Invitation without a note"
    if kind == ActivityKind.LINKEDIN_MESSAGE_SENT:
        return (rendered.body or "")[:280]
    if kind == ActivityKind.TASK_CREATED:
        return step.title or "Task"
    if kind == ActivityKind.INVITATION_WITHDRAWN:
        return "Not accepted in time: withdrawn"
    return None


async def perform(snap: Snapshot, decision: Act | Withdraw, rendered: Rendered, now: datetime) -> str:
    lead, step = snap.lead, decision.step
    withdraw = isinstance(decision, Withdraw)
    kind = ActivityKind.INVITATION_WITHDRAWN if withdraw else decision.kind
    key = action_key(lead, step.id, ":withdraw" if withdraw else "")
    provider = channels.provider_for(step.type) if kind != ActivityKind.TASK_CREATED else None
    external_id = provider.new_external_id(key) if provider is not None else None
    version = lead.state_version

    # 1. Claim.
    placing: dict[str, Any] = {"claimed_until": now + timedelta(seconds=queue.LEASE_SECONDS)}
    if not withdraw:
        placing |= {
            "status": LeadStatus.IN_PROGRESS,
            "substatus": LeadSubstatus.SCHEDULED,
            "current_step_id": step.id,
            "started_at": placement.started(lead, now),
        }
    activity_id: int | None = None
    try:
        async with transaction():
            if not await update_lead(lead, **placing):
                return "moved"
            activity_id = await record_activity(
                lead,
                kind,
                channel=step.type.channel,
                step_id=step.id,
                detail=_detail(kind, step, rendered),
                external_id=external_id,
                dedupe_key=key,
                occurred_at=now,
            )
            if activity_id is not None and isinstance(decision, Act):
                await _reserve(snap, decision, now)
                if kind == ActivityKind.TASK_CREATED:
                    await _create_task(lead, step, rendered, key, now)
    except _Refused as refused:
        fresh = await Lead.get_or_none(id=lead.id)
        if fresh is None or fresh.state_version != version:
            return "moved"
        snap.lead = fresh
        return await apply_simple(snap, refused.decision, now)

    # 2. Send: only the delivery that inserted the key.
    failure: str | None = None
    if activity_id is not None and provider is not None:
        outbound = _outbound(snap, key, kind, external_id or "", rendered)
        failure = await _send(provider, outbound)

    # 3. Advance, or undo the claim if the provider failed for good.
    if failure is None:
        return await _advance(snap, step, kind, key, activity_id is not None, now)
    assert activity_id is not None
    async with transaction():
        # Lead first, then usage: the lock order of step 1, so the two never deadlock.
        problem = error(step, LeadSubstatus.SYSTEM_ERROR, failure)
        if await update_lead(lead, **placement.error(lead, problem, now)):
            await _record_error(lead, problem, now)
        # Taken back even if the lead moved meanwhile (paused): a later run sends under the same key.
        await Activity.filter(id=activity_id).delete()
        if isinstance(decision, Act):
            await _release(snap, decision)
    return "failed"


async def _advance(snap: Snapshot, step: Any, kind: ActivityKind, key: str, inserted: bool, now: datetime) -> str:
    """Step 3 after a send (or a redelivery): the lead moves on by compare-and-set, with its counters."""
    lead, sequence = snap.lead, snap.sequence
    changes = placement.after_action(lead, sequence, step, kind, now)
    if kind == ActivityKind.TASK_CREATED and await _task_done(key):
        changes |= placement.move_to(lead, sequence, sequence.successor(step), now)
    chain = _chain(changes, now)
    async with _write_scope(changes):
        if not await update_lead(lead, **changes):
            return "moved"
        if chain:
            claim = (lead.id, lead.state_version)
            after_commit(lambda: hand_on(claim))
    return "done" if inserted else "finished-redelivery"


def _write_scope(changes: dict[str, Any]) -> AbstractAsyncContextManager[Any]:
    """A transaction, unless the lead's CAS is the only write and one statement (PostgreSQL): then none."""
    return one_statement() if leads.one_statement(changes) else transaction()


def _chain(changes: dict[str, Any], now: datetime) -> bool:
    """A next step due at once keeps the claim and is sent straight on (no wait for the next tick)."""
    due = changes.get("next_action_at")
    if changes.get("status") == LeadStatus.IN_PROGRESS and due is not None and due <= now:
        changes["claimed_until"] = now + timedelta(seconds=queue.LEASE_SECONDS)
        return True
    return False


async def apply_simple(snap: Snapshot, decision: Decision, now: datetime) -> str:
    """Apply a decision that sends nothing: a wait, the end, or an error."""
    lead = snap.lead
    if isinstance(decision, Wait):
        changes = placement.wait(lead, decision, now)
    elif isinstance(decision, Error):
        changes = placement.error(lead, decision, now)
    else:
        changes = placement.finish(lead, decision.substatus, now)  # type: ignore[union-attr]
    chain = _chain(changes, now)
    # An error also records an activity: two writes, one transaction.
    async with transaction() if isinstance(decision, Error) else _write_scope(changes):
        if not await update_lead(lead, **changes):
            return "moved"
        if isinstance(decision, Error):
            await _record_error(lead, decision, now)
        if chain:
            claim = (lead.id, lead.state_version)
            after_commit(lambda: hand_on(claim))
    return type(decision).__name__.lower()


async def _record_error(lead: Lead, problem: Error, now: datetime) -> None:
    await record_activity(
        lead,
        ActivityKind.LEAD_ERROR,
        channel=problem.step.type.channel,
        step_id=problem.step.id,
        detail=f"{problem.substatus.value}: {problem.message}",
        dedupe_key=action_key(lead, problem.step.id, ":error"),
        occurred_at=now,
    )


async def _reserve(snap: Snapshot, act: Act, now: datetime) -> None:
    identity = snap.identity
    if identity is None:
        return
    assert snap.identity_view is not None
    for allowance, period in act.reserve:
        if not await usage.reserve(identity.id, allowance, period, snap.identity_view.cap(allowance)):
            raise _Refused(limit_wait(act.step, snap.identity_view, allowance, now))
    if act.spend_inmail and not await usage.spend_inmail_credit(identity.id):
        raise _Refused(error(act.step, LeadSubstatus.INMAIL_CREDITS_LIMIT))


async def _release(snap: Snapshot, act: Act) -> None:
    identity = snap.identity
    if identity is None:
        return
    for allowance, period in act.reserve:
        await usage.release(identity.id, allowance, period)
    if act.spend_inmail:
        await usage.refund_inmail_credit(identity.id)


async def _create_task(lead: Lead, step: Any, rendered: Rendered, key: str, now: datetime) -> None:
    await Task.create(
        workspace_id=lead.workspace_id,
        campaign_id=lead.campaign_id,
        lead_id=lead.id,
        step_id=step.id,
        type=step.task_type or TaskType.TODO,
        title=step.title or "Task",
        note=rendered.body or None,
        status=TaskStatus.PENDING,
        due_at=now,
        dedupe_key=key,
    )
    if await counters.apply(lead.campaign_id, {counters.task_key(TaskStatus.PENDING): 1}, shard=lead.id):
        events.stats_changed(lead.workspace_id, lead.campaign_id)


async def _task_done(key: str) -> bool:
    """completeTask may have run between the claim and now: then the lead does not wait for it."""
    return await Task.filter(dedupe_key=key, status=TaskStatus.COMPLETED).exists()


def _outbound(snap: Snapshot, key: str, kind: ActivityKind, external_id: str, rendered: Rendered) -> channels.Outbound:
    identity, contact = snap.identity, snap.contact
    return channels.Outbound(
        key=key,
        kind=kind,
        external_id=external_id,
        sender_name=identity.name if identity else "",
        sender_email=identity.email_address if identity else None,
        sender_linkedin=identity.linkedin_url if identity else None,
        recipient_name=contact.full_name,
        recipient_email=contact.email,
        recipient_linkedin=contact.linkedin_url,
        subject=rendered.subject,
        body=rendered.body,
    )


async def _send(provider: channels.Provider, outbound: channels.Outbound) -> str | None:
    """None when sent; else what went wrong, after SEND_ATTEMPTS tries."""
    problem = "unknown failure"
    for attempt in range(SEND_ATTEMPTS):
        try:
            await provider.send(outbound)
            return None
        except Exception as exc:  # any provider fault counts: it is retried, then reported on the lead
            problem = f"{provider.name}: {exc}"
            log.warning("send %s failed (attempt %s): %s", outbound.key, attempt + 1, exc)
            if attempt + 1 < SEND_ATTEMPTS:
                await asyncio.sleep(SEND_BACKOFF * 2**attempt)
    return problem
