"""What to do next with one lead: a pure function of (lead, sequence, identity, contact, now).

The executor (engine/runner.py) gathers the inputs, renders the step's texts, calls `decide`, and applies
the decision by compare-and-set. No I/O here, so every rule is covered by table tests (tests/test_decide.py).
A `Branch` is applied in memory and `decide` is asked again, so a chain of conditions resolves at once.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from domain.problems import BOUNCE_GUARD
from engine import hours
from engine.decisions import Act, Branch, Decision, Error, Finish, Noop, Wait, Withdraw, error
from engine.sequence import Sequence, StepView
from engine.views import IdentityView, LeadView, Rendered
from models import enums
from models.enums import ActivityKind, ConditionType, LeadStatus, LeadSubstatus, StepType

S = LeadSubstatus

INVITATION_NOTE_LIMIT = 300
LINKEDIN_MESSAGE_LIMIT = 8000
INMAIL_SUBJECT_LIMIT = 200
#: LinkedIn refuses a new invitation to the same person for a while after one was withdrawn.
REINVITE_COOLDOWN = timedelta(days=21)
EMAIL_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

#: What each action step records, and which daily allowance it spends (domain.md "Limits").
ACTION_KIND: dict[StepType, ActivityKind] = {
    StepType.LINKEDIN_VISIT_PROFILE: ActivityKind.PROFILE_VISITED,
    StepType.LINKEDIN_LIKE_LAST_POST: ActivityKind.POST_LIKED,
    StepType.LINKEDIN_CONNECTION: ActivityKind.INVITATION_SENT,
    StepType.LINKEDIN_MESSAGE: ActivityKind.LINKEDIN_MESSAGE_SENT,
    StepType.LINKEDIN_INMAIL: ActivityKind.INMAIL_SENT,
    StepType.EMAIL: ActivityKind.EMAIL_SENT,
    StepType.TASK: ActivityKind.TASK_CREATED,
}
DAILY_ALLOWANCE: dict[StepType, str] = {
    StepType.LINKEDIN_CONNECTION: "connection",
    StepType.LINKEDIN_MESSAGE: "linkedin_message",
    StepType.EMAIL: "email",
}
#: Steps that open a conversation with a lead not contacted before (the monthly quota).
CONVERSATION_STEPS = {StepType.LINKEDIN_MESSAGE, StepType.LINKEDIN_INMAIL, StepType.EMAIL}
LINKEDIN_STEPS = {t for t, kind in ACTION_KIND.items() if t.name.startswith("LINKEDIN_")}


def needs_usage(step: StepView) -> bool:
    """Whether deciding `step` may read the sender's usage (`_run_step` reads it for these types only)."""
    return step.type in DAILY_ALLOWANCE or step.type in CONVERSATION_STEPS


# --------------------------------------------------------------------------------------- decide


def decide(
    lead: LeadView,
    sequence: Sequence,
    identity: IdentityView | None,
    now: datetime,
    rendered: Rendered | None = None,
) -> Decision:
    """The next thing to do for a lead that is due (its next_action_at has passed)."""
    if lead.status == LeadStatus.NOT_STARTED:
        step = sequence.first()
        if step is None:
            return Finish(S.COMPLETED)
    elif lead.status == LeadStatus.IN_PROGRESS:
        step = sequence.get(lead.current_step_id)
        if step is None:  # its step is gone (should not happen once launched): nothing more to run
            return Finish(S.COMPLETED)
    else:
        return Noop(f"lead is {lead.status.value}")

    if lead.substatus == S.WAITING_FOR_TASK:
        return Noop("waiting for its task to be completed")
    if lead.substatus == S.WAITING_TO_CONNECT and step.type == StepType.LINKEDIN_CONNECTION:
        return _awaiting_acceptance(lead, sequence, step, now)
    return _run_step(lead, sequence, identity, step, now, rendered or Rendered())


def _go(step: StepView, to: StepView | None) -> Decision:
    return Finish(S.COMPLETED) if to is None else Branch(step, to)


def _scaled(sequence: Sequence, delta: timedelta) -> timedelta:
    return delta / sequence.time_scale


def _awaiting_acceptance(lead: LeadView, sequence: Sequence, step: StepView, now: datetime) -> Decision:
    if lead.connected:
        return _go(step, sequence.branch_entry(step, enums.Branch.ACCEPTED))
    deadline = (lead.invitation_sent_at or now) + _scaled(sequence, timedelta(days=step.wait_for_acceptance_days or 0))
    if now < deadline:
        return Wait(step, deadline, S.WAITING_TO_CONNECT)
    return Withdraw(step)


def _run_step(
    lead: LeadView,
    sequence: Sequence,
    identity: IdentityView | None,
    step: StepView,
    now: datetime,
    rendered: Rendered,
) -> Decision:
    # A step's delay counts from the previous action; the first step's from the lead's start.
    anchor = lead.last_action_at or lead.started_at or now
    due = anchor + _scaled(sequence, timedelta(seconds=step.delay_seconds))
    if now < due:
        return Wait(step, due, S.SCHEDULED)

    if step.type == StepType.END:
        return Finish(S.COMPLETED)
    if step.type == StepType.CONDITION:
        holds = _condition(step.condition, lead)
        return _go(step, sequence.branch_entry(step, enums.Branch.ON_TRUE if holds else enums.Branch.ON_FALSE))
    if step.type == StepType.TASK:  # a person does it: no sender, hours or caps involved
        return Act(step, ActivityKind.TASK_CREATED)

    problem = _problem(lead, identity, step, rendered)
    if problem is not None:
        return problem
    assert identity is not None
    if step.type == StepType.LINKEDIN_MESSAGE and not lead.connected:
        return Finish(S.NOT_CONNECTED)
    if step.type == StepType.LINKEDIN_CONNECTION:
        if lead.connected:
            return _go(step, sequence.branch_entry(step, enums.Branch.ACCEPTED))
        if lead.invitation_sent_at is not None:
            again = lead.invitation_sent_at + _scaled(sequence, REINVITE_COOLDOWN)
            if now < again:
                return Wait(step, again, S.CONNECTION_WITHDRAWN)

    if sequence.time_scale > 1:
        # The demo compresses days into minutes: real-time working hours and daily caps would only stall it.
        return Act(step, ACTION_KIND[step.type], spend_inmail=step.type == StepType.LINKEDIN_INMAIL)

    work = identity.working_hours
    if not hours.in_window(now, work):
        return Wait(step, hours.next_window_start(now, work), S.OUTSIDE_WORKING_HOURS)

    zone = work.zone()
    reserve: list[tuple[str, str]] = []
    allowance = DAILY_ALLOWANCE.get(step.type)
    if allowance is not None:
        period = hours.day_period(now, zone)
        if identity.usage.get((allowance, period), 0) >= identity.cap(allowance):
            return Wait(step, hours.next_window_start(hours.next_day_start(now, zone), work), S.IDENTITY_LIMITS)
        reserve.append((allowance, period))
    if step.type in CONVERSATION_STEPS and not lead.contacted:
        period = hours.month_period(now, zone)
        if identity.usage.get(("conversation", period), 0) >= identity.cap("conversation"):
            until = hours.next_window_start(hours.next_month_start(now, zone), work)
            return Wait(step, until, S.MONTHLY_CONVERSATION_LIMIT)
        reserve.append(("conversation", period))
    return Act(step, ACTION_KIND[step.type], tuple(reserve), spend_inmail=step.type == StepType.LINKEDIN_INMAIL)


def limit_wait(step: StepView, identity: IdentityView, allowance: str, now: datetime) -> Wait:
    """The wait for an allowance that another worker used up between `decide` and the reservation."""
    work = identity.working_hours
    zone = work.zone()
    if allowance == "conversation":
        until = hours.next_window_start(hours.next_month_start(now, zone), work)
        return Wait(step, until, S.MONTHLY_CONVERSATION_LIMIT)
    return Wait(step, hours.next_window_start(hours.next_day_start(now, zone), work), S.IDENTITY_LIMITS)


def _condition(condition: ConditionType | None, lead: LeadView) -> bool:
    if condition == ConditionType.HAS_LINKEDIN_PROFILE:
        return bool(lead.linkedin_url)
    if condition == ConditionType.HAS_EMAIL:
        return bool(lead.email)
    if condition == ConditionType.IS_CONNECTED:
        return lead.connected
    if condition == ConditionType.EMAIL_CLICKED:
        return lead.em_clicked
    return False


def _problem(lead: LeadView, identity: IdentityView | None, step: StepView, rendered: Rendered) -> Error | None:
    """Why this action step cannot run for this lead, as an ERROR substatus (domain.md), or None."""
    if identity is None:
        return error(step, S.IDENTITY_MISCONFIGURATION, "The campaign has no identity.")
    try:
        identity.working_hours.validate()
    except hours.InvalidWorkingHours as exc:
        return error(step, S.IDENTITY_MISCONFIGURATION, f"Working hours: {exc}.")

    if step.type in LINKEDIN_STEPS:
        if not identity.linkedin_url:
            return error(step, S.IDENTITY_MISCONFIGURATION, "The identity has no LinkedIn account.")
        if not identity.linkedin_connected:
            return error(step, S.LINKEDIN_DISCONNECTED)
        if not lead.linkedin_url:
            return error(step, S.LEAD_NOT_SCRAPED)
        body = rendered.body or ""
        if step.type == StepType.LINKEDIN_CONNECTION and len(body) > INVITATION_NOTE_LIMIT:
            return error(
                step, S.MESSAGE_TOO_LONG, f"Invitation note: {len(body)} of {INVITATION_NOTE_LIMIT} characters."
            )
        if step.type in (StepType.LINKEDIN_MESSAGE, StepType.LINKEDIN_INMAIL) and len(body) > LINKEDIN_MESSAGE_LIMIT:
            return error(step, S.MESSAGE_TOO_LONG, f"Message: {len(body)} of {LINKEDIN_MESSAGE_LIMIT} characters.")
        if step.type == StepType.LINKEDIN_INMAIL:
            subject = (rendered.subject or "").strip()
            if not subject:
                return error(step, S.MISSING_INMAIL_SUBJECT)
            if len(subject) > INMAIL_SUBJECT_LIMIT:
                return error(step, S.MESSAGE_TOO_LONG, f"Subject: {len(subject)} of {INMAIL_SUBJECT_LIMIT} characters.")
            if identity.inmail_credits <= 0:
                return error(step, S.INMAIL_CREDITS_LIMIT)
    elif step.type == StepType.EMAIL:
        if not identity.email_address:
            return error(step, S.MISSING_EMAIL)
        if not EMAIL_ADDRESS.match(identity.email_address):
            return error(step, S.INVALID_IDENTITY_EMAIL)
        if not identity.email_connected:
            return error(step, S.EMAIL_DISCONNECTED)
        if identity.bounce_guarded:
            return Error(step, S.EMAIL_DISCONNECTED, *BOUNCE_GUARD)
        if not lead.email:
            return error(step, S.MISSING_CONTACT_EMAIL)
        if not (rendered.subject or "").strip():
            return error(step, S.MISSING_EMAIL_SUBJECT)
    return None


__all__ = [
    "Act",
    "Branch",
    "Decision",
    "Error",
    "Finish",
    "IdentityView",
    "LeadView",
    "Noop",
    "Rendered",
    "Wait",
    "Withdraw",
    "decide",
    "error",
    "limit_wait",
]
