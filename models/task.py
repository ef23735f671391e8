"""Manual work a TASK step hands to a person; the lead waits until it is completed."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.campaign import Campaign, SequenceStep
from models.enums import TaskStatus, TaskType
from models.lead import Lead
from models.workspace import Workspace


class Task(Model):
    id = fields.BigIntField(primary_key=True)
    workspace: fields.ForeignKeyRelation[Workspace] = fields.ForeignKeyField(
        "models.Workspace", related_name="tasks", on_delete=fields.CASCADE
    )
    workspace_id: int
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField(
        "models.Campaign", related_name="tasks", on_delete=fields.CASCADE
    )
    campaign_id: int
    lead: fields.ForeignKeyRelation[Lead] = fields.ForeignKeyField(
        "models.Lead", related_name="tasks", on_delete=fields.CASCADE
    )
    lead_id: int
    step: fields.ForeignKeyNullableRelation[SequenceStep] = fields.ForeignKeyField(
        "models.SequenceStep", related_name="tasks", null=True, on_delete=fields.SET_NULL
    )
    step_id: int | None
    type = fields.CharEnumField(TaskType, max_length=16)
    title = fields.CharField(max_length=500)
    note = fields.TextField(null=True)
    status = fields.CharEnumField(TaskStatus, max_length=16, default=TaskStatus.PENDING)
    due_at = fields.DatetimeField(null=True)
    completed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    #: (lead, step, attempt): a redelivered TASK step never creates a second task.
    dedupe_key = fields.CharField(max_length=128, null=True, unique=True)

    class Meta:
        table = "task"
        # Campaign.tasks(status): keyset on id within a status.
        indexes = (("campaign_id", "status", "id"),)

    def can_complete(self) -> bool:
        return self.status == TaskStatus.PENDING
