"""The domain's enums, exposed to GraphQL with descriptions (values are the Python enums' own)."""

from __future__ import annotations

import strawberry

from models import enums

CampaignStatus = strawberry.enum(enums.CampaignStatus, description="Where a campaign is in its lifecycle.")
LeadStatus = strawberry.enum(enums.LeadStatus, description="Where a lead stands in its campaign.")
LeadSubstatus = strawberry.enum(
    enums.LeadSubstatus,
    description="Why a lead is where it is. Each value belongs to exactly one LeadStatus (see domain.md).",
)
StepType = strawberry.enum(enums.StepType, description="What a sequence step does.")
Channel = strawberry.enum(enums.Channel, description="The channel a step or activity belongs to.")
ConditionType = strawberry.enum(enums.ConditionType, description="What a CONDITION step tests about a lead.")
Branch = strawberry.enum(enums.Branch, description="Where a step sits relative to the branching step above it.")
TaskType = strawberry.enum(enums.TaskType, description="The kind of manual work a TASK step asks for.")
TaskStatus = strawberry.enum(enums.TaskStatus, description="Whether a task is still to do.")
Weekday = strawberry.enum(enums.Weekday, description="A day of the week, in the identity's time zone.")
ActivityKind = strawberry.enum(enums.ActivityKind, description="What an Activity log entry records.")
LeadEventKind = strawberry.enum(
    enums.LeadEventKind,
    description="Events that arrive from outside (a provider, a webhook, a person) about one lead.",
)
ErrorCode = strawberry.enum(enums.ErrorCode, description="Why a mutation refused its input.")
SeriesBucket = strawberry.enum(enums.SeriesBucket)
