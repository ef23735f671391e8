"""An outbound action's exactly-once claim, kept apart from the Activity log (engine/claims.py writes it).

The claim is inserted before the provider is asked (the delivery that inserts it is the only one that
sends); the activity (EMAIL_SENT, ...) is recorded only once the provider accepted, so the log says what
really went out. A claim left SENDING by a crashed worker is marked INTERRUPTED by the next delivery.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.enums import ActivityKind, ClaimState
from models.lead import Lead


class ActionClaim(Model):
    id = fields.BigIntField(primary_key=True)
    #: (lead, step, attempt), engine/apply.action_key: a second delivery's insert is refused by the database.
    dedupe_key = fields.CharField(max_length=128, unique=True)
    lead: fields.ForeignKeyRelation[Lead] = fields.ForeignKeyField(
        "models.Lead", related_name="action_claims", on_delete=fields.CASCADE
    )
    lead_id: int
    #: No foreign key: the claim outlives an edit of the sequence, as the key naming the step does.
    step_id = fields.BigIntField(null=True)
    kind = fields.CharEnumField(ActivityKind, max_length=32)
    #: The provider's id chosen before sending (an email's Message-ID), recorded on the activity once sent.
    external_id = fields.CharField(max_length=255, null=True)
    claimed_at = fields.DatetimeField()
    state = fields.CharEnumField(ClaimState, max_length=16)

    class Meta:
        table = "action_claim"
