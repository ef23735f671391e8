"""The object types of the contract. Declarative: every field's logic lives in resolvers/.

Object types are backed by the ORM rows themselves (a `Campaign` field receives a `models.Campaign`), so
no copy is made per row; `is_type_of` lets the `Node` interface tell them apart. CampaignStats and its
parts (plain values) are schema/stats.py.
"""

from __future__ import annotations

from datetime import datetime
from types import GenericAlias
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

import models
from domain.ids import to_global_id
from resolvers import fields as f
from resolvers import overview
from schema.enums import (
    ActivityKind,
    Branch,
    CampaignStatus,
    Channel,
    ConditionType,
    LeadStatus,
    LeadSubstatus,
    StepType,
    TaskStatus,
    TaskType,
    Weekday,
)
from schema.inputs import ActivityFilter, AudienceFilter
from schema.overview import SeriesPoint, StepFunnel
from schema.stats import CampaignStats

if TYPE_CHECKING:
    from schema.keys import ApiKey


def _is(model: type) -> Any:
    # Made outside a class body, for Strawberry to find on each type as it would a declared one.
    @classmethod  # type: ignore[misc]
    def is_type_of(cls: type, obj: Any, info: Any) -> bool:
        return isinstance(obj, (cls, model))

    return is_type_of


@strawberry.interface(description="Anything with a stable, opaque ID. Clients never parse IDs.")
class Node:
    # A method, as every type's own `id` is (a method cannot override a dataclass attribute).
    @strawberry.field(description="A stable, opaque ID.")
    def id(self) -> strawberry.ID:
        raise NotImplementedError("each type answers its own global ID")


@strawberry.type(description="Pagination state of a connection (keyset cursors).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether another page follows this one.")
    has_previous_page: bool = strawberry.field(description="Whether a page comes before this one.")
    start_cursor: str | None = strawberry.field(description="Cursor of the first node of this page.")
    end_cursor: str | None = strawberry.field(description="Pass as `after` to get the next page.")


@strawberry.type(description="A tenant: everything belongs to exactly one workspace.")
class Workspace(Node):
    is_type_of = _is(models.Workspace)
    name: str = strawberry.field(description="The workspace's display name.")
    api_keys: list[Annotated[ApiKey, strawberry.lazy("schema.keys")]] = strawberry.field(
        resolver=f.workspace_api_keys,
        description="Every key of the workspace, revoked ones included (with revokedAt), oldest first.",
    )

    @strawberry.field(description="A stable, opaque ID.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Workspace", self.id))


@strawberry.type(description="When an identity may act: days and hours in its own time zone.")
class WorkingHours:
    timezone: str = strawberry.field(description='IANA time zone name, e.g. "Europe/Madrid".')
    days: list[Weekday] = strawberry.field(description="The days it works, in its time zone.")
    start: str = strawberry.field(description='Start of the window, "09:00", local to timezone.')
    end: str = strawberry.field(description='End of the window, "18:00", local to timezone.')


@strawberry.type(
    description="An identity's caps. Daily caps count per calendar day in the identity's time zone; "
    "the monthly cap per calendar month there."
)
class IdentityLimits:
    daily_connection_requests: int = strawberry.field(
        description="LinkedIn invitations per day (calendar day in the identity's time zone). Default 20."
    )
    daily_linkedin_messages: int = strawberry.field(
        description="LinkedIn messages and InMails per day (calendar day in the identity's time zone). Default 100."
    )
    daily_emails: int = strawberry.field(
        description="Emails per day (calendar day in the identity's time zone). Default 30."
    )
    monthly_conversations: int = strawberry.field(
        description="New LinkedIn conversations per calendar month (in the identity's time zone)."
    )
    inmail_credits: int = strawberry.field(
        description="InMail credits left: a balance that each InMail spends. Out of credits is an ERROR."
    )


@strawberry.type(description="An identity's own mailbox: where it sends and reads. Never its credentials.")
class Mailbox:
    smtp_host: str | None = strawberry.field(description="Its SMTP server; null: the server's relay sends.")
    imap_host: str | None = strawberry.field(description="Its IMAP server; null: its inbox is not read.")
    last_synced_at: datetime | None = strawberry.field(
        resolver=f.mailbox_last_synced_at,
        description="When the inbox was last read successfully; null before the first read.",
    )
    sync_error: str | None = strawberry.field(
        resolver=f.mailbox_sync_error,
        description="Why the last read failed (a wrong password, an unreachable host); null once a read succeeds.",
    )


@strawberry.type(description="A sender: a LinkedIn account and/or a mailbox that campaigns act through.")
class Identity(Node):
    is_type_of = _is(models.Identity)
    name: str = strawberry.field(description="Display name of the sender.")
    linkedin_url: str | None = strawberry.field(description="The sender's LinkedIn profile URL.")
    linkedin_connected: bool = strawberry.field(description="Whether its LinkedIn account is connected.")
    email_address: str | None = strawberry.field(description="The mailbox emails are sent from.")
    email_connected: bool = strawberry.field(description="Whether its mailbox is connected.")
    working_hours: WorkingHours = strawberry.field(resolver=f.identity_working_hours, description="When it may act.")
    limits: IdentityLimits = strawberry.field(resolver=f.identity_limits, description="Its caps and balances.")
    mailbox: Mailbox | None = strawberry.field(
        resolver=f.identity_mailbox,
        description="null when the identity has no mailbox of its own (the server's SMTP relay sends for it).",
    )

    @strawberry.field(description="A stable, opaque ID.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Identity", self.id))


@strawberry.type(description="A person the workspace may reach. One contact can be a lead in many campaigns.")
class Contact(Node):
    is_type_of = _is(models.Contact)
    first_name: str = strawberry.field(description="Given name; fills {{firstName}}.")
    last_name: str = strawberry.field(description="Family name; fills {{lastName}}.")
    full_name: str = strawberry.field(description="First and last name.")
    email: str | None = strawberry.field(description="Email address, needed by EMAIL steps.")
    linkedin_url: str | None = strawberry.field(description="LinkedIn profile URL, needed by LinkedIn steps.")
    company: str | None = strawberry.field(description="Company; fills {{company}}.")
    title: str | None = strawberry.field(description="Job title; fills {{title}}.")

    @strawberry.field(description="A stable, opaque ID.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Contact", self.id))


@strawberry.type(description="How long a step waits after the previous action.")
class Delay:
    days: int = strawberry.field(description="Whole days.")
    hours: int = strawberry.field(description="Hours beyond the days.")
    minutes: int = strawberry.field(description="Minutes beyond the hours.")
    total_seconds: int = strawberry.field(description="The whole delay in seconds.")


@strawberry.type(description="A per-lead value generated from a prompt, used as {{ai.NAME}} in a template.")
class AiVariable:
    name: str = strawberry.field(description="Used as {{ai.NAME}} in the step's subject or content.")
    prompt: str = strawberry.field(description="What the generator is asked; may use {firstName}-style fields.")


@strawberry.type(description="One step of a campaign's sequence.")
class SequenceStep(Node):
    is_type_of = _is(models.SequenceStep)
    position: int = strawberry.field(
        description="1-based order of a depth-first walk of the sequence "
        "(a branch's steps come right after its branching step)."
    )
    type: StepType = strawberry.field(description="What the step does.")
    channel: Channel | None = strawberry.field(resolver=f.step_channel, description="null for CONDITION and END")
    parent_step_id: strawberry.ID | None = strawberry.field(
        resolver=f.step_parent_id,
        description="The CONDITION or LINKEDIN_CONNECTION step this one hangs under; null on the main path.",
    )
    branch: Branch = strawberry.field(description="Which branch of its parent it belongs to (MAIN at the top).")
    delay: Delay = strawberry.field(resolver=f.step_delay, description="How long it waits after the previous action.")
    subject: str | None = strawberry.field(description="EMAIL and LINKEDIN_INMAIL subject template.")
    content: str | None = strawberry.field(description="Message, note or email body template.")
    condition: ConditionType | None = strawberry.field(description="What a CONDITION step tests.")
    wait_for_acceptance_days: int | None = strawberry.field(
        description="LINKEDIN_CONNECTION: days to wait for acceptance before withdrawing (NOT_ACCEPTED)."
    )
    task_type: TaskType | None = strawberry.field(description="TASK: the kind of task created.")
    title: str | None = strawberry.field(description="TASK: the task's title.")
    ai_variables: list[AiVariable] = strawberry.field(
        resolver=f.step_ai_variables, description="AI variables usable as {{ai.NAME}}."
    )
    lead_count: int = strawberry.field(
        resolver=f.step_lead_count, description="Leads whose current step is this one: the sequence flow preview."
    )

    @strawberry.field(description="A stable, opaque ID.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("SequenceStep", self.id))


@strawberry.type(description="Why a lead is in ERROR, and how a person fixes it.")
class LeadError:
    substatus: LeadSubstatus = strawberry.field(description="The ERROR substatus.")
    message: str = strawberry.field(description="What happened.")
    hint: str = strawberry.field(
        description="What a person should do to fix it, e.g. 'Enrich the contact's email, then retry the lead.'"
    )
    occurred_at: datetime = strawberry.field(description="When it happened.")


@strawberry.type(description="One contact's membership of one campaign.")
class Lead(Node):
    is_type_of = _is(models.Lead)
    campaign: Campaign = strawberry.field(resolver=f.lead_campaign, description="The campaign.")
    contact: Contact = strawberry.field(resolver=f.lead_contact, description="The person.")
    status: LeadStatus = strawberry.field(
        description="Where the lead stands. A removed lead (removedAt set) keeps the status it had when removed: "
        "LeadStatus has no REMOVED, since a new value of an output enum would break clients that switch over "
        "it, so removedAt is what says the lead has left."
    )
    substatus: LeadSubstatus | None = strawberry.field(description="Why it stands there.")
    positive: bool = strawberry.field(description="Whether its reply was marked positive.")
    current_step: SequenceStep | None = strawberry.field(
        resolver=f.lead_current_step, description="The step it is at (null before the first step and after the end)."
    )
    next_action_at: datetime | None = strawberry.field(
        description="When the engine acts on it next (when its wait ends); null when nothing is scheduled."
    )
    error: LeadError | None = strawberry.field(
        resolver=f.lead_error, description="Set while the lead is in ERROR: what happened and how to fix it."
    )
    added_at: datetime = strawberry.field(description="When it joined the audience.")
    started_at: datetime | None = strawberry.field(description="When it left NOT_STARTED.")
    finished_at: datetime | None = strawberry.field(description="When it FINISHED.")
    replied_at: datetime | None = strawberry.field(description="When it replied.")
    removed_at: datetime | None = strawberry.field(
        description="When it was removed from the campaign (removeLeads); null while it is in the audience. A "
        "removed lead is out of the audience and the counters, nothing runs for it, and lead(id:) no longer "
        "finds it; its past activities stay in the Activity log, and resolve it with this set."
    )
    timeline: list[Activity] = strawberry.field(
        resolver=f.lead_timeline, description="This lead's activities, oldest first: the side panel's timeline."
    )

    @strawberry.field(description="A stable, opaque ID.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Lead", self.id))


@strawberry.type(description="One entry of the Activity log.")
class Activity(Node):
    is_type_of = _is(models.Activity)
    kind: ActivityKind = strawberry.field(description="What happened.")
    channel: Channel | None = strawberry.field(description="On which channel.")
    occurred_at: datetime = strawberry.field(description="When.")
    lead: Lead = strawberry.field(resolver=f.activity_lead, description="The lead it happened to.")
    contact: Contact = strawberry.field(resolver=f.activity_contact, description="The lead's contact.")
    step: SequenceStep | None = strawberry.field(resolver=f.activity_step, description="The step that did it.")
    detail: str | None = strawberry.field(description="Free text: the subject sent, the reply, the error.")

    @strawberry.field(description="A stable, opaque ID.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Activity", self.id))


@strawberry.type(description="Manual work created by a TASK step; the lead waits until it is completed.")
class Task(Node):
    is_type_of = _is(models.Task)
    type: TaskType = strawberry.field(description="Email, call or to-do.")
    title: str = strawberry.field(description="What to do.")
    note: str | None = strawberry.field(description="Details for the person doing it.")
    status: TaskStatus = strawberry.field(description="PENDING until completeTask.")
    due_at: datetime | None = strawberry.field(description="When it should be done by.")
    completed_at: datetime | None = strawberry.field(description="When it was completed.")
    lead: Lead = strawberry.field(resolver=f.task_lead, description="The lead waiting on it.")
    step: SequenceStep | None = strawberry.field(resolver=f.task_step, description="The TASK step that made it.")

    @strawberry.field(description="A stable, opaque ID.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Task", self.id))


@strawberry.type(description="A campaign: a sequence of steps run for each lead of its audience.")
class Campaign(Node):
    is_type_of = _is(models.Campaign)
    name: str = strawberry.field(description="Its name.")
    status: CampaignStatus = strawberry.field(description="Its lifecycle state.")
    identity: Identity | None = strawberry.field(
        resolver=f.campaign_identity, description="The sender it acts through."
    )
    created_at: datetime = strawberry.field(description="When it was created.")
    launched_at: datetime | None = strawberry.field(description="When it was first launched.")
    archived_at: datetime | None = strawberry.field(description="When it was archived.")
    track_clicks: bool = strawberry.field(
        description="Links in this campaign's emails go through the click tracker (on by default)."
    )
    duplicated_from: Campaign | None = strawberry.field(
        resolver=f.campaign_duplicated_from, description="The campaign it was copied from."
    )
    sequence: list[SequenceStep] = strawberry.field(
        resolver=f.campaign_sequence, description="All steps, in position order."
    )
    stats: CampaignStats = strawberry.field(resolver=f.campaign_stats, description="The Overview tab's numbers.")
    audience: LeadConnection = strawberry.field(
        resolver=f.campaign_audience,
        description="The Audience tab: leads in the campaign (removed ones excluded), oldest first. "
        "`first` is 0 to 100; `after` is an endCursor of this list (at most 200 characters).",
    )
    activity: ActivityConnection = strawberry.field(
        resolver=f.campaign_activity,
        description="Newest first. Conditions never appear here. `first` is 0 to 100; `after` is an endCursor "
        "of this list (at most 200 characters).",
    )
    tasks: TaskConnection = strawberry.field(
        resolver=f.campaign_tasks,
        description="The campaign's tasks, oldest first. `first` is 0 to 100; `after` is an endCursor of this "
        "list (at most 200 characters).",
    )
    series: list[SeriesPoint] = strawberry.field(  # type: ignore[assignment]  # domain-backed, as funnel
        resolver=overview.campaign_series,
        description="What happened per time bucket, oldest first, from the Activity log; "
        "buckets with nothing are included as zeros.",
    )
    # Backed by domain/series.py's and domain/funnel.py's objects; Strawberry's `field(resolver=...)` is typed
    # as if the resolver returned the declared type itself.
    funnel: list[StepFunnel] = strawberry.field(  # type: ignore[assignment]
        resolver=overview.campaign_funnel,
        description="One entry per action step, in position order: how leads fared at each step.",
    )

    @strawberry.field(description="A stable, opaque ID.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(to_global_id("Campaign", self.id))


def _connection(name: str, node: Any) -> tuple[type, type]:
    edge = strawberry.type(
        type(f"{name}Edge", (), {"__annotations__": {"cursor": str, "node": node}}),
        description=f"One {name} and its cursor.",
    )
    connection = strawberry.type(
        type(
            f"{name}Connection",
            (),
            {
                "__annotations__": {
                    # `list[edge]`, spelled so a type checker does not read a variable as a type.
                    "edges": GenericAlias(list, (edge,)),
                    "nodes": GenericAlias(list, (node,)),
                    "page_info": PageInfo,
                    "total_count": int,
                }
            },
        ),
        description=f"A page of {name}s, keyset-paginated, with the total matching the filter.",
    )
    return edge, connection


if TYPE_CHECKING:
    # Built at runtime; to a type checker, a connection is the `Page` its resolvers return.
    from resolvers.pagination import Page as ActivityConnection
    from resolvers.pagination import Page as CampaignConnection
    from resolvers.pagination import Page as ContactConnection
    from resolvers.pagination import Page as LeadConnection
    from resolvers.pagination import Page as TaskConnection
else:
    CampaignEdge, CampaignConnection = _connection("Campaign", Campaign)
    LeadEdge, LeadConnection = _connection("Lead", Lead)
    ActivityEdge, ActivityConnection = _connection("Activity", Activity)
    TaskEdge, TaskConnection = _connection("Task", Task)
    ContactEdge, ContactConnection = _connection("Contact", Contact)

__all__ = ["ActivityFilter", "AudienceFilter"]
