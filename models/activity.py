"""The Activity tab: an append-only, auditable log of what happened to leads."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.campaign import Campaign, SequenceStep
from models.contact import Contact
from models.enums import ActivityKind, Channel
from models.lead import Lead
from models.workspace import Workspace


class Activity(Model):
    id = fields.BigIntField(primary_key=True)
    workspace: fields.ForeignKeyRelation[Workspace] = fields.ForeignKeyField(
        "models.Workspace", related_name="activities", on_delete=fields.CASCADE
    )
    workspace_id: int
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField(
        "models.Campaign", related_name="activities", on_delete=fields.CASCADE
    )
    campaign_id: int
    lead: fields.ForeignKeyRelation[Lead] = fields.ForeignKeyField(
        "models.Lead", related_name="activities", on_delete=fields.CASCADE
    )
    lead_id: int
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name="activities", on_delete=fields.CASCADE
    )
    contact_id: int
    step: fields.ForeignKeyNullableRelation[SequenceStep] = fields.ForeignKeyField(
        "models.SequenceStep", related_name="activities", null=True, on_delete=fields.SET_NULL
    )
    step_id: int | None
    kind = fields.CharEnumField(ActivityKind, max_length=32)
    channel = fields.CharEnumField(Channel, max_length=16, null=True)
    occurred_at = fields.DatetimeField()
    detail = fields.TextField(null=True)
    #: The provider's id of what was sent (an email's Message-ID, a sandbox action id).
    external_id = fields.CharField(max_length=255, null=True)
    #: Exactly-once: an outbound action is keyed (lead, step, attempt), an inbound event by its content.
    #: A second insert with the same key is refused by the database, so it is never recorded twice.
    dedupe_key = fields.CharField(max_length=128, null=True, unique=True)

    class Meta:
        table = "activity"
        indexes = (
            # activity(): a campaign's log, newest first, keyset on (occurred_at, id).
            ("campaign_id", "occurred_at", "id"),
            # activity(filter: {stepId}) / {kinds} / {contactId}.
            ("campaign_id", "step_id", "occurred_at", "id"),
            ("campaign_id", "kind", "occurred_at", "id"),
            ("campaign_id", "contact_id", "occurred_at", "id"),
            # Lead.timeline and activity(filter: {leadId}).
            ("lead_id", "occurred_at", "id"),
            # The inbox reader: which activity sent the Message-ID a reply or a bounce names.
            ("external_id",),
        )


class ActivitySlot(Model):
    """Campaign.series pre-counted: one campaign's SeriesPoint counts in one 15-minute slot (UTC).

    Every IANA zone's offset since 1972 is a multiple of 15 minutes, so every local hour, day and week is a
    union of whole slots. A column per SeriesPoint field (domain/slots.POINT_KINDS; positive_replies the
    replies marked positive), so a series sums one row per slot and shard. Kept by domain/activity.py in
    the transaction that writes or deletes the activity, just before its COMMIT, on the lead's counter
    shard (`shard`: concurrent writers spread as on the counters); a closed slot's shards are folded into
    shard 0 by the scheduler's tick (domain/slots.compact), so the past is one row per slot. Rebuilt by
    domain/slots.rebuild. A number is the sum over shards.
    """

    id = fields.BigIntField(primary_key=True)
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField(
        "models.Campaign", related_name="activity_slots", on_delete=fields.CASCADE
    )
    campaign_id: int
    slot_start = fields.DatetimeField()
    shard = fields.SmallIntField(default=0)
    # db_default: an upsert writes only the column of its kind.
    profile_visits = fields.IntField(default=0, db_default=0)
    invitations_sent = fields.IntField(default=0, db_default=0)
    invitations_accepted = fields.IntField(default=0, db_default=0)
    linkedin_messages_sent = fields.IntField(default=0, db_default=0)
    emails_sent = fields.IntField(default=0, db_default=0)
    emails_clicked = fields.IntField(default=0, db_default=0)
    emails_bounced = fields.IntField(default=0, db_default=0)
    replies = fields.IntField(default=0, db_default=0)
    positive_replies = fields.IntField(default=0, db_default=0)
    unsubscribes = fields.IntField(default=0, db_default=0)
    tasks_completed = fields.IntField(default=0, db_default=0)
    errors = fields.IntField(default=0, db_default=0)

    class Meta:
        table = "activity_slot"
        # The series reads a campaign's slots in [from, to); writers upsert one (campaign, slot, shard).
        unique_together = (("campaign_id", "slot_start", "shard"),)
        # The tick's fold: the shards > 0 of the slots just closed.
        indexes = (("shard", "slot_start"),)
