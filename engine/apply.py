"""Applying a decision: the only module of the engine that writes, and the owner of each step's transaction.

`engine/runner.py` tells the story of a step; this is its step 3 and step 5. Every write is made by
compare-and-set on the lead's `state_version` (domain.leads.update_lead, which also keeps the campaign's
counters exact), so a stale or repeated delivery changes nothing: it finds the lead "moved".

- `settle`: a decision that sends nothing (a wait, the end, an error). One write, the lead's CAS, plus the
  activity that says why when a user would ask: LEAD_ERROR for an error, LEAD_FINISHED for a finish in
  records.FINISH_REASONS (NOT_CONNECTED). The end of the sequence needs no explanation and costs no insert.
- `claim`, then the runner sends, then `advance` or `fail`: an action on at-least-once delivery, sent at
  most once, and logged as sent only once its provider accepted it.
  - `claim` (one transaction): the lead is placed on the step by CAS (this also refuses a stale message,
    e.g. after a pause), the action's claim row is inserted under the key (lead, step, attempt) with the
    provider id chosen up front (an email's Message-ID; engine/claims.py), the allowances are reserved.
    A TASK step has no provider: its activity and its task are inserted here, under the same key.
    A second delivery finds the key taken (`_taken`): it never sends. If the claim is SENT it only
    advances; if it is still SENDING it waits for it, or, once older than any send can take, calls it
    interrupted: the lead goes to ERROR saying the email may not have gone out, and is not counted.
  - the send (engine/send.py) runs outside any transaction, only if this delivery inserted the claim.
  - `advance` (one transaction): the claim SENDING -> SENT by CAS, the activity (EMAIL_SENT...) recorded,
    the lead moved on by CAS with its flags and counters; if an archive, pause or delete won the lead's
    CAS, the activity and the flags are kept all the same (`_keep_effects`). If sending failed for good,
    `fail` takes the claim back instead (allowances released; nothing was logged as sent) and the lead
    goes to ERROR / SYSTEM_ERROR, with its LEAD_ERROR.

  Trade-off: the claim commits before the email leaves and the activity after the server accepted it, so
  the log never says "sent" for an email that did not go out, and nothing is ever sent twice by itself.
  A crash between the claim and the end of the send leaves an action that may or may not have gone out
  (the SMTP server may have accepted it just before): it is shown as such (ERROR, "may not have gone
  out"), not counted, and sent again only if a person retries the lead. A crash after the acceptance
  but before the commit is the same case. At most once beats twice for outreach; the price is one extra
  UPDATE and a transaction around the advance: one client stepping 550 leads through one email step on
  PostgreSQL ran 248-278 steps/s, against 263-287 before (about 8% fewer; 2 shared cores, noisy).

Live events (stats, activity) go out after commit, registered by domain.leads and domain.activity. The
next step is not started here: an `Applied` with `hand_on` says the lead is due again now and still
claimed, and the runner's caller hands it on once this commit is done (engine/chain.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain import counters, events, leads
from domain.activity import record_activity
from domain.leads import update_lead
from domain.suppressions import suppressed
from domain.tx import one_statement, transaction
from engine import allowances, channels, claims, placement, queue, records, send
from engine.claims import Claimed
from engine.decisions import Act, Error, Finish, Wait, Withdraw, error
from engine.records import action_key
from engine.sequence import StepView
from engine.snapshot import Snapshot
from engine.views import Rendered
from models import Identity, Lead, Task
from models.db import database_interrupted
from models.enums import ActivityKind, ClaimState, LeadStatus, LeadSubstatus, TaskStatus, TaskType

log = logging.getLogger("outbound.engine")

#: (lead id, state_version) of a lead claimed for its next step.
Claim = tuple[int, int]


@dataclass(frozen=True)
class Applied:
    """What a step did ("done", "moved", "wait", ...: for logs and tests), and the claim to hand on."""

    what: str
    hand_on: Claim | None = None


class _Taken(Exception):
    """The action's claim exists already (an earlier delivery made it): roll back the placing, then look."""


class _Lost(Exception):
    """A compare-and-set on the claim lost to another delivery's: roll back what this transaction wrote."""


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
    explained = isinstance(decision, Error) or (
        isinstance(decision, Finish) and decision.substatus in records.FINISH_REASONS
    )
    hand_on = _keep_claim(changes, now)
    # With an activity there are two writes: one transaction. Else the CAS alone (see _write_scope).
    async with transaction() if explained else _write_scope(changes):
        if not await update_lead(lead, **changes):
            return Applied("moved")
        if isinstance(decision, Error):
            await records.record_error(lead, decision, now)
        elif explained and isinstance(decision, Finish):
            await records.record_finish(lead, decision, at, now)
    return Applied(type(decision).__name__.lower(), _claim_of(lead) if hand_on else None)


# ------------------------------------------------------------------------------------------ actions


async def claim(snap: Snapshot, decision: Act | Withdraw, rendered: Rendered, now: datetime) -> Claimed | Applied:
    """Step 1: place the lead on the step, claim the action under its key, reserve the allowances.

    Returns an `Applied` when there is nothing to send: the lead moved meanwhile, an allowance ran out
    (then the decision became a wait, or an error, and was settled), or an earlier delivery's claim holds
    the key (`_taken`: still sending, or interrupted by a crash).
    """
    lead, step = snap.lead, decision.step
    withdraw = isinstance(decision, Withdraw)
    kind = ActivityKind.INVITATION_WITHDRAWN if isinstance(decision, Withdraw) else decision.kind
    key = action_key(lead, step.id, ":withdraw" if withdraw else "")
    provider = channels.provider_for(step.type, snap.identity) if kind != ActivityKind.TASK_CREATED else None
    sender = snap.identity.email_address if snap.identity is not None else None
    external_id = provider.new_external_id(key, sender) if provider is not None else None
    detail = records.detail(kind, step, rendered)
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
            if provider is None:  # a task: nothing to hand over, its activity and task are the claim
                inserted = await records.record_action(lead, kind, step, detail, None, key, now) is not None
            elif not await claims.insert(lead, step.id, kind, key, external_id, now):
                raise _Taken
            else:
                inserted = True
            if inserted and isinstance(decision, Act):
                await allowances.reserve(snap, decision, now)
                if kind == ActivityKind.TASK_CREATED:
                    await _create_task(lead, step, rendered, key, now)
    except allowances.Refused as refused:
        fresh = await _fresh(snap, version)
        return await settle(snap, refused.decision, now) if fresh else Applied("moved")
    except _Taken:
        return (
            await _taken(snap, decision, key, kind, provider, now) if await _fresh(snap, version) else Applied("moved")
        )
    return Claimed(key, kind, inserted, provider, external_id, step.id, detail)


async def advance(snap: Snapshot, decision: Act | Withdraw, claimed: Claimed, now: datetime) -> Applied:
    """Step 3 after a send (or a redelivery): the lead moves on by compare-and-set, with its counters.

    After a send (`claimed.must_send`) this is also where the action enters the log: the claim becomes SENT
    by compare-and-set, the activity is recorded and the lead moves on with its flags, in one transaction
    (`_record_sent`)."""
    lead, sequence, step = snap.lead, snap.sequence, decision.step
    try:
        changes = placement.after_action(lead, sequence, step, claimed.kind, now)
        if claimed.kind == ActivityKind.TASK_CREATED and await _task_done(claimed.key):
            changes |= placement.move_to(lead, sequence, sequence.successor(step), now)
    except Exception:
        # The step raises after its send (a bug, a stored value that overflows): the action went out, so the
        # log says so before the broker retries; the retry finds the claim SENT and only advances (or raises
        # again, and engine/failures.py stops it in ERROR).
        if claimed.must_send:
            await _record_sent(snap, decision, claimed, None, False, now)
        raise
    hand_on = _keep_claim(changes, now)
    if claimed.must_send:
        return await _record_sent(snap, decision, claimed, changes, hand_on, now)
    async with _write_scope(changes):
        won = await update_lead(lead, **changes)
    if not won:
        if claimed.inserted:  # this delivery performed the action: its flags follow the log
            await _keep_effects(lead.id, claimed.kind, now)
        return Applied("moved")
    what = "done" if claimed.inserted else "finished-redelivery"
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
        # Lead first, then the claim and usage: the lock order of `claim`, so the two never deadlock.
        substatus = LeadSubstatus.EMAIL_DISCONNECTED if disconnected else LeadSubstatus.SYSTEM_ERROR
        problem = error(step, substatus, failure)
        if await update_lead(lead, **placement.error(lead, problem, now)):
            await records.record_error(lead, problem, now)
        # Taken back even if the lead moved meanwhile (paused): a later run sends under the same key. Nothing
        # was logged as sent, so nothing is deleted from the log.
        if await claims.release(claimed.key) and isinstance(decision, Act):
            await allowances.release(snap, decision)
        if disconnected and snap.identity is not None:
            await Identity.filter(id=snap.identity.id).update(email_connected=False)
    return Applied("failed")


# ---------------------------------------------------------------------------- a claim after its send


async def _record_sent(
    snap: Snapshot,
    decision: Act | Withdraw,
    claimed: Claimed,
    changes: dict[str, Any] | None,
    hand_on: bool,
    now: datetime,
) -> Applied:
    """The provider accepted: the lead moves on by `changes` (None, or an archive, pause or delete won the
    race: only its flags follow), the claim SENDING -> SENT, and the activity, all or nothing. The lead is
    written first (lock order lead -> claim, as the interruption writes them).

    This worker alone knows the action went out, so a database that is briefly unreachable (a restart) is
    waited for (up to engine/send.py `interrupted_after`, after which a redelivery may have called the send
    interrupted) rather than leaving the next delivery to call it interrupted. Each try runs in a copy of
    the context as it was before the first: a BEGIN that fails leaves Tortoise's current connection set
    to the dead transaction in the context it ran in, and every later query there would fail too. If the
    claim is no longer SENDING, a later delivery did call it interrupted (the lead is in ERROR, saying it
    may not have gone out): that stands, nothing here is kept, and it is logged loudly."""
    version, clean = snap.lead.state_version, contextvars.copy_context()
    wanted: dict[str, Any] | None = changes
    pause, until, stale = 0.1, time.monotonic() + send.interrupted_after().total_seconds(), False
    while True:
        try:
            if stale:  # a failed try changed the object in memory: the row is the truth
                fresh = await asyncio.create_task(_read_lead(snap.lead.id), context=clean.copy())
                snap.lead, stale = fresh, False
                wanted = changes if fresh.state_version == version else None  # moved meanwhile: flags only
            try_once = _record_sent_once(snap.lead, decision.step, claimed, wanted, now)
            won = await asyncio.create_task(try_once, context=clean.copy())
            break
        except _Lost:
            log.error("send %s finished after it was called interrupted: it went out, not counted", claimed.key)
            return Applied("interrupted-late")
        except Exception as exc:
            if not database_interrupted(exc) or time.monotonic() > until:
                raise
            log.warning("send %s went out; recording it waits for the database: %s", claimed.key, exc)
            await asyncio.sleep(pause)
            pause, stale = min(2 * pause, 2.0), True
    if not won:
        return Applied("moved")
    return Applied("done", _claim_of(snap.lead) if hand_on else None)


async def _read_lead(lead_id: int) -> Lead:
    return await Lead.get(id=lead_id)


async def _record_sent_once(
    lead: Lead, step: StepView, claimed: Claimed, wanted: dict[str, Any] | None, now: datetime
) -> bool:
    """One try of `_record_sent`: whether the lead's CAS won (else only its flags were set)."""
    async with transaction():
        won = wanted is not None and await update_lead(lead, **wanted)
        if not won:
            await _keep_effects(lead.id, claimed.kind, now)
        if not await claims.mark(claimed.key, ClaimState.SENT):
            raise _Lost
        await records.record_action(lead, claimed.kind, step, claimed.detail, claimed.external_id, claimed.key, now)
    return won


async def _taken(
    snap: Snapshot,
    decision: Act | Withdraw,
    key: str,
    kind: ActivityKind,
    provider: channels.Provider | None,
    now: datetime,
) -> Claimed | Applied:
    """An earlier delivery claimed this action (`snap.lead` is re-read, unchanged since the decision).

    - SENT: it was performed, and its advance lost a race (a pause since resumed): only advance, no send.
    - SENDING, younger than the longest send plus a margin: its worker may still be sending. Nothing
      changes; the lead's lease is pushed to the moment the claim would count as interrupted, so the
      scheduler does not hand the lead out again and again meanwhile ("in-flight").
    - SENDING and older, or INTERRUPTED: the worker died mid-send. It may or may not have gone out, so it
      is neither counted nor sent again: the lead goes to ERROR / SYSTEM_ERROR saying so, and retryLead
      (a new attempt, so a new key) is the person's decision to send it again.
    """
    lead = snap.lead
    existing = await claims.get(key)
    if existing is None:  # released by a failed send meanwhile: the next delivery claims it afresh
        return Applied("moved")
    if existing.state == ClaimState.SENT:
        return Claimed(key, kind, False, provider, existing.external_id, decision.step.id)
    due = existing.claimed_at + send.interrupted_after()
    if existing.state == ClaimState.SENDING and now < due:
        await Lead.filter(id=lead.id, state_version=lead.state_version).update(claimed_until=due)
        return Applied("in-flight")
    problem = Error(
        decision.step, LeadSubstatus.SYSTEM_ERROR, claims.interrupted_message(kind), claims.INTERRUPTED_HINT
    )
    try:
        async with transaction():
            if not await update_lead(lead, **placement.error(lead, problem, now)):
                return Applied("moved")
            if existing.state == ClaimState.SENDING and not await claims.mark(key, ClaimState.INTERRUPTED):
                raise _Lost  # its worker finished after all, just now: its commit stands
            await records.record_error(lead, problem, now)
    except _Lost:
        return Applied("moved")
    log.warning("send %s was interrupted (claimed at %s): lead %s is in ERROR", key, existing.claimed_at, lead.id)
    return Applied("interrupted")


async def _fresh(snap: Snapshot, version: int) -> bool:
    """After a rollback: the lead re-read into `snap` (the failed transaction changed the object in memory);
    False if it moved meanwhile (another delivery's commit)."""
    fresh = await Lead.get_or_none(id=snap.lead.id)
    if fresh is None or fresh.state_version != version:
        return False
    snap.lead = fresh
    return True


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
