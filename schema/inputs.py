"""Input types of the contract."""

from __future__ import annotations

from datetime import datetime

import strawberry

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


@strawberry.input(description="Campaigns are listed without ARCHIVED ones unless statuses names ARCHIVED.")
class CampaignFilter:
    statuses: list[CampaignStatus] | None = strawberry.field(default=UNSET, description="Only these statuses.")
    search: str | None = strawberry.field(default=UNSET, description="Part of the name, case-insensitively.")


@strawberry.input(description="Which leads of the audience to list.")
class AudienceFilter:
    status: LeadStatus | None = strawberry.field(default=UNSET, description="Only leads with this status.")
    substatus: LeadSubstatus | None = strawberry.field(default=UNSET, description="Only leads with this substatus.")
    step_id: strawberry.ID | None = strawberry.field(
        default=UNSET, description="Only leads whose current step is this one."
    )
    search: str | None = strawberry.field(
        default=UNSET, description="Matches name, email or company, case-insensitively."
    )


@strawberry.input(description="Which Activity log entries to list.")
class ActivityFilter:
    step_id: strawberry.ID | None = strawberry.field(default=UNSET, description="Only this step's activity.")
    lead_id: strawberry.ID | None = strawberry.field(default=UNSET, description="Only this lead's activity.")
    contact_id: strawberry.ID | None = strawberry.field(default=UNSET, description="Only this contact's activity.")
    kinds: list[ActivityKind] | None = strawberry.field(default=UNSET, description="Only these kinds.")
    from_: datetime | None = strawberry.field(default=UNSET, name="from", description="Inclusive.")
    to: datetime | None = strawberry.field(default=UNSET, description="Exclusive.")


@strawberry.input(description="A delay: days, hours and minutes, added up.")
class DelayInput:
    days: int = strawberry.field(default=0, description="Whole days (0 or more).")
    hours: int = strawberry.field(default=0, description="Hours (0 or more).")
    minutes: int = strawberry.field(default=0, description="Minutes (0 or more).")


@strawberry.input(description="An AI variable: {{ai.NAME}} in a template, generated per lead from the prompt.")
class AiVariableInput:
    name: str = strawberry.field(description="Letters, digits and underscores.")
    prompt: str = strawberry.field(description="What the generator is asked; may use {firstName}-style fields.")


@strawberry.input(
    description="One step. Branch lists nest; after a branch ends, the flow continues with the steps after "
    "its branching step."
)
class StepInput:
    type: StepType = strawberry.field(description="What the step does.")
    delay: DelayInput | None = strawberry.field(default=UNSET, description="Wait after the previous action.")
    subject: str | None = strawberry.field(default=UNSET, description="EMAIL / LINKEDIN_INMAIL subject.")
    content: str | None = strawberry.field(default=UNSET, description="Message, note or body template.")
    condition: ConditionType | None = strawberry.field(default=UNSET, description="CONDITION: what to test.")
    on_true: list[StepInput] | None = strawberry.field(default=UNSET, description="CONDITION: steps when true.")
    on_false: list[StepInput] | None = strawberry.field(default=UNSET, description="CONDITION: steps when false.")
    wait_for_acceptance_days: int | None = strawberry.field(
        default=UNSET, description="LINKEDIN_CONNECTION: days to wait for acceptance (1 or more)."
    )
    on_accepted: list[StepInput] | None = strawberry.field(
        default=UNSET, description="LINKEDIN_CONNECTION: steps once accepted."
    )
    on_not_accepted: list[StepInput] | None = strawberry.field(
        default=UNSET, description="LINKEDIN_CONNECTION: steps once the wait ran out (invitation withdrawn)."
    )
    task_type: TaskType | None = strawberry.field(default=UNSET, description="TASK: the kind of task.")
    title: str | None = strawberry.field(default=UNSET, description="TASK: the task's title.")
    ai_variables: list[AiVariableInput] | None = strawberry.field(default=UNSET, description="AI variables.")


@strawberry.input(description="Changes allowed on a launched campaign: they apply to actions not yet performed.")
class StepUpdateInput:
    step_id: strawberry.ID = strawberry.field(description="The step to change.")
    delay: DelayInput | None = strawberry.field(default=UNSET, description="New delay.")
    subject: str | None = strawberry.field(default=UNSET, description="New subject.")
    content: str | None = strawberry.field(default=UNSET, description="New content.")
    ai_variables: list[AiVariableInput] | None = strawberry.field(default=UNSET, description="New AI variables.")


@strawberry.input(description="Working hours: days and a daily window, local to the time zone.")
class WorkingHoursInput:
    timezone: str = strawberry.field(description='IANA time zone name, e.g. "Europe/Madrid".')
    days: list[Weekday] = strawberry.field(description="Working days.")
    start: str = strawberry.field(description='"HH:MM", local.')
    end: str = strawberry.field(description='"HH:MM", local, after start.')


@strawberry.input(description="Caps to change; omitted ones keep their value.")
class IdentityLimitsInput:
    daily_connection_requests: int | None = strawberry.field(default=UNSET, description="Per local day.")
    daily_linkedin_messages: int | None = strawberry.field(default=UNSET, description="Per local day.")
    daily_emails: int | None = strawberry.field(default=UNSET, description="Per local day.")
    monthly_conversations: int | None = strawberry.field(default=UNSET, description="Per local month.")
    inmail_credits: int | None = strawberry.field(default=UNSET, description="The balance.")


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
    name: str = strawberry.field(description="Display name.")
    linkedin_url: str | None = strawberry.field(default=UNSET, description="LinkedIn profile URL.")
    email_address: str | None = strawberry.field(default=UNSET, description="Sending mailbox.")
    working_hours: WorkingHoursInput | None = strawberry.field(
        default=UNSET, description="Omitted: Monday to Friday, 09:00 to 18:00, UTC."
    )
    limits: IdentityLimitsInput | None = strawberry.field(default=UNSET, description="Omitted: the defaults.")
    mailbox: MailboxInput | None = strawberry.field(
        default=UNSET, description="Its own mailbox: sends through its SMTP server, reads its inbox."
    )


@strawberry.input(description="Changes to a sender; omitted fields keep their value.")
class IdentityUpdateInput:
    name: str | None = strawberry.field(default=UNSET, description="Display name.")
    linkedin_connected: bool | None = strawberry.field(default=UNSET, description="LinkedIn account connected.")
    email_connected: bool | None = strawberry.field(default=UNSET, description="Mailbox connected.")
    email_address: str | None = strawberry.field(default=UNSET, description="Sending mailbox.")
    working_hours: WorkingHoursInput | None = strawberry.field(default=UNSET, description="Working hours.")
    limits: IdentityLimitsInput | None = strawberry.field(default=UNSET, description="Caps.")
    mailbox: MailboxInput | None = strawberry.field(
        default=UNSET, description="Its own mailbox; a field left out keeps its URL, null removes it, and "
        "mailbox: null removes both."
    )


@strawberry.input(description="A new contact.")
class ContactInput:
    first_name: str = strawberry.field(description="Given name.")
    last_name: str = strawberry.field(description="Family name.")
    email: str | None = strawberry.field(default=UNSET, description="Email address.")
    linkedin_url: str | None = strawberry.field(default=UNSET, description="LinkedIn profile URL.")
    company: str | None = strawberry.field(default=UNSET, description="Company.")
    title: str | None = strawberry.field(default=UNSET, description="Job title.")


@strawberry.input(description="Changes to a contact; omitted fields keep their value.")
class ContactUpdateInput:
    first_name: str | None = strawberry.field(default=UNSET, description="Given name.")
    last_name: str | None = strawberry.field(default=UNSET, description="Family name.")
    email: str | None = strawberry.field(default=UNSET, description="Email address.")
    linkedin_url: str | None = strawberry.field(default=UNSET, description="LinkedIn profile URL.")
    company: str | None = strawberry.field(default=UNSET, description="Company.")
    title: str | None = strawberry.field(default=UNSET, description="Job title.")


@strawberry.input(description="A new DRAFT campaign.")
class CreateCampaignInput:
    name: str = strawberry.field(description="Its name.")
    identity_id: strawberry.ID | None = strawberry.field(default=UNSET, description="The sender.")
    steps: list[StepInput] | None = strawberry.field(default=UNSET, description="The sequence.")
    track_clicks: bool | None = strawberry.field(default=UNSET, description="Omitted: true.")


@strawberry.input(description="Changes to a campaign; omitted fields keep their value.")
class UpdateCampaignInput:
    name: str | None = strawberry.field(default=UNSET, description="New name.")
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
    message: str | None = strawberry.field(default=UNSET, description="The reply's text, or a note.")
    occurred_at: datetime | None = strawberry.field(default=UNSET, description="When; omitted, now.")
