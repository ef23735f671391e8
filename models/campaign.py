"""A campaign, its sequence (a tree of steps) and its counters (a projection of its leads)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.enums import Branch, CampaignStatus, ConditionType, StepType, TaskType
from models.identity import Identity
from models.workspace import Workspace


class Campaign(Model):
    id = fields.BigIntField(primary_key=True)
    workspace: fields.ForeignKeyRelation[Workspace] = fields.ForeignKeyField(
        "models.Workspace", related_name="campaigns", on_delete=fields.CASCADE
    )
    workspace_id: int
    name = fields.CharField(max_length=200)
    status = fields.CharEnumField(CampaignStatus, max_length=16, default=CampaignStatus.DRAFT)
    identity: fields.ForeignKeyNullableRelation[Identity] = fields.ForeignKeyField(
        "models.Identity", related_name="campaigns", null=True, on_delete=fields.SET_NULL
    )
    identity_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    launched_at = fields.DatetimeField(null=True)
    paused_at = fields.DatetimeField(null=True)
    archived_at = fields.DatetimeField(null=True)
    duplicated_from: fields.ForeignKeyNullableRelation[Campaign] = fields.ForeignKeyField(
        "models.Campaign", related_name="duplicates", null=True, on_delete=fields.SET_NULL
    )
    duplicated_from_id: int | None
    #: Settings that the demo uses to make a day pass in a minute (1.0 everywhere else).
    time_scale = fields.FloatField(default=1.0)
    #: Links in its emails go through the click tracker (mail.outbound).
    track_clicks = fields.BooleanField(default=True)

    class Meta:
        table = "campaign"
        # campaigns(filter): a workspace's campaigns by status, newest first (keyset on id).
        indexes = (("workspace_id", "status", "id"), ("workspace_id", "id"))

    def can_edit_sequence(self) -> bool:
        return self.status == CampaignStatus.DRAFT

    def is_running(self) -> bool:
        return self.status == CampaignStatus.ACTIVE


class SequenceStep(Model):
    """One node of the sequence tree: parent and branch place it, position orders a depth-first walk."""

    id = fields.BigIntField(primary_key=True)
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField(
        "models.Campaign", related_name="steps", on_delete=fields.CASCADE
    )
    campaign_id: int
    position = fields.IntField()
    type = fields.CharEnumField(StepType, max_length=32)
    parent: fields.ForeignKeyNullableRelation[SequenceStep] = fields.ForeignKeyField(
        "models.SequenceStep", related_name="children", null=True, on_delete=fields.CASCADE
    )
    parent_id: int | None
    branch = fields.CharEnumField(Branch, max_length=16, default=Branch.MAIN)
    delay_seconds = fields.IntField(default=0)
    subject = fields.TextField(null=True)
    content = fields.TextField(null=True)
    condition = fields.CharEnumField(ConditionType, max_length=32, null=True)
    wait_for_acceptance_days = fields.IntField(null=True)
    task_type = fields.CharEnumField(TaskType, max_length=16, null=True)
    title = fields.CharField(max_length=500, null=True)
    #: [{"name": ..., "prompt": ...}]
    ai_variables: fields.JSONField[list[dict[str, str]]] = fields.JSONField(default=list)

    class Meta:
        table = "sequence_step"
        # Campaign.sequence: a campaign's steps in position order.
        unique_together = (("campaign_id", "position"),)


class CampaignCounter(Model):
    """One shard of one number of a campaign's Overview/Audience (keys: domain/counters.py).

    A number is the sum of its shards. Writers spread over shards so concurrent workers on one campaign
    do not queue on one row. Changed by the same transaction that changes the leads it counts, and
    rebuilt from the leads by `server.py reconcile`. The key "changes" counts committed changes: its sum
    is CampaignStats.version, which therefore increases with every change, whatever the commit order.
    """

    id = fields.BigIntField(primary_key=True)
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField(
        "models.Campaign", related_name="counters", on_delete=fields.CASCADE
    )
    campaign_id: int
    shard = fields.SmallIntField(default=0)
    key = fields.CharField(max_length=64)
    value = fields.BigIntField(default=0)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "campaign_counter"
        # Campaign.stats sums a campaign's counters by key; writers upsert one (campaign, shard, key).
        unique_together = (("campaign_id", "shard", "key"),)
