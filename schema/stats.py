"""CampaignStats, the Overview tab's numbers (Campaign.stats, the campaignStats subscription), and its parts.

Declarative, like schema/types.py; plain values (domain/stats.py builds them from the campaign's counters).
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from schema.enums import LeadStatus, LeadSubstatus


@strawberry.type(description="Overview numbers across channels. Each counts unique leads now in the campaign.")
class AllChannelsStats:
    total_contacts: int = strawberry.field(description="Leads in the audience.")
    started: int = strawberry.field(description="Leads that have left NOT_STARTED.")
    contacted: int = strawberry.field(description="Leads sent at least one LinkedIn message, InMail or email.")
    replied: int = strawberry.field(description="Leads that replied on any channel.")
    positive: int = strawberry.field(description="Leads whose reply is marked positive.")


@strawberry.type(description="LinkedIn numbers, in unique leads.")
class LinkedinStats:
    engaged: int = strawberry.field(
        description="Leads with any LinkedIn action: visit, like, invitation, message, InMail."
    )
    invited: int = strawberry.field(description="Leads sent an invitation.")
    accepted: int = strawberry.field(description="Leads that accepted an invitation.")
    contacted: int = strawberry.field(description="Leads sent a LinkedIn message or InMail.")
    replied: int = strawberry.field(description="Leads that replied on LinkedIn.")
    positive: int = strawberry.field(description="Leads that replied positively on LinkedIn.")


@strawberry.type(description="Email numbers, in unique leads.")
class EmailStats:
    sent: int = strawberry.field(description="Leads sent an email.")
    clicked: int = strawberry.field(description="Leads that clicked in an email.")
    replied: int = strawberry.field(description="Leads that replied by email.")
    positive: int = strawberry.field(description="Leads that replied positively by email.")
    bounced: int = strawberry.field(description="Leads whose email bounced.")
    unsubscribed: int = strawberry.field(description="Leads that unsubscribed from an email.")


@strawberry.type(description="Tasks of the campaign (counted as tasks, not leads).")
class TaskStats:
    pending: int = strawberry.field(description="Tasks still to do.")
    completed: int = strawberry.field(description="Tasks done.")


@strawberry.type(description="How many leads have one status.")
class StatusCount:
    status: LeadStatus = strawberry.field(description="The status.")
    count: int = strawberry.field(description="Leads in it.")


@strawberry.type(description="How many leads have one substatus.")
class SubstatusCount:
    status: LeadStatus = strawberry.field(description="The status the substatus belongs to.")
    substatus: LeadSubstatus = strawberry.field(description="The substatus.")
    count: int = strawberry.field(description="Leads in it.")


@strawberry.type(description="How many leads are at one step.")
class StepCount:
    step_id: strawberry.ID = strawberry.field(description="The step's ID.")
    lead_count: int = strawberry.field(description="Leads whose current step is this one.")


@strawberry.type(
    description="The Overview tab's numbers. Pushed whole by the campaignStats subscription, "
    "so a client never sums deltas."
)
class CampaignStats:
    campaign_id: strawberry.ID = strawberry.field(description="The campaign these numbers are of.")
    all_channels: AllChannelsStats = strawberry.field(description="Across channels.")
    linkedin: LinkedinStats = strawberry.field(description="LinkedIn.")
    email: EmailStats = strawberry.field(description="Email.")
    tasks: TaskStats = strawberry.field(description="Tasks.")
    statuses: list[StatusCount] = strawberry.field(
        description="One entry for every LeadStatus, zeros included: the Audience tab's chips."
    )
    substatuses: list[SubstatusCount] = strawberry.field(description="Only the non-zero ones.")
    steps: list[StepCount] = strawberry.field(
        description="One entry for every step of the sequence, in position order."
    )
    version: int = strawberry.field(description="Strictly increases with every change to any number above.")
    updated_at: datetime = strawberry.field(description="When a number last changed.")
