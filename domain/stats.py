"""CampaignStats as the Overview shows it, built from the counters (never by counting leads)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from domain import counters as c
from domain.ids import to_global_id
from models.enums import SUBSTATUS_STATUS, LeadStatus, LeadSubstatus, TaskStatus


@dataclass(slots=True)
class AllChannelsStats:
    total_contacts: int
    started: int
    contacted: int
    replied: int
    positive: int


@dataclass(slots=True)
class LinkedinStats:
    engaged: int
    invited: int
    accepted: int
    contacted: int
    replied: int
    positive: int


@dataclass(slots=True)
class EmailStats:
    sent: int
    clicked: int
    replied: int
    positive: int
    bounced: int
    unsubscribed: int


@dataclass(slots=True)
class TaskStats:
    pending: int
    completed: int


@dataclass(slots=True)
class StatusCount:
    status: LeadStatus
    count: int


@dataclass(slots=True)
class SubstatusCount:
    status: LeadStatus
    substatus: LeadSubstatus
    count: int


@dataclass(slots=True)
class StepCount:
    step_id: str
    lead_count: int


@dataclass(slots=True)
class CampaignStats:
    campaign_id: str
    all_channels: AllChannelsStats
    linkedin: LinkedinStats
    email: EmailStats
    tasks: TaskStats
    statuses: list[StatusCount]
    substatuses: list[SubstatusCount]
    steps: list[StepCount]
    version: int
    updated_at: datetime


def build_stats(
    campaign_id: int,
    numbers: dict[str, int],
    version: int,
    updated_at: datetime | None,
    step_ids: list[int],
    created_at: datetime | None = None,
) -> CampaignStats:
    n = numbers.get
    return CampaignStats(
        campaign_id=to_global_id("Campaign", campaign_id),
        all_channels=AllChannelsStats(
            total_contacts=n(c.TOTAL, 0),
            started=n(c.STARTED, 0),
            contacted=n("contacted", 0),
            replied=n("replied", 0),
            positive=n(c.POSITIVE, 0),
        ),
        linkedin=LinkedinStats(
            engaged=n("li_engaged", 0),
            invited=n("li_invited", 0),
            accepted=n("li_accepted", 0),
            contacted=n("li_contacted", 0),
            replied=n("li_replied", 0),
            positive=n(c.LI_POSITIVE, 0),
        ),
        email=EmailStats(
            sent=n("em_sent", 0),
            clicked=n("em_clicked", 0),
            replied=n("em_replied", 0),
            positive=n(c.EM_POSITIVE, 0),
            bounced=n("em_bounced", 0),
            unsubscribed=n("em_unsubscribed", 0),
        ),
        tasks=TaskStats(pending=n(c.task_key(TaskStatus.PENDING), 0), completed=n(c.task_key(TaskStatus.COMPLETED), 0)),
        statuses=[StatusCount(status=s, count=n(c.status_key(s), 0)) for s in LeadStatus],
        substatuses=[
            SubstatusCount(status=SUBSTATUS_STATUS[sub], substatus=sub, count=n(c.substatus_key(sub), 0))
            for sub in LeadSubstatus
            if n(c.substatus_key(sub), 0)
        ],
        steps=[
            StepCount(step_id=to_global_id("SequenceStep", sid), lead_count=n(c.step_key(sid), 0)) for sid in step_ids
        ],
        version=version,
        updated_at=updated_at or created_at or datetime.now(UTC),
    )


async def campaign_stats(campaign_id: int, step_ids: list[int], created_at: datetime | None = None) -> CampaignStats:
    numbers, version, updated_at = await c.read(campaign_id)
    return build_stats(campaign_id, numbers, version, updated_at, step_ids, created_at)
