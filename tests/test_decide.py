"""`decide` is pure: every step type, condition, branch and substatus, as a table. No database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.decide import (
    Act,
    Branch,
    Decision,
    Error,
    Finish,
    IdentityView,
    LeadView,
    Noop,
    Rendered,
    Wait,
    Withdraw,
    decide,
)
from engine.hours import WorkingHours
from engine.sequence import Sequence, StepView
from models.enums import ActivityKind, ConditionType, LeadStatus, StepType
from models.enums import Branch as Path
from models.enums import LeadSubstatus as S

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # Wednesday 10:00 UTC
DAY = timedelta(days=1)
T = StepType

# 1 VISIT, 2 CONNECTION(7d) [ACCEPTED: 3 MESSAGE | NOT_ACCEPTED: 4 EMAIL], 5 CONDITION HAS_EMAIL [ON_TRUE: 6 EMAIL],
# 7 INMAIL, 8 TASK, 9 CONDITION IS_CONNECTED [ON_FALSE: 10 END], 11 LIKE (delay 1 day), 12 CONDITION EMAIL_CLICKED,
# 13 CONDITION HAS_LINKEDIN_PROFILE [ON_TRUE: 14 VISIT]
STEPS = [
    StepView(1, 1, T.LINKEDIN_VISIT_PROFILE),
    StepView(2, 2, T.LINKEDIN_CONNECTION, wait_for_acceptance_days=7, content="Hi {{firstName}}"),
    StepView(3, 3, T.LINKEDIN_MESSAGE, parent_id=2, branch=Path.ACCEPTED, content="Thanks"),
    StepView(4, 4, T.EMAIL, parent_id=2, branch=Path.NOT_ACCEPTED, subject="S", content="B"),
    StepView(5, 5, T.CONDITION, condition=ConditionType.HAS_EMAIL),
    StepView(6, 6, T.EMAIL, parent_id=5, branch=Path.ON_TRUE, delay_seconds=3600, subject="S", content="B"),
    StepView(7, 7, T.LINKEDIN_INMAIL, subject="S", content="B"),
    StepView(8, 8, T.TASK, title="Call"),
    StepView(9, 9, T.CONDITION, condition=ConditionType.IS_CONNECTED),
    StepView(10, 10, T.END, parent_id=9, branch=Path.ON_FALSE),
    StepView(11, 11, T.LINKEDIN_LIKE_LAST_POST, delay_seconds=86400),
    StepView(12, 12, T.CONDITION, condition=ConditionType.EMAIL_CLICKED),
    StepView(13, 13, T.CONDITION, condition=ConditionType.HAS_LINKEDIN_PROFILE),
    StepView(14, 14, T.LINKEDIN_VISIT_PROFILE, parent_id=13, branch=Path.ON_TRUE),
]
SEQ = Sequence(STEPS)
ST = {s.id: s for s in STEPS}
MSG = Rendered(subject="Subject", body="Body")


def at(step_id: int | None, **kw: Any) -> LeadView:
    """An IN_PROGRESS lead at a step, due now, whose previous action was a day ago."""
    base = LeadView(
        status=LeadStatus.IN_PROGRESS,
        substatus=S.SCHEDULED,
        current_step_id=step_id,
        started_at=NOW - 2 * DAY,
        last_action_at=NOW - DAY,
        email="lead@example.test",
        linkedin_url="https://linkedin.com/in/lead",
    )
    return replace(base, **kw)


IDENTITY = IdentityView(
    linkedin_url="https://linkedin.com/in/me",
    linkedin_connected=True,
    email_address="me@sender.test",
    email_connected=True,
    working_hours=WorkingHours("UTC", 0b1111111, "00:00", "24:00"),
)
WORKDAY = WorkingHours("UTC", 0b0011111, "09:00", "18:00")


def ident(**kw: Any) -> IdentityView:
    return replace(IDENTITY, **kw)


def err(step_id: int, substatus: S) -> Any:
    return lambda d: isinstance(d, Error) and d.substatus == substatus and d.step.id == step_id and d.message and d.hint


CASES: list[tuple[str, LeadView, IdentityView | None, datetime, Rendered, Any]] = [
    # --- starting, delays, end of sequence
    ("not started: first step at once", at(None, status=LeadStatus.NOT_STARTED, substatus=None, started_at=None),
     IDENTITY, NOW, MSG,
     Act(ST[1], ActivityKind.PROFILE_VISITED)),
    ("delay counts from the previous action", at(11, last_action_at=NOW - timedelta(hours=2)), IDENTITY, NOW, MSG,
     Wait(ST[11], NOW + timedelta(hours=22), S.SCHEDULED)),
    ("first step's delay counts from the start", LeadView(LeadStatus.IN_PROGRESS, S.SCHEDULED, 11, started_at=NOW),
     IDENTITY, NOW, MSG, Wait(ST[11], NOW + DAY, S.SCHEDULED)),
    ("delay passed: like", at(11), IDENTITY, NOW, MSG, Act(ST[11], ActivityKind.POST_LIKED)),
    ("paused leads are not run", at(1, status=LeadStatus.PAUSED, substatus=S.CAMPAIGN_PAUSED), IDENTITY, NOW, MSG,
     Noop("lead is PAUSED")),
    ("finished leads are not run", at(1, status=LeadStatus.FINISHED), IDENTITY, NOW, MSG, Noop("lead is FINISHED")),
    ("END finishes", at(10), IDENTITY, NOW, MSG, Finish(S.COMPLETED)),
    # --- conditions and branches
    ("HAS_EMAIL true -> ON_TRUE", at(5), IDENTITY, NOW, MSG, Branch(ST[5], ST[6])),
    ("HAS_EMAIL false -> past the condition", at(5, email=None), IDENTITY, NOW, MSG, Branch(ST[5], ST[7])),
    ("IS_CONNECTED false -> ON_FALSE", at(9), IDENTITY, NOW, MSG, Branch(ST[9], ST[10])),
    ("IS_CONNECTED true, empty ON_TRUE -> next", at(9, connected=True), IDENTITY, NOW, MSG, Branch(ST[9], ST[11])),
    ("EMAIL_CLICKED false at the end -> finish", at(12), IDENTITY, NOW, MSG, Branch(ST[12], ST[13])),
    ("EMAIL_CLICKED true -> next", at(12, em_clicked=True), IDENTITY, NOW, MSG, Branch(ST[12], ST[13])),
    ("HAS_LINKEDIN_PROFILE true", at(13), IDENTITY, NOW, MSG, Branch(ST[13], ST[14])),
    ("HAS_LINKEDIN_PROFILE false at the end", at(13, linkedin_url=None), IDENTITY, NOW, MSG, Finish(S.COMPLETED)),
    ("end of a branch continues after its branching step", at(3, connected=True), IDENTITY, NOW, MSG,
     Act(ST[3], ActivityKind.LINKEDIN_MESSAGE_SENT, (("linkedin_message", "2026-03-04"), ("conversation", "2026-03")))),
    # --- invitations
    ("invite", at(2), IDENTITY, NOW, MSG, Act(ST[2], ActivityKind.INVITATION_SENT, (("connection", "2026-03-04"),))),
    ("already connected: ACCEPTED branch", at(2, connected=True), IDENTITY, NOW, MSG, Branch(ST[2], ST[3])),
    ("waiting to connect", at(2, substatus=S.WAITING_TO_CONNECT, invitation_sent_at=NOW - DAY), IDENTITY, NOW, MSG,
     Wait(ST[2], NOW + 6 * DAY, S.WAITING_TO_CONNECT)),
    ("accepted meanwhile", at(2, substatus=S.WAITING_TO_CONNECT, invitation_sent_at=NOW - DAY, connected=True),
     IDENTITY, NOW, MSG, Branch(ST[2], ST[3])),
    ("not accepted in time: withdraw", at(2, substatus=S.WAITING_TO_CONNECT, invitation_sent_at=NOW - 7 * DAY),
     IDENTITY, NOW, MSG, Withdraw(ST[2])),
    ("re-invite too soon after a withdrawal", at(2, invitation_sent_at=NOW - 8 * DAY), IDENTITY, NOW, MSG,
     Wait(ST[2], NOW + 13 * DAY, S.CONNECTION_WITHDRAWN)),
    ("note over 300 characters", at(2), IDENTITY, NOW, Rendered(body="x" * 301), err(2, S.MESSAGE_TOO_LONG)),
    # --- messages
    ("message to someone not connected", at(3), IDENTITY, NOW, MSG, Finish(S.NOT_CONNECTED)),
    ("message over 8000", at(3, connected=True), IDENTITY, NOW, Rendered(body="x" * 8001),
     err(3, S.MESSAGE_TOO_LONG)),
    ("message to a contacted lead opens no conversation", at(3, connected=True, contacted=True), IDENTITY, NOW, MSG,
     Act(ST[3], ActivityKind.LINKEDIN_MESSAGE_SENT, (("linkedin_message", "2026-03-04"),))),
    ("email", at(6, last_action_at=NOW - 2 * DAY), IDENTITY, NOW, MSG,
     Act(ST[6], ActivityKind.EMAIL_SENT, (("email", "2026-03-04"), ("conversation", "2026-03")))),
    ("inmail", at(7, contacted=True), IDENTITY, NOW, MSG, Act(ST[7], ActivityKind.INMAIL_SENT, (), spend_inmail=True)),
    ("task", at(8), IDENTITY, NOW, MSG, Act(ST[8], ActivityKind.TASK_CREATED)),
    ("waiting for a task", at(8, substatus=S.WAITING_FOR_TASK), IDENTITY, NOW, MSG,
     Noop("waiting for its task to be completed")),
    # --- errors
    ("no identity", at(1), None, NOW, MSG, err(1, S.IDENTITY_MISCONFIGURATION)),
    ("identity without LinkedIn", at(1), ident(linkedin_url=None), NOW, MSG, err(1, S.IDENTITY_MISCONFIGURATION)),
    ("bad time zone", at(1), ident(working_hours=WorkingHours("Mars/Base")), NOW, MSG,
     err(1, S.IDENTITY_MISCONFIGURATION)),
    ("LinkedIn disconnected", at(1), ident(linkedin_connected=False), NOW, MSG, err(1, S.LINKEDIN_DISCONNECTED)),
    ("no LinkedIn URL", at(1, linkedin_url=None), IDENTITY, NOW, MSG, err(1, S.LEAD_NOT_SCRAPED)),
    ("no mailbox", at(4), ident(email_address=None), NOW, MSG, err(4, S.MISSING_EMAIL)),
    ("invalid mailbox", at(4), ident(email_address="nope"), NOW, MSG, err(4, S.INVALID_IDENTITY_EMAIL)),
    ("mailbox disconnected", at(4), ident(email_connected=False), NOW, MSG, err(4, S.EMAIL_DISCONNECTED)),
    ("contact without email", at(4, email=None), IDENTITY, NOW, MSG, err(4, S.MISSING_CONTACT_EMAIL)),
    ("email without subject", at(4), IDENTITY, NOW, Rendered(subject=" ", body="B"), err(4, S.MISSING_EMAIL_SUBJECT)),
    ("inmail without subject", at(7), IDENTITY, NOW, Rendered(body="B"), err(7, S.MISSING_INMAIL_SUBJECT)),
    ("inmail subject over 200", at(7), IDENTITY, NOW, Rendered("s" * 201, "B"), err(7, S.MESSAGE_TOO_LONG)),
    ("out of InMail credits", at(7), ident(inmail_credits=0), NOW, MSG, err(7, S.INMAIL_CREDITS_LIMIT)),
    # --- working hours and limits
    ("outside working hours", at(1), ident(working_hours=WORKDAY), NOW.replace(hour=20), MSG,
     Wait(ST[1], NOW.replace(hour=9) + DAY, S.OUTSIDE_WORKING_HOURS)),
    ("weekend waits for Monday", at(1), ident(working_hours=WORKDAY), datetime(2026, 3, 7, 12, tzinfo=UTC), MSG,
     Wait(ST[1], datetime(2026, 3, 9, 9, tzinfo=UTC), S.OUTSIDE_WORKING_HOURS)),
    ("inside working hours", at(1), ident(working_hours=WORKDAY), NOW, MSG, Act(ST[1], ActivityKind.PROFILE_VISITED)),
    ("daily invitations used up", at(2), ident(working_hours=WORKDAY, usage={("connection", "2026-03-04"): 20}),
     NOW, MSG, Wait(ST[2], NOW.replace(hour=9) + DAY, S.IDENTITY_LIMITS)),
    ("daily emails used up", at(4), ident(usage={("email", "2026-03-04"): 30}), NOW, MSG,
     Wait(ST[4], datetime(2026, 3, 5, tzinfo=UTC), S.IDENTITY_LIMITS)),
    ("daily messages used up", at(3, connected=True), ident(usage={("linkedin_message", "2026-03-04"): 100}), NOW,
     MSG, Wait(ST[3], datetime(2026, 3, 5, tzinfo=UTC), S.IDENTITY_LIMITS)),
    ("yesterday's usage does not count", at(4), ident(usage={("email", "2026-03-03"): 30}), NOW, MSG,
     Act(ST[4], ActivityKind.EMAIL_SENT, (("email", "2026-03-04"), ("conversation", "2026-03")))),
    ("monthly conversations used up", at(4), ident(monthly_conversations=5, usage={("conversation", "2026-03"): 5}),
     NOW, MSG, Wait(ST[4], datetime(2026, 4, 1, tzinfo=UTC), S.MONTHLY_CONVERSATION_LIMIT)),
    ("a day is the identity's local day", at(4),
     ident(working_hours=WorkingHours("America/New_York", 0b1111111, "00:00", "24:00"),
           usage={("email", "2026-03-03"): 30}),
     datetime(2026, 3, 4, 3, tzinfo=UTC), MSG, Wait(ST[4], datetime(2026, 3, 4, 5, tzinfo=UTC), S.IDENTITY_LIMITS)),
]  # fmt: skip


@pytest.mark.parametrize(("lead", "identity", "now", "rendered", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_decide(
    lead: LeadView, identity: IdentityView | None, now: datetime, rendered: Rendered, expected: Any
) -> None:
    decision: Decision = decide(lead, SEQ, identity, now, rendered)
    if callable(expected) and not isinstance(expected, type):
        assert expected(decision), decision
    else:
        assert decision == expected


def test_every_substatus_an_engine_decision_can_give_is_covered() -> None:
    seen = set()
    for _, lead, identity, now, rendered, _expected in CASES:
        decision = decide(lead, SEQ, identity, now, rendered)
        if isinstance(decision, Wait | Finish | Error):
            seen.add(decision.substatus)
    # SYSTEM_ERROR comes from the provider (engine/apply.py), never from a decision.
    expected = {
        S.SCHEDULED, S.IDENTITY_LIMITS, S.WAITING_TO_CONNECT, S.MONTHLY_CONVERSATION_LIMIT, S.CONNECTION_WITHDRAWN,
        S.OUTSIDE_WORKING_HOURS, S.MISSING_EMAIL, S.EMAIL_DISCONNECTED, S.LINKEDIN_DISCONNECTED,
        S.INMAIL_CREDITS_LIMIT, S.INVALID_IDENTITY_EMAIL, S.MISSING_CONTACT_EMAIL, S.LEAD_NOT_SCRAPED,
        S.IDENTITY_MISCONFIGURATION, S.MISSING_EMAIL_SUBJECT, S.MISSING_INMAIL_SUBJECT, S.MESSAGE_TOO_LONG,
        S.COMPLETED, S.NOT_CONNECTED,
    }  # fmt: skip
    assert expected <= seen, expected - seen


def test_time_scale_divides_delays_and_skips_hours_and_caps() -> None:
    demo = Sequence(STEPS, time_scale=1440)
    lead = at(11, last_action_at=NOW - timedelta(seconds=30))
    assert decide(lead, demo, IDENTITY, NOW) == Wait(ST[11], NOW + timedelta(seconds=30), S.SCHEDULED)
    busy = ident(working_hours=WORKDAY, usage={("email", "2026-03-04"): 30})
    assert decide(at(4), demo, busy, NOW.replace(hour=23), MSG) == Act(ST[4], ActivityKind.EMAIL_SENT)


def test_sequence_navigation() -> None:
    assert SEQ.first() == ST[1]
    assert SEQ.successor(ST[3]) == ST[5]  # end of the ACCEPTED branch: after the connection step
    assert SEQ.successor(ST[6]) == ST[7]
    assert SEQ.branch_entry(ST[2], Path.NOT_ACCEPTED) == ST[4]
    assert SEQ.branch_entry(ST[5], Path.ON_FALSE) == ST[7]  # an empty branch goes straight on
    assert SEQ.successor(ST[14]) is None
