"""Applying a decision: the only module of the engine that writes, and the owner of each step's transaction.

`engine/runner.py` tells the story of a step; this is its step 3 and step 5. Every write is made by
compare-and-set on the lead's `state_version` (domain.leads.update_lead, which also keeps the campaign's
counters exact), so a stale or repeated delivery changes nothing: it finds the lead "moved".

- `settle`: a decision that sends nothing (a wait, the end, an error). One write, the lead's CAS, plus the
  activity that says why when a user would ask: LEAD_ERROR for an error, LEAD_FINISHED for a finish in
  FINISH_REASONS (NOT_CONNECTED). The end of the sequence needs no explanation and costs no insert.
- `claim`, then the runner sends, then `advance` or `fail`: an action on at-least-once delivery, sent at
  most once.
  - `claim` (one transaction): the lead is placed on the step by CAS (this also refuses a stale message,
    e.g. after a pause), the activity is inserted under the key (lead, step, attempt) with the provider id
    chosen up front (an email's Message-ID), the allowances are reserved and a TASK step's task created.
    A second delivery finds the key taken: it does not send again, it only advances.
  - the send (engine/send.py) runs outside any transaction, only if this delivery inserted the key.
  - `advance` (one transaction, or none when the CAS is one statement): the lead moves on by CAS, with
    its flags and counters. If sending failed for good, `fail` takes the claim back instead (activity
    deleted, allowances released) and the lead goes to ERROR / SYSTEM_ERROR, with its LEAD_ERROR.

  Trade-off: the claim commits before the email leaves, so a crash between claim and send loses that one
  email (logged as sent but not sent); a crash between send and advance never sends it twice. At most
  once beats twice for outreach.

Live events (stats, activity) go out after commit, registered by domain.leads and domain.activity. The
next step is not started here: an `Applied` with `hand_on` says the lead is due again now and still
claimed, and the runner's caller hands it on once this commit is done (engine/chain.py).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain import counters, events, leads
from domain.activity import delete_activity, record_activity
from domain.leads import update_lead
from domain.suppressions import suppressed
from domain.tx import one_statement, transaction
from engine import channels, placement, queue, usage
from engine.decide import limit_wait
from engine.decisions import Act, Error, Finish, Wait, Withdraw, error
from engine.sequence import StepView
from engine.snapshot import Snapshot
from engine.views import Rendered
from models import Identity, Lead, Task
from models.enums import ActivityKind, LeadStatus, LeadSubstatus, TaskStatus, TaskType

#: (lead id, state_version) of a lead claimed for its next step.
Claim = tuple[int, int]

#: Why a lead finished, for the finishes that a user would otherwise have to guess (LEAD_FINISHED's detail).
FINISH_REASONS: dict[LeadSubstatus, str] = {
    LeadSubstatus.NOT_CONNECTED: "Not connected: a LinkedIn message needs a connection, and no invitation "
    "was accepted. The lead finished without being messaged.",
}


@dataclass(frozen=True)
class Applied:
    """What a step did ("done", "moved", "wait", ...: for logs and tests), and the claim to hand on."""

    what: str
    hand_on: Claim | None = None


@dataclass(frozen=True)
class Claimed:
    """An action's claim, committed. `inserted`: this delivery wrote the activity, so it is the one to send."""

    key: str
    kind: ActivityKind
    activity_id: int | None
    provider: channels.Provider | None
    external_id: str | None
    step_id: int = 0

    @property
    def must_send(self) -> bool:
        return self.activity_id is not None and self.provider is not None


class _Refused(Exception):
    """An allowance ran out between the decision and the reservation: roll back, then settle `decision`."""

    def __init__(self, decision: Wait | Error) -> None:
        self.decision = decision


def action_key(lead: Lead, step_id: int, suffix: str = "") -> str:
    """The exactly-once key of an outbound action: (lead, step, attempt). retryLead starts a new attempt."""
    return f"{lead.id}:{step_id}:{lead.attempt}{suffix}"


# ------------------------------------------------------------------------------ decisions that send nothing


async def settle(snap: Snapshot, decision: Wait | Finish | Error, now: datetime, at: StepView | None = None) -> Applied:
    """Apply a wait, the end or an error: the lead's CAS, and the activity that explains it if any.

    `at` is the step the decision was made at (a Finish names none; conditions may have moved past the
    lead's stored step in memory): the finish's activity is recorded there.
    """
    lead = snap.lead
    if isinstance(decision, Wait):
        changes = placement.wait(lead, decision, now)
    elif isinstance(decision, Error):
        changes = placement.error(lead, decision, now)
    else:
        changes = placement.finish(lead, decision.substatus, now)
    explained = isinstance(decision, Error) or (isinstance(decision, Finish) and decision.substatus in FINISH_REASONS)
    hand_on = _keep_claim(changes, now)
    # With an activity there are two writes: one transaction. Else the CAS alone (see _write_scope).
    async with transaction() if explained else _write_scope(changes):
        if not await update_lead(lead, **changes):
            return Applied("moved")
        if isinstance(decision, Error):
            await _record_error(lead, decision, now)
        elif explained and isinstance(decision, Finish):
            await _record_finish(lead, decision, at, now)
    return Applied(type(decision).__name__.lower(), _claim_of(lead) if hand_on else None)


# ------------------------------------------------------------------------------------------ actions


async def claim(snap: Snapshot, decision: Act | Withdraw, rendered: Rendered, now: datetime) -> Claimed | Applied:
    """Step 1: place the lead on the step, insert the activity under its key, reserve the allowances.

    Returns an `Applied` when there is nothing to send: the lead moved meanwhile, or an allowance ran out
    (then the decision became a wait, or an error, and was settled).
    """
    lead, step = snap.lead, decision.step
    withdraw = isinstance(decision, Withdraw)
    kind = ActivityKind.INVITATION_WITHDRAWN if isinstance(decision, Withdraw) else decision.kind
    key = action_key(lead, step.id, ":withdraw" if withdraw else "")
    provider = channels.provider_for(step.type, snap.identity) if kind != ActivityKind.TASK_CREATED else None
    sender = snap.identity.email_address if snap.identity is not None else None
    external_id = provider.new_external_id(key, sender) if provider is not None else None
    version = lead.state_version

    placing: dict[str, Any] = {"claimed_until": now + timedelta(seconds=queue.LEASE_SECONDS)}
    if not withdraw:
        placing |= {
            "status": LeadStatus.IN_PROGRESS,
            "substatus": LeadSubstatus.SCHEDULED,
            "current_step_id": step.id,
            "started_at": placement.started(lead, now),
        }
    try:
        async with transaction():
            if not withdraw and await _finished_if_suppressed(snap, step, now):
                return Applied("suppressed")
            if not await update_lead(lead, **placing):
                return Applied("moved")
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
            return Applied("moved")
        snap.lead = fresh
        return await settle(snap, refused.decision, now)
    return Claimed(key, kind, activity_id, provider, external_id, step.id)


async def advance(snap: Snapshot, decision: Act | Withdraw, claimed: Claimed, now: datetime) -> Applied:
    """Step 3 after a send (or a redelivery): the lead moves on by compare-and-set, with its counters."""
    lead, sequence, step = snap.lead, snap.sequence, decision.step
    changes = placement.after_action(lead, sequence, step, claimed.kind, now)
    if claimed.kind == ActivityKind.TASK_CREATED and await _task_done(claimed.key):
        changes |= placement.move_to(lead, sequence, sequence.successor(step), now)
    hand_on = _keep_claim(changes, now)
    async with _write_scope(changes):
        won = await update_lead(lead, **changes)
    if not won:
        if claimed.activity_id is not None:  # this delivery performed the action: its flags follow the log
            await _keep_effects(lead.id, claimed.kind, now)
        return Applied("moved")
    what = "done" if claimed.activity_id is not None else "finished-redelivery"
    return Applied(what, _claim_of(lead) if hand_on else None)


async def fail(
    snap: Snapshot,
    decision: Act | Withdraw,
    claimed: Claimed,
    failure: str,
    now: datetime,
    *,
    disconnected: bool = False,
) -> Applied:
    """Step 3 when the provider failed for good: the claim is taken back and the lead goes to ERROR.

    `disconnected`: the identity's mailbox refused its login. The identity's email is then disconnected
    (emailConnected: false, so the leads that reach an email step meanwhile wait in EMAIL_DISCONNECTED too,
    engine/decide.py) and this lead is EMAIL_DISCONNECTED, with the hint to reconnect."""
    lead, step = snap.lead, decision.step
    async with transaction():
        # Lead first, then usage: the lock order of `claim`, so the two never deadlock.
        substatus = LeadSubstatus.EMAIL_DISCONNECTED if disconnected else LeadSubstatus.SYSTEM_ERROR
        problem = error(step, substatus, failure)
        if await update_lead(lead, **placement.error(lead, problem, now)):
            await _record_error(lead, problem, now)
        # Taken back even if the lead moved meanwhile (paused): a later run sends under the same key.
        await delete_activity(claimed.activity_id)
        if isinstance(decision, Act):
            await _release(snap, decision)
        if disconnected and snap.identity is not None:
            await Identity.filter(id=snap.identity.id).update(email_connected=False)
    return Applied("failed")


# ------------------------------------------------------------------------------------------ helpers


async def _keep_effects(lead_id: int, kind: ActivityKind, now: datetime) -> None:
    """An action was performed but its advance lost the race (an archive, pause or delete committed while
    it was in flight): the lead stays where that left it, but its flags, and so the counters, say what the
    Activity log says (an email that went out counts as sent). A no-op if they already do."""
    for _ in range(3):  # each retry re-reads: only another concurrent write can make the CAS lose
        lead = await Lead.get_or_none(id=lead_id)
        if lead is None:
            return
        wanted = {**placement.ACTION_EFFECTS[kind], "started_at": placement.started(lead, now)}
        effects = {name: value for name, value in wanted.items() if getattr(lead, name) != value}
        if not effects:
            return
        async with _write_scope(effects):
            if await update_lead(lead, **effects):
                return


def _write_scope(changes: dict[str, Any]) -> AbstractAsyncContextManager[Any]:
    """A transaction, unless the lead's CAS is the only write and one statement (PostgreSQL): then none."""
    return one_statement() if leads.one_statement(changes) else transaction()


def _keep_claim(changes: dict[str, Any], now: datetime) -> bool:
    """A next step due at once keeps the claim (written with this CAS) and is handed on after commit."""
    due = changes.get("next_action_at")
    if changes.get("status") == LeadStatus.IN_PROGRESS and due is not None and due <= now:
        changes["claimed_until"] = now + timedelta(seconds=queue.LEASE_SECONDS)
        return True
    return False


def _claim_of(lead: Lead) -> Claim:
    return (lead.id, lead.state_version)


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
        days = step.wait_for_acceptance_days or 0
        return f"Not accepted within {days} day{'' if days == 1 else 's'}: withdrawn; on to the not-accepted branch."
    return None


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


async def _finished_if_suppressed(snap: Snapshot, step: StepView, now: datetime) -> bool:
    """Whether the contact is on the suppression list, checked at the moment of acting on any channel (a
    contact listed while its lead waited is never sent anything): if so, the lead finishes FINISHED /
    UNSUBSCRIBED here, with an UNSUBSCRIBED activity that says why. Raises nothing; a lead that moved meanwhile
    is left to whoever moved it (True all the same: nothing is to be sent)."""
    address = snap.contact.email
    listed = (await suppressed(snap.lead.workspace_id, [address])).get(address) if address else None
    if listed is None:
        return False
    lead = snap.lead
    if await update_lead(lead, **placement.finish(lead, LeadSubstatus.UNSUBSCRIBED, now)):
        await record_activity(
            lead,
            ActivityKind.UNSUBSCRIBED,
            channel=step.type.channel,
            step_id=step.id,
            detail=f"Nothing sent: {listed} is on the workspace's suppression list.",
            dedupe_key=action_key(lead, step.id, ":suppressed"),
            occurred_at=now,
        )
    return True


async def _record_finish(lead: Lead, decision: Finish, step: StepView | None, now: datetime) -> None:
    await record_activity(
        lead,
        ActivityKind.LEAD_FINISHED,
        channel=step.type.channel if step is not None else None,
        step_id=step.id if step is not None else None,
        detail=f"{decision.substatus.value}: {FINISH_REASONS[decision.substatus]}",
        dedupe_key=action_key(lead, step.id if step is not None else 0, ":finish"),
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
