"""Which inbound event can apply to which lead: one table, every LeadEventKind x LeadStatus.

An event that cannot have happened to the lead as it stands (an acceptance of an invitation never sent,
a click on an email never sent, an out-of-office from someone who has already finished) is refused with
INVALID_TRANSITION: it would otherwise be logged and counted, and the numbers would count events that
never applied. Each cell is either refused outright, with why, or applies when the lead's facts (its
flags) hold, each fact with the reason given when it does not. The schema's description of
recordLeadEvent says the same in prose; tests/test_inbound_rules.py walks every cell.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from models import Lead
from models.enums import LeadEventKind, LeadStatus, LeadSubstatus

E = LeadEventKind
S = LeadStatus


@dataclass(frozen=True, slots=True)
class Fact:
    """Something true of a lead that an event needs, and what the refusal says when it is not."""

    holds: Callable[[Lead], bool]
    otherwise: str


INVITED = Fact(lambda lead: lead.li_invited, "the lead was never sent a LinkedIn invitation")
NOT_ACCEPTED = Fact(lambda lead: not lead.li_accepted, "the lead has already accepted the invitation")
EMAILED = Fact(lambda lead: lead.em_sent, "the lead was never sent an email")
NOT_BOUNCED = Fact(lambda lead: not lead.em_bounced, "the lead's email has already bounced")
MESSAGED = Fact(lambda lead: lead.contacted, "the lead was never sent a message, so nothing was answered")
NOT_UNSUBSCRIBED = Fact(lambda lead: not lead.em_unsubscribed, "the lead has already unsubscribed")
NOT_FINISHED_BY_BOUNCE = Fact(
    lambda lead: lead.substatus != LeadSubstatus.BOUNCED, "the lead's email bounced: a reply cannot be recorded"
)


@dataclass(frozen=True, slots=True)
class Rule:
    needs: tuple[Fact, ...] | None = None
    refused: str | None = None


def applies(*needs: Fact) -> Rule:
    return Rule(needs=needs)


def never(why: str) -> Rule:
    return Rule(refused=why)


OPEN = (S.IN_PROGRESS, S.PAUSED, S.ERROR)
STARTED = (*OPEN, S.FINISHED, S.REPLIED)
NOT_STARTED = "the lead has not started: nothing was sent to it yet"


def _row(kind: LeadEventKind, rules: dict[LeadStatus, Rule]) -> dict[tuple[LeadEventKind, LeadStatus], Rule]:
    return {(kind, status): rule for status, rule in rules.items()}


#: The table. An acceptance or a click is a fact about something sent, whatever happened since (a lead that
#: replied or finished may still accept or click): it counts. A bounce finishes an open lead, and on a lead
#: that replied or finished it is still counted (email.bounced). An out-of-office or a block ends automation,
#: so it applies only while automation runs. A reply applies everywhere but after a bounce (domain.md). An
#: unsubscribe is the contact's wish whatever the lead's state (a lead not started yet may have been sent an
#: earlier campaign's email): it applies once, everywhere, and finishes the lead if it is still open.
RULES: dict[tuple[LeadEventKind, LeadStatus], Rule] = {
    **_row(
        E.INVITATION_ACCEPTED,
        {S.NOT_STARTED: never(NOT_STARTED)} | {s: applies(INVITED, NOT_ACCEPTED) for s in STARTED},
    ),
    **_row(
        E.REPLY_RECEIVED,
        {s: applies() for s in (S.NOT_STARTED, *OPEN, S.REPLIED)} | {S.FINISHED: applies(NOT_FINISHED_BY_BOUNCE)},
    ),
    **_row(
        E.EMAIL_CLICKED,
        {S.NOT_STARTED: never(NOT_STARTED)} | {s: applies(EMAILED, NOT_BOUNCED) for s in STARTED},
    ),
    **_row(
        E.EMAIL_BOUNCED,
        {S.NOT_STARTED: never(NOT_STARTED)} | {s: applies(EMAILED, NOT_BOUNCED) for s in STARTED},
    ),
    **_row(
        E.OUT_OF_OFFICE,
        {
            S.NOT_STARTED: never(NOT_STARTED),
            **{s: applies(MESSAGED) for s in OPEN},
            S.FINISHED: never("the lead has already finished: an automatic reply changes nothing"),
            S.REPLIED: never("the lead has already replied: an automatic reply changes nothing"),
        },
    ),
    **_row(
        E.BLOCKED,
        {
            **{s: applies() for s in (S.NOT_STARTED, *OPEN)},
            S.FINISHED: never("the lead has already finished"),
            S.REPLIED: never("the lead has replied: its automation has already stopped"),
        },
    ),
    **_row(E.UNSUBSCRIBED, {s: applies(NOT_UNSUBSCRIBED) for s in S}),
}


def refusal(kind: LeadEventKind, lead: Lead) -> str | None:
    """Why `kind` cannot apply to `lead` as it stands (a sentence), or None when it applies."""
    kind = LeadEventKind(kind)
    rule = RULES[(kind, LeadStatus(lead.status))]
    why: str | None
    if rule.refused is not None:
        why = rule.refused
    else:
        why = next((fact.otherwise for fact in rule.needs or () if not fact.holds(lead)), None)
        if why is None:
            return None
    return f"{kind.value} cannot apply: {why}."
