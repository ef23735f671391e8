"""What an identity's inbox delivered: each message once, whatever it turned out to be."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.identity import Identity
from models.lead import Lead


class InboundMessage(Model):
    """One message read from an identity's inbox, inserted in the same transaction as its outcome.

    The unique (identity, Message-ID) is what makes a message count once when two reads race, or when a
    UIDVALIDITY change makes the reader see the whole folder again: the second insert is refused, and with
    it the outcome.
    """

    id = fields.BigIntField(primary_key=True)
    identity: fields.ForeignKeyRelation[Identity] = fields.ForeignKeyField(
        "models.Identity", related_name="inbound_messages", on_delete=fields.CASCADE
    )
    #: The message's own Message-ID (`<local@domain>`), or `sha256:<hex>` of its bytes when it has none.
    message_id = fields.CharField(max_length=255)
    #: What the classifier made of it (mail.classify.Kind).
    kind = fields.CharField(max_length=16)
    lead: fields.ForeignKeyNullableRelation[Lead] = fields.ForeignKeyField(
        "models.Lead", related_name="inbound_messages", null=True, on_delete=fields.SET_NULL
    )
    #: What it did: "applied", or why nothing ("refused: ...", "no lead", "ignored").
    outcome = fields.CharField(max_length=300)
    received_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "inbound_message"
        unique_together = (("identity_id", "message_id"),)
