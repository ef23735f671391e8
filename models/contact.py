"""A person a workspace may reach: the same contact can be a lead in many campaigns."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.workspace import Workspace


class Contact(Model):
    id = fields.BigIntField(primary_key=True)
    workspace: fields.ForeignKeyRelation[Workspace] = fields.ForeignKeyField(
        "models.Workspace", related_name="contacts", on_delete=fields.CASCADE
    )
    workspace_id: int
    first_name = fields.CharField(max_length=200)
    last_name = fields.CharField(max_length=200)
    email = fields.CharField(max_length=320, null=True)
    linkedin_url = fields.CharField(max_length=500, null=True)
    company = fields.CharField(max_length=200, null=True)
    title = fields.CharField(max_length=200, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "contact"
        # contacts(): a workspace's contacts, keyset on id.
        indexes = (("workspace_id", "id"),)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()
