"""Input types of the contract."""

from __future__ import annotations

from datetime import datetime

import strawberry

from domain import validation as v
from domain.steps import MAX_AI_VARIABLES, MAX_STEPS
from schema.enums import (
    ActivityKind,
    CampaignStatus,
    Channel,
    ConditionType,
    LeadEventKind,
    LeadStatus,
    LeadSubstatus,
    StepType,
    TaskType,
    Weekday,
)

UNSET = strawberry.UNSET

# The limits every input meets (domain/validation.py checks them; domain.md, "Limits that every client meets").
# Every text is trimmed, and may not hold NUL or other control characters (a long text may hold line
# breaks and tabs); breaking a limit is INVALID_INPUT with the field's path.
SUBJECT = (
    f"EMAIL / LINKEDIN_INMAIL subject: one line, at most {v.EMAIL_SUBJECT} characters for an EMAIL and "
    f"{v.INMAIL_SUBJECT} for an InMail."
)
CONTENT = (
    f"Message, note or body template: at most {v.LINKEDIN_NOTE} characters for a LINKEDIN_CONNECTION note, "
    f"{v.LINKEDIN_MESSAGE:,} for a LinkedIn message or InMail, {v.EMAIL_CONTENT:,} otherwise."
)
EMAIL = (
    f"one plain address (name@example.com: no list, display name or angle brackets), at most {v.EMAIL} "
    "characters; its domain is stored lower-cased."
)
URL = f"LinkedIn profile URL, at most {v.URL} characters."
LIMIT = f"{v.IDENTITY_LIMIT[0]} to {v.IDENTITY_LIMIT[1]:,}."


@strawberry.input(description="Campaigns are listed without ARCHIVED ones unless statuses names ARCHIVED.")
class CampaignFilter:
    statuses: list[CampaignStatus] | None = strawberry.field(default=UNSET, description="Only these statuses.")
    search: str | None = strawberry.field(
        default=UNSET, description=f"Part of the name, case-insensitively; at most {v.SEARCH} characters."
    )


@strawberry.input(description="Which leads of the audience to list.")
class AudienceFilter:
    status: LeadStatus | None = strawberry.field(default=UNSET, description="Only leads with this status.")
    substatus: LeadSubstatus | None = strawberry.field(default=UNSET, description="Only leads with this substatus.")
    step_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="Only leads whose current step is this one."
    )
    search: str | None = strawberry.field(
        default=UNSET,
        description=f"Matches name, email or company, case-insensitively; at most {v.SEARCH} characters.",
    )


@strawberry.input(description="Which Activity log entries to list.")
class ActivityFilter:
    step_id: strawberry.ID | None = strawberry.field(default=UNSET, description="Only this step's activity.")
    lead_id: strawberry.ID | None = strawberry.field(default=UNSET, description="Only this lead's activity.")
    contact_id: strawberry.ID | None = strawberry.field(default=UNSET, description="Only this contact's activity.")
    kinds: list[ActivityKind] | None = strawberry.field(default=UNSET, description="Only these kinds.")
    from_: datetime | None = strawberry.field(
        default=UNSET, name="from", description="Inclusive; between 1970 and 2100."
    )
    to: datetime | None = strawberry.field(default=UNSET, description="Exclusive; between 1970 and 2100.")


@strawberry.input(description="A delay: days, hours and minutes, added up.")
class DelayInput:
    days: int = strawberry.field(default=0, description=f"Whole days, {v.DELAY_DAYS[0]} to {v.DELAY_DAYS[1]}.")
    hours: int = strawberry.field(default=0, description=f"Hours, {v.DELAY_HOURS[0]} to {v.DELAY_HOURS[1]}.")
    minutes: int = strawberry.field(default=0, description=f"Minutes, {v.DELAY_MINUTES[0]} to {v.DELAY_MINUTES[1]}.")


@strawberry.input(description="An AI variable: {{ai.NAME}} in a template, generated per lead from the prompt.")
class AiVariableInput:
    name: str = strawberry.field(
        description="Letters, digits and underscores, not starting with a digit; at most 64 characters."
    )
    prompt: str = strawberry.field(
        description="What the generator is asked; may use {firstName}-style fields. At most "
        f"{v.AI_PROMPT:,} characters."
    )


@strawberry.input(
    description="One step. Branch lists nest; after a branch ends, the flow continues with the steps after "
    "its branching step."
)
class StepInput:
    type: StepType = strawberry.field(description="What the step does.")
    delay: DelayInput | None = strawberry.field(default=UNSET, description="Wait after the previous action.")
    subject: str | None = strawberry.field(default=UNSET, description=SUBJECT)
    content: str | None = strawberry.field(default=UNSET, description=CONTENT)
    condition: ConditionType | None = strawberry.field(default=UNSET, description="CONDITION: what to test.")
    on_true: list[StepInput] | None = strawberry.field(default=UNSET, description="CONDITION: steps when true.")
    on_false: list[StepInput] | None = strawberry.field(default=UNSET, description="CONDITION: steps when false.")
    wait_for_acceptance_days: int | None = strawberry.field(
        default=UNSET,
        description="LINKEDIN_CONNECTION: days to wait for acceptance, "
        f"{v.WAIT_FOR_ACCEPTANCE_DAYS[0]} to {v.WAIT_FOR_ACCEPTANCE_DAYS[1]}.",
    )
    on_accepted: list[StepInput] | None = strawberry.field(
        default=UNSET, description="LINKEDIN_CONNECTION: steps once accepted."
    )
    on_not_accepted: list[StepInput] | None = strawberry.field(
        default=UNSET, description="LINKEDIN_CONNECTION: steps once the wait ran out (invitation withdrawn)."
    )
    task_type: TaskType | None = strawberry.field(default=UNSET, description="TASK: the kind of task.")
    title: str | None = strawberry.field(
        default=UNSET, description=f"TASK: the task's title, one line of at most {v.TASK_TITLE} characters."
    )
    ai_variables: list[AiVariableInput] | None = strawberry.field(
        default=UNSET, description=f"AI variables, at most {MAX_AI_VARIABLES}."
    )


@strawberry.input(description="Changes allowed on a launched campaign: they apply to actions not yet performed.")
class StepUpdateInput:
    step_id: strawberry.ID = strawberry.field(description="The step to change.")
    delay: DelayInput | None = strawberry.field(default=UNSET, description="New delay.")
    subject: str | None = strawberry.field(default=UNSET, description="New subject. " + SUBJECT)
    content: str | None = strawberry.field(default=UNSET, description="New content. " + CONTENT)
    ai_variables: list[AiVariableInput] | None = strawberry.field(
        default=UNSET, description=f"New AI variables, at most {MAX_AI_VARIABLES}."
    )


@strawberry.input(description="Working hours: days and a daily window, local to the time zone.")
class WorkingHoursInput:
    timezone: str = strawberry.field(
        description=f'IANA time zone name, e.g. "Europe/Madrid"; at most {v.TIMEZONE} characters.'
    )
    days: list[Weekday] = strawberry.field(description="Working days.")
    start: str = strawberry.field(description='"HH:MM", local.')
    end: str = strawberry.field(description='"HH:MM", local, after start.')


@strawberry.input(description="Caps to change; omitted ones keep their value.")
class IdentityLimitsInput:
    daily_connection_requests: int | None = strawberry.field(default=UNSET, description="Per local day; " + LIMIT)
    daily_linkedin_messages: int | None = strawberry.field(default=UNSET, description="Per local day; " + LIMIT)
    daily_emails: int | None = strawberry.field(default=UNSET, description="Per local day; " + LIMIT)
    monthly_conversations: int | None = strawberry.field(default=UNSET, description="Per local month; " + LIMIT)
    inmail_credits: int | None = strawberry.field(default=UNSET, description="The balance; " + LIMIT)


@strawberry.input(
    description="How an identity's own mailbox is reached. Passwords are write-only: never returned, never logged."
)
class MailboxInput:
    smtp_url: str | None = strawberry.field(
        default=UNSET,
        description="smtp://user:password@host:port (STARTTLS when offered) or smtps://user:password@host:port (TLS).",
    )
    imap_url: str | None = strawberry.field(
        default=UNSET,
        description="imap://user:password@host:port/FOLDER or imaps://...; FOLDER omitted: INBOX. "
        "Omitted: this inbox is not read.",
    )


@strawberry.input(description="A new sender.")
class IdentityInput:
    name: str = strawberry.field(description=f"Display name, at most {v.NAME} characters.")
    linkedin_url: str | None = strawberry.field(default=UNSET, description=URL)
    email_address: str | None = strawberry.field(default=UNSET, description="Sending mailbox: " + EMAIL)
    working_hours: WorkingHoursInput | None = strawberry.field(
        default=UNSET, description="Omitted: Monday to Friday, 09:00 to 18:00, UTC."
    )
    limits: IdentityLimitsInput | None = strawberry.field(default=UNSET, description="Omitted: the defaults.")
    mailbox: MailboxInput | None = strawberry.field(
        default=UNSET, description="Its own mailbox: sends through its SMTP server, reads its inbox."
    )


@strawberry.input(description="Changes to a sender; omitted fields keep their value.")
class IdentityUpdateInput:
    name: str | None = strawberry.field(default=UNSET, description=f"Display name, at most {v.NAME} characters.")
    linkedin_connected: bool | None = strawberry.field(default=UNSET, description="LinkedIn account connected.")
    email_connected: bool | None = strawberry.field(default=UNSET, description="Mailbox connected.")
    email_address: str | None = strawberry.field(default=UNSET, description="Sending mailbox: " + EMAIL)
    working_hours: WorkingHoursInput | None = strawberry.field(default=UNSET, description="Working hours.")
    limits: IdentityLimitsInput | None = strawberry.field(default=UNSET, description="Caps.")
    mailbox: MailboxInput | None = strawberry.field(
        default=UNSET, description="Its own mailbox; a field left out keeps its URL, null removes it, and "
        "mailbox: null removes both."
    )


@strawberry.input(description="A new contact.")
class ContactInput:
    first_name: str = strawberry.field(description=f"Given name, at most {v.NAME} characters.")
    last_name: str = strawberry.field(description=f"Family name, at most {v.NAME} characters.")
    email: str | None = strawberry.field(default=UNSET, description="Email address: " + EMAIL)
    linkedin_url: str | None = strawberry.field(default=UNSET, description=URL)
    company: str | None = strawberry.field(default=UNSET, description=f"Company, at most {v.NAME} characters.")
    title: str | None = strawberry.field(default=UNSET, description=f"Job title, at most {v.NAME} characters.")


@strawberry.input(description="Changes to a contact; omitted fields keep their value.")
class ContactUpdateInput:
    first_name: str | None = strawberry.field(default=UNSET, description=f"Given name, at most {v.NAME} characters.")
    last_name: str | None = strawberry.field(default=UNSET, description=f"Family name, at most {v.NAME} characters.")
    email: str | None = strawberry.field(default=UNSET, description="Email address: " + EMAIL)
    linkedin_url: str | None = strawberry.field(default=UNSET, description=URL)
    company: str | None = strawberry.field(default=UNSET, description=f"Company, at most {v.NAME} characters.")
    title: str | None = strawberry.field(default=UNSET, description=f"Job title, at most {v.NAME} characters.")


@strawberry.input(description="A new DRAFT campaign.")
class CreateCampaignInput:
    name: str = strawberry.field(description=f"Its name, at most {v.NAME} characters.")
    identity_id: strawberry.ID | None = strawberry.field(default=UNSET, description="The sender.")
    steps: list[StepInput] | None = strawberry.field(
        default=UNSET, description=f"The sequence, at most {MAX_STEPS} steps."
    )
    track_clicks: bool | None = strawberry.field(default=UNSET, description="Omitted: true.")


@strawberry.input(description="Changes to a campaign; omitted fields keep their value.")
class UpdateCampaignInput:
    name: str | None = strawberry.field(default=UNSET, description=f"New name, at most {v.NAME} characters.")
    identity_id: strawberry.ID | None = strawberry.field(default=UNSET, description="New sender (DRAFT only).")
    steps: list[StepInput] | None = strawberry.field(
        default=UNSET, description="Replaces the whole sequence: DRAFT only, else SEQUENCE_LOCKED."
    )
    step_updates: list[StepUpdateInput] | None = strawberry.field(
        default=UNSET, description="Delay, subject, content and AI variable changes; allowed once launched."
    )
    track_clicks: bool | None = strawberry.field(
        default=UNSET, description="Whether links of emails not yet sent go through the click tracker."
    )


@strawberry.input(description="An event from outside about one lead.")
class LeadEventInput:
    lead_id: strawberry.ID = strawberry.field(description="The lead.")
    kind: LeadEventKind = strawberry.field(description="What happened.")
    positive: bool | None = strawberry.field(
        default=UNSET,
        description="For REPLY_RECEIVED: whether the reply is a positive one (interested, meeting booked).",
    )
    channel: Channel | None = strawberry.field(
        default=UNSET,
        description="For REPLY_RECEIVED: where the reply came from; omitted, the channel of the last message "
        "sent to the lead.",
    )
    message: str | None = strawberry.field(
        default=UNSET, description=f"The reply's text, or a note: at most {v.EVENT_MESSAGE:,} characters."
    )
    occurred_at: datetime | None = strawberry.field(
        default=UNSET, description="When, between 1970 and 2100; omitted, now."
    )
