"""Where a lead stands after a decision, as the field changes given to domain.leads.update_lead."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from engine.decisions import Error, Wait
from engine.sequence import Sequence, StepView
from models import Lead
from models.enums import ActivityKind, Branch, Channel, LeadStatus, LeadSubstatus, StepType

#: The lead flags (counted facts) and fields that each recorded action sets.
ACTION_EFFECTS: dict[ActivityKind, dict[str, Any]] = {
    ActivityKind.PROFILE_VISITED: {"li_engaged": True},
    ActivityKind.POST_LIKED: {"li_engaged": True},
    ActivityKind.INVITATION_SENT: {"li_engaged": True, "li_invited": True},
    ActivityKind.LINKEDIN_MESSAGE_SENT: {
        "li_engaged": True,
        "li_contacted": True,
        "contacted": True,
        "last_channel": Channel.LINKEDIN,
    },
    ActivityKind.INMAIL_SENT: {
        "li_engaged": True,
        "li_contacted": True,
        "contacted": True,
        "last_channel": Channel.LINKEDIN,
    },
    ActivityKind.EMAIL_SENT: {"em_sent": True, "contacted": True, "last_channel": Channel.EMAIL},
    ActivityKind.TASK_CREATED: {},
    ActivityKind.INVITATION_WITHDRAWN: {},
}


def started(lead: Lead, now: datetime) -> datetime:
    return lead.started_at or now


def wait(lead: Lead, decision: Wait, now: datetime) -> dict[str, Any]:
    return {
        "status": LeadStatus.IN_PROGRESS,
        "substatus": decision.substatus,
        "current_step_id": decision.step.id,
        "next_action_at": decision.until,
        "claimed_until": None,
        "started_at": started(lead, now),
    }


def finish(lead: Lead, substatus: LeadSubstatus, now: datetime) -> dict[str, Any]:
    return {
        "status": LeadStatus.FINISHED,
        "substatus": substatus,
        "current_step_id": None,
        "next_action_at": None,
        "claimed_until": None,
        "finished_at": now,
        "started_at": started(lead, now),
    }


def error(lead: Lead, decision: Error, now: datetime) -> dict[str, Any]:
    return {
        "status": LeadStatus.ERROR,
        "substatus": decision.substatus,
        "current_step_id": decision.step.id,
        "next_action_at": None,
        "claimed_until": None,
        "error_message": decision.message,
        "error_hint": decision.hint,
        "error_at": now,
        "started_at": started(lead, now),
    }


def move_to(lead: Lead, sequence: Sequence, to: StepView | None, now: datetime) -> dict[str, Any]:
    """On to `to` (None: the end), scheduled after its delay from now (the previous action)."""
    if to is None:
        return finish(lead, LeadSubstatus.COMPLETED, now)
    return {
        "status": LeadStatus.IN_PROGRESS,
        "substatus": LeadSubstatus.SCHEDULED,
        "current_step_id": to.id,
        "next_action_at": now + timedelta(seconds=to.delay_seconds) / sequence.time_scale,
        "claimed_until": None,
        "started_at": started(lead, now),
    }


def after_action(lead: Lead, sequence: Sequence, step: StepView, kind: ActivityKind, now: datetime) -> dict[str, Any]:
    """The lead after `step`'s action was performed: waiting on it, or on to the next step."""
    effects = {**ACTION_EFFECTS[kind], "last_action_at": now, "started_at": started(lead, now)}
    if kind == ActivityKind.INVITATION_SENT:
        days = timedelta(days=step.wait_for_acceptance_days or 0) / sequence.time_scale
        return {
            **effects,
            "invitation_sent_at": now,
            "status": LeadStatus.IN_PROGRESS,
            "substatus": LeadSubstatus.WAITING_TO_CONNECT,
            "current_step_id": step.id,
            "next_action_at": now + days,
            "claimed_until": None,
        }
    if kind == ActivityKind.TASK_CREATED and step.type == StepType.TASK:
        return {
            **effects,
            "status": LeadStatus.IN_PROGRESS,
            "substatus": LeadSubstatus.WAITING_FOR_TASK,
            "current_step_id": step.id,
            "next_action_at": None,
            "claimed_until": None,
        }
    if kind == ActivityKind.INVITATION_WITHDRAWN:
        return {**move_to(lead, sequence, sequence.branch_entry(step, Branch.NOT_ACCEPTED), now), **effects}
    return {**move_to(lead, sequence, sequence.successor(step), now), **effects}
