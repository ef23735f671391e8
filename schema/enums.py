"""The domain's enums, exposed to GraphQL with descriptions (values are the Python enums' own)."""

from __future__ import annotations

import strawberry

# The domain's own classes: `strawberry.enum` marks a class in place and returns it, and a plain imported
# name is what a type checker takes as a type (an assignment from a call is not).
from models.enums import (
    ActivityKind,
    Branch,
    CampaignStatus,
    Channel,
    ConditionType,
    ErrorCode,
    LeadEventKind,
    LeadStatus,
    LeadSubstatus,
    SeriesBucket,
    StepType,
    TaskStatus,
    TaskType,
    Weekday,
)

strawberry.enum(CampaignStatus, description="Where a campaign is in its lifecycle.")
strawberry.enum(LeadStatus, description="Where a lead stands in its campaign.")
strawberry.enum(
    LeadSubstatus,
    description="Why a lead is where it is. Each value belongs to exactly one LeadStatus (see domain.md).",
)
strawberry.enum(StepType, description="What a sequence step does.")
strawberry.enum(Channel, description="The channel a step or activity belongs to.")
strawberry.enum(ConditionType, description="What a CONDITION step tests about a lead.")
strawberry.enum(Branch, description="Where a step sits relative to the branching step above it.")
strawberry.enum(TaskType, description="The kind of manual work a TASK step asks for.")
strawberry.enum(TaskStatus, description="Whether a task is still to do.")
strawberry.enum(Weekday, description="A day of the week, in the identity's time zone.")
strawberry.enum(ActivityKind, description="What an Activity log entry records.")
strawberry.enum(
    LeadEventKind,
    description="Events that arrive from outside (a provider, a webhook, a person) about one lead.",
)
strawberry.enum(ErrorCode, description="Why a mutation refused its input.")
strawberry.enum(SeriesBucket)
