"""The demo's seeded leads, each with a history that a real run of the demo sequence could have produced.

A lead's story is played forward from its start through the demo sequence (visit, invite, then the
ACCEPTED or NOT_ACCEPTED branch, the follow-up, the end) with the steps' delays at the campaign's time
scale, as the engine would: each activity at the step the lead was at, in order, and the lead's state
(current step, status, timestamps) is what the story's last event left. Only then is the story placed in
time, so that `now` falls where that state still holds (a lead waiting for its invitation is still
inside the acceptance window, a scheduled one not yet due).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain import funnel_count
from domain.activity import record_activity
from domain.problems import PROBLEMS
from models import Campaign, Contact, Lead, SequenceStep, Task, Workspace
from models.enums import ActivityKind, Channel, LeadStatus, LeadSubstatus, TaskType

#: Kinds of seeded lead, by the contact's index (fresh leads start live, in the first minute).
PATTERN = [
    "fresh",
    "fresh",
    "waiting",
    "fresh",
    "replied",
    "finished",
    "fresh",
    "scheduled",
    "fresh",
    "fresh",
    "bounced",
    "fresh",
    "paused",
    "fresh",
    "waiting",
    "fresh",
]


def demo_kind(i: int, contact: Contact) -> str:
    """What the seeded lead of the i-th contact stands at. Only states its contact allows: a contact
    without LinkedIn fails at the first step, one without email takes the task branch or fails at the
    follow-up email."""
    if contact.linkedin_url is None:
        return "error_linkedin" if i % 2 == 1 else "fresh"
    if contact.email is None:
        return "error_email" if (i // 12) % 2 == 0 else "task"
    return PATTERN[i % len(PATTERN)]


@dataclass
class _Event:
    offset: timedelta  # since the story's start
    kind: ActivityKind
    step: str | None
    channel: Channel | None
    detail: str | None = None


@dataclass
class _Story:
    """A lead's history relative to its start, and the state it leaves."""

    day: timedelta  # one day of the sequence's delays at the campaign's time scale
    at: timedelta = timedelta(0)
    events: list[_Event] = field(default_factory=list)
    marks: dict[str, timedelta] = field(default_factory=dict)
    #: When the lead would next act on its own (None: only an outside event moves it).
    due: timedelta | None = None
    positive: bool = False

    def later(self, days: float) -> None:
        # A second at least: the same instant would leave the order of two entries to the database.
        self.at += max(self.day * days, timedelta(seconds=1))

    def log(self, kind: ActivityKind, step: str | None, channel: Channel | None, detail: str | None = None) -> None:
        self.events.append(_Event(self.at, kind, step, channel, detail))

    def mark(self, name: str) -> None:
        self.marks[name] = self.at


def _story(kind: str, contact: Contact, rnd: random.Random, day: timedelta, steps: dict[str, SequenceStep]) -> _Story:
    s = _Story(day)
    note = f"Note: Hi {contact.first_name}, I enjoy what {contact.company} is doing. Happy to connect!"
    li, em, task = Channel.LINKEDIN, Channel.EMAIL, Channel.TASK

    def visit() -> None:
        s.log(ActivityKind.PROFILE_VISITED, "visit", li)
        s.mark("last_action")

    def invite() -> None:
        s.later(1)  # the invitation step's delay
        s.log(ActivityKind.INVITATION_SENT, "invite", li, note)
        s.mark("invitation_sent")
        s.mark("last_action")

    def accepted() -> None:
        s.later(rnd.uniform(0.3, 4.5))  # inside the 5-day acceptance window
        s.log(ActivityKind.INVITATION_ACCEPTED, "invite", li)
        s.mark("last_action")
        s.later(1)  # the message step's delay
        s.log(
            ActivityKind.LINKEDIN_MESSAGE_SENT,
            "message",
            li,
            f"Thanks for connecting, {contact.first_name}! Open to a 15-minute chat?",
        )
        s.mark("last_action")

    def withdrawn() -> None:
        s.later(5)  # the acceptance window ran out
        s.log(ActivityKind.INVITATION_WITHDRAWN, "invite", li, "Not accepted in time: withdrawn")
        s.mark("last_action")

    if kind == "error_linkedin":  # the first step already needs the profile
        message, _ = PROBLEMS[LeadSubstatus.LEAD_NOT_SCRAPED]
        s.log(ActivityKind.LEAD_ERROR, "visit", li, f"LEAD_NOT_SCRAPED: {message}")
        return s
    visit()
    if kind in ("scheduled", "paused"):
        s.due = s.at + day  # the invitation's delay from the visit
        if kind == "paused":
            s.later(rnd.uniform(0.1, 0.8))  # paused by hand before the invitation went out
        return s
    invite()
    if kind == "waiting":
        s.due = s.at + 5 * day
        return s
    if kind in ("replied", "finished", "error_email"):
        accepted()
        if kind == "replied":
            s.later(rnd.uniform(0.2, 2.5))  # before the follow-up is due
            s.positive = rnd.random() < 0.5
            detail = "Sounds interesting, let's talk next week." if s.positive else "Thanks, not a priority right now."
            s.log(ActivityKind.REPLY_RECEIVED, "follow_up", li, detail)
            s.mark("replied")
            return s
        s.later(3)  # the follow-up's delay
        if kind == "error_email":
            message, _ = PROBLEMS[LeadSubstatus.MISSING_CONTACT_EMAIL]
            s.log(ActivityKind.LEAD_ERROR, "follow_up", em, f"MISSING_CONTACT_EMAIL: {message}")
            return s
        s.log(ActivityKind.EMAIL_SENT, "follow_up", em, f"Subject: Following up, {contact.first_name}")
        s.mark("last_action")
        s.mark("finished")  # the END step right after
        return s
    withdrawn()
    s.later(0)  # the condition and its branch's first step run at once
    if kind == "task":
        s.log(ActivityKind.TASK_CREATED, "task", task, steps["task"].title)
        s.mark("last_action")
        return s
    # bounced: HAS_EMAIL holds, the email goes out and bounces before the follow-up is due
    s.log(ActivityKind.EMAIL_SENT, "email", em, f"Subject: Quick question, {contact.first_name}")
    s.mark("last_action")
    s.later(rnd.uniform(0.05, 1.0))
    s.log(ActivityKind.EMAIL_BOUNCED, "follow_up", em)
    s.mark("finished")
    return s


async def seed_leads(
    rnd: random.Random,
    workspace: Workspace,
    campaign: Campaign,
    people: list[Contact],
    steps: dict[str, SequenceStep],
    now: datetime,
) -> list[Lead]:
    """Leads in every status, each with the history that got it there. Most start fresh and move live."""
    day = timedelta(days=1) / campaign.time_scale
    leads: list[Lead] = []
    stories: list[tuple[_Story | None, datetime]] = []
    for i, contact in enumerate(people):
        kind = demo_kind(i, contact)
        lead = Lead(workspace=workspace, campaign=campaign, contact=contact, added_at=campaign.launched_at)
        if kind == "fresh":
            lead.next_action_at = now + timedelta(seconds=rnd.randint(2, 60))
            leads.append(lead)
            stories.append((None, now))
            continue
        story = _story(kind, contact, rnd, day, steps)
        start = now - _placed(story, rnd, day)
        _apply(lead, kind, story, start, steps)
        leads.append(lead)
        stories.append((story, start))
    await Lead.bulk_create(leads)
    leads = await Lead.filter(campaign=campaign).order_by("id").select_related("contact")
    for lead, (told, start) in zip(leads, stories, strict=True):
        if told is not None:
            await _record(lead, told, start, steps, now)
    # Their replies were written with the leads, before their history: the step each counts under now.
    reply_steps = await funnel_count.reply_steps(campaign.id)
    for lead in leads:
        if lead.id in reply_steps:
            lead.reply_step_id = reply_steps[lead.id]
            await Lead.filter(id=lead.id).update(reply_step_id=lead.reply_step_id)
    return leads


def _placed(story: _Story, rnd: random.Random, day: timedelta) -> timedelta:
    """How long ago the story started: its last event is past, and (if the lead would act next on its
    own) that next action is still ahead."""
    end = story.at
    if story.due is not None:
        return end + (story.due - end) * rnd.uniform(0.05, 0.9)
    return end + day * rnd.uniform(0.2, 3)


def _apply(lead: Lead, kind: str, story: _Story, start: datetime, steps: dict[str, SequenceStep]) -> None:
    def at(mark: str) -> datetime | None:
        return start + story.marks[mark] if mark in story.marks else None

    kinds = {event.kind for event in story.events}
    lead.started_at = start
    lead.last_action_at = at("last_action")
    lead.li_engaged = ActivityKind.PROFILE_VISITED in kinds
    lead.li_invited = ActivityKind.INVITATION_SENT in kinds
    lead.invitation_sent_at = at("invitation_sent")
    lead.li_accepted = lead.connected = ActivityKind.INVITATION_ACCEPTED in kinds
    lead.li_contacted = ActivityKind.LINKEDIN_MESSAGE_SENT in kinds
    lead.em_sent = ActivityKind.EMAIL_SENT in kinds
    lead.em_bounced = ActivityKind.EMAIL_BOUNCED in kinds
    lead.contacted = lead.li_contacted or lead.em_sent
    if lead.em_sent:
        lead.last_channel = Channel.EMAIL
    elif lead.li_contacted:
        lead.last_channel = Channel.LINKEDIN
    due = start + story.due if story.due is not None else None
    if kind == "waiting":
        lead.status, lead.substatus = LeadStatus.IN_PROGRESS, LeadSubstatus.WAITING_TO_CONNECT
        lead.current_step, lead.next_action_at = steps["invite"], due
    elif kind == "scheduled":
        lead.status, lead.substatus = LeadStatus.IN_PROGRESS, LeadSubstatus.SCHEDULED
        lead.current_step, lead.next_action_at = steps["invite"], due
    elif kind == "paused":
        lead.status, lead.substatus = LeadStatus.PAUSED, LeadSubstatus.PAUSED_MANUALLY
        lead.current_step = steps["invite"]
        assert due is not None
        lead.paused_state = {"status": "IN_PROGRESS", "substatus": "SCHEDULED", "next_action_at": due.isoformat()}
    elif kind == "task":
        lead.status, lead.substatus = LeadStatus.IN_PROGRESS, LeadSubstatus.WAITING_FOR_TASK
        lead.current_step = steps["task"]
    elif kind == "replied":
        lead.status, lead.replied, lead.li_replied = LeadStatus.REPLIED, True, True
        lead.positive = story.positive
        lead.replied_at = at("replied")
    elif kind in ("finished", "bounced"):
        lead.status = LeadStatus.FINISHED
        lead.substatus = LeadSubstatus.BOUNCED if kind == "bounced" else LeadSubstatus.COMPLETED
        lead.finished_at = at("finished")
    else:  # error_email, error_linkedin
        substatus = LeadSubstatus.MISSING_CONTACT_EMAIL if kind == "error_email" else LeadSubstatus.LEAD_NOT_SCRAPED
        lead.status, lead.substatus = LeadStatus.ERROR, substatus
        lead.current_step = steps["follow_up" if kind == "error_email" else "visit"]
        lead.error_message, lead.error_hint = PROBLEMS[substatus]
        lead.error_at = start + story.events[-1].offset


async def _record(lead: Lead, story: _Story, start: datetime, steps: dict[str, SequenceStep], now: datetime) -> None:
    for event in story.events:
        await record_activity(
            lead,
            event.kind,
            channel=event.channel,
            step_id=steps[event.step].id if event.step else None,
            occurred_at=start + event.offset,
            detail=event.detail,
        )
    if lead.substatus == LeadSubstatus.WAITING_FOR_TASK:
        step = steps["task"]
        await Task.create(
            workspace_id=lead.workspace_id,
            campaign_id=lead.campaign_id,
            lead=lead,
            step=step,
            type=TaskType.CALL,
            title=step.title,
            due_at=now + timedelta(days=1),
            dedupe_key=f"{lead.id}:{step.id}:0",
        )


__all__ = ["demo_kind", "seed_leads"]
