"""The Overview over time and per step (contract r2): Campaign.series' points and Campaign.funnel's entries.

Declarative, like schema/types.py (whose SequenceStep a StepFunnel names lazily, as types.py imports this).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

if TYPE_CHECKING:
    from schema.types import SequenceStep


@strawberry.type(description="What happened in one time bucket: counts of activities (events, not unique leads).")
class SeriesPoint:
    start: datetime = strawberry.field(
        description="The bucket's start, in UTC (it starts at midnight or the hour of the requested timezone)."
    )
    profile_visits: int
    invitations_sent: int
    invitations_accepted: int
    linkedin_messages_sent: int
    emails_sent: int
    emails_clicked: int
    emails_bounced: int
    replies: int
    positive_replies: int
    unsubscribes: int
    tasks_completed: int
    errors: int


@strawberry.type(description="How leads fared at one action step.")
class StepFunnel:
    step: Annotated[SequenceStep, strawberry.lazy("schema.types")]
    performed: int = strawberry.field(description="Leads for whom this step's action was performed.")
    replied: int = strawberry.field(
        description="Leads whose first reply came while this step was the last action performed for them."
    )
    positive: int
    clicked: int = strawberry.field(
        description="EMAIL steps: leads who clicked a link of this step's email; 0 elsewhere."
    )
    bounced: int = strawberry.field(description="EMAIL steps: leads whose email of this step bounced; 0 elsewhere.")
    reply_rate: float = strawberry.field(description="replied / performed, 0 when nothing was performed.")
