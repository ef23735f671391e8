"""The workspace's suppression list (domain.md revision 2): addresses and domains never contacted again."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.enums import SuppressionReason
from models.workspace import Workspace


class Suppression(Model):
    id = fields.BigIntField(primary_key=True)
    workspace: fields.ForeignKeyRelation[Workspace] = fields.ForeignKeyField(
        "models.Workspace", related_name="suppressions", on_delete=fields.CASCADE
    )
    workspace_id: int
    # A lower-cased address (ana@acme.com) or a domain (acme.com): a contact is suppressed when either
    # its address or the part after its "@" is here. The unique index is the lookup at the moment of acting.
    value = fields.CharField(max_length=320)
    reason = fields.CharEnumField(SuppressionReason, max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "suppression"
        unique_together = (("workspace_id", "value"),)
