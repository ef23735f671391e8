"""What `decide` answers: one small value per kind of next move. The executor applies them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.problems import PROBLEMS
from engine.sequence import StepView
from models.enums import ActivityKind, LeadSubstatus


@dataclass(frozen=True)
class Act:
    step: StepView
    kind: ActivityKind
    #: Allowances to reserve: [("email", "2026-11-26"), ("conversation", "2026-11")].
    reserve: tuple[tuple[str, str], ...] = ()
    spend_inmail: bool = False


@dataclass(frozen=True)
class Withdraw:
    """The invitation was not accepted in time: withdraw it and take the NOT_ACCEPTED branch."""

    step: StepView


@dataclass(frozen=True)
class Wait:
    step: StepView
    until: datetime
    substatus: LeadSubstatus


@dataclass(frozen=True)
class Branch:
    """Move to `to` without an action (a CONDITION, or an invitation already accepted)."""

    step: StepView
    to: StepView


@dataclass(frozen=True)
class Finish:
    substatus: LeadSubstatus


@dataclass(frozen=True)
class Error:
    step: StepView
    substatus: LeadSubstatus
    message: str
    hint: str


@dataclass(frozen=True)
class Noop:
    reason: str


Decision = Act | Withdraw | Wait | Branch | Finish | Error | Noop


def error(step: StepView, substatus: LeadSubstatus, detail: str | None = None) -> Error:
    message, hint = PROBLEMS[substatus]
    return Error(step, substatus, f"{message} {detail}".strip() if detail else message, hint)
