"""A step that keeps failing stops: after FAILURE_LIMIT failed runs, its lead goes to ERROR.

A run that raises (a bug, or a stored value no input lets through any more, like a wait of 2^31 days that
overflowed the date arithmetic) is retried by the broker, and once the message gives up the scheduler
claims the lead again when its lease runs out: without a count, that is forever. The count lives in the
lead's row, for the step it was counted at (`failing_step`; 0 before the first step is reached): a lead that
moves on to another step starts again from zero, whichever worker, message or retry the failures came from.
(The step's claim bumps `state_version` before a later part of the run fails, so the version cannot be the
key.) Successful runs do not reset it, which would cost a write per step: a lead passes each step once per
attempt, so the count is "failures of this step since the lead reached it". At the limit the lead goes to
ERROR / SYSTEM_ERROR with a message and a hint (domain/problems.py) and its LEAD_ERROR activity, as any other
error would, and the failure is logged once with its traceback; retryLead sends it back once the cause is
fixed, counting from zero.
"""

from __future__ import annotations

import logging
from datetime import datetime

from domain.activity import record_activity
from domain.leads import update_lead
from domain.problems import STEP_KEEPS_FAILING
from domain.tx import transaction
from engine import clock
from engine.apply import action_key
from models import Lead, SequenceStep
from models.enums import ActivityKind, Branch, LeadStatus, LeadSubstatus, StepType
from models.sql import db, execute, placeholders

log = logging.getLogger("outbound.engine")

#: Failed runs of one step before the lead goes to ERROR.
FAILURE_LIMIT = 3
RUNNABLE = (LeadStatus.NOT_STARTED, LeadStatus.IN_PROGRESS)


async def record_failure(lead_id: int, exc: BaseException, now: datetime | None = None) -> bool:
    """Count a failed run of the lead's step. True when this one reached the limit and the lead is now in
    ERROR (the caller stops retrying); False when it should be retried as usual."""
    lead = await Lead.get_or_none(id=lead_id)
    if lead is None or lead.removed_at is not None or lead.status not in RUNNABLE:
        return False
    at_step = lead.current_step_id or 0
    count = lead.step_failures + 1 if lead.failing_step == at_step else 1
    if count < FAILURE_LIMIT:
        conn = db()
        a, b, c, d = placeholders(conn, 4)
        # Not a state change: state_version stays. The claim is given back, so that the broker's retry runs
        # the step again (a retry carries the version from before the step's own claim, and would find the
        # lead claimed and itself stale) rather than the lease's end, much later.
        await execute(
            conn,
            f"UPDATE lead SET step_failures = {a}, failing_step = {b}, claimed_until = NULL"
            f" WHERE id = {c} AND state_version = {d}",
            [count, at_step, lead.id, lead.state_version],
        )
        log.warning("step of lead %s failed (%s of %s): %s", lead.id, count, FAILURE_LIMIT, type(exc).__name__)
        return False
    return await _stop(lead, count, exc, now or clock.now())


async def _stop(lead: Lead, count: int, exc: BaseException, now: datetime) -> bool:
    step_id = lead.current_step_id or await _first_step(lead.campaign_id)
    row = await SequenceStep.get_or_none(id=step_id) if step_id is not None else None
    message, hint = STEP_KEEPS_FAILING
    message = message.format(count=count, error=type(exc).__name__)
    async with transaction():
        moved = await update_lead(
            lead,
            status=LeadStatus.ERROR,
            substatus=LeadSubstatus.SYSTEM_ERROR,
            current_step_id=step_id,
            next_action_at=None,
            claimed_until=None,
            error_message=message,
            error_hint=hint,
            error_at=now,
            started_at=lead.started_at or now,
            step_failures=0,
            failing_step=None,
        )
        if not moved:
            return False  # it moved meanwhile (paused, removed...): that state decides, not this failure
        await record_activity(
            lead,
            ActivityKind.LEAD_ERROR,
            channel=StepType(row.type).channel if row is not None else None,
            step_id=step_id,
            detail=f"{LeadSubstatus.SYSTEM_ERROR.value}: {message}",
            dedupe_key=action_key(lead, step_id or 0, ":error"),
            occurred_at=now,
        )
    log.error("step of lead %s failed %s times; the lead is now in ERROR", lead.id, count, exc_info=exc)
    return True


async def _first_step(campaign_id: int) -> int | None:
    """A NOT_STARTED lead's step: the first of the main list (where retryLead starts it again)."""
    first = (
        await SequenceStep.filter(campaign_id=campaign_id, parent_id=None, branch=Branch.MAIN)
        .order_by("position")
        .first()
    )
    return first.id if first is not None else None
