"""The engine's entries in the Activity log: each action's, an error's, an explained finish's.

Every entry goes through domain/activity.record_activity under an exactly-once key derived from
`action_key` (lead, step, attempt), so a repeated step never logs twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.activity import record_activity
from engine.decisions import Error, Finish
from engine.sequence import StepView
from engine.views import Rendered
from models import Lead
from models.enums import ActivityKind, LeadSubstatus


def action_key(lead: Lead, step_id: int, suffix: str = "") -> str:
    """The exactly-once key of an outbound action: (lead, step, attempt). retryLead starts a new attempt."""
    return f"{lead.id}:{step_id}:{lead.attempt}{suffix}"


#: Why a lead finished, for the finishes that a user would otherwise have to guess (LEAD_FINISHED's detail).
FINISH_REASONS: dict[LeadSubstatus, str] = {
    LeadSubstatus.NOT_CONNECTED: "Not connected: a LinkedIn message needs a connection, and no invitation "
    "was accepted. The lead finished without being messaged.",
}


def detail(kind: ActivityKind, step: Any, rendered: Rendered) -> str | None:
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


async def record_error(lead: Lead, problem: Error, now: datetime) -> None:
    await record_activity(
        lead,
        ActivityKind.LEAD_ERROR,
        channel=problem.step.type.channel,
        step_id=problem.step.id,
        detail=f"{problem.substatus.value}: {problem.message}",
        dedupe_key=action_key(lead, problem.step.id, ":error"),
        occurred_at=now,
    )


async def record_action(
    lead: Lead,
    kind: ActivityKind,
    step: StepView,
    detail: str | None,
    external_id: str | None,
    key: str,
    now: datetime,
) -> int | None:
    """The action's activity, under its exactly-once key (the log refuses a second one)."""
    return await record_activity(
        lead,
        kind,
        channel=step.type.channel,
        step_id=step.id,
        detail=detail,
        external_id=external_id,
        dedupe_key=key,
        occurred_at=now,
    )


async def record_finish(lead: Lead, decision: Finish, step: StepView | None, now: datetime) -> None:
    await record_activity(
        lead,
        ActivityKind.LEAD_FINISHED,
        channel=step.type.channel if step is not None else None,
        step_id=step.id if step is not None else None,
        detail=f"{decision.substatus.value}: {FINISH_REASONS[decision.substatus]}",
        dedupe_key=action_key(lead, step.id if step is not None else 0, ":finish"),
        occurred_at=now,
    )
