"""A lead: one contact's membership of one campaign, and where it stands in the sequence."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.campaign import Campaign, SequenceStep
from models.contact import Contact
from models.enums import Channel, LeadStatus, LeadSubstatus
from models.workspace import Workspace

#: The per-lead facts that the Overview counts (domain.md, "Metrics"). Each flips False -> True once.
LEAD_FLAGS = (
    "contacted",
    "replied",
    "li_engaged",
    "li_invited",
    "li_accepted",
    "li_contacted",
    "li_replied",
    "em_sent",
    "em_clicked",
    "em_replied",
    "em_bounced",
    "em_unsubscribed",
)


class Lead(Model):
    id = fields.BigIntField(primary_key=True)
    #: Denormalised from the campaign so every tenancy check is one indexed predicate.
    workspace: fields.ForeignKeyRelation[Workspace] = fields.ForeignKeyField(
        "models.Workspace", related_name="leads", on_delete=fields.CASCADE
    )
    workspace_id: int
    campaign: fields.ForeignKeyRelation[Campaign] = fields.ForeignKeyField(
        "models.Campaign", related_name="leads", on_delete=fields.CASCADE
    )
    campaign_id: int
    contact: fields.ForeignKeyRelation[Contact] = fields.ForeignKeyField(
        "models.Contact", related_name="leads", on_delete=fields.CASCADE
    )
    contact_id: int
    status = fields.CharEnumField(LeadStatus, max_length=16, default=LeadStatus.NOT_STARTED)
    substatus = fields.CharEnumField(LeadSubstatus, max_length=32, null=True)
    positive = fields.BooleanField(default=False)
    current_step: fields.ForeignKeyNullableRelation[SequenceStep] = fields.ForeignKeyField(
        "models.SequenceStep", related_name="current_leads", null=True, on_delete=fields.SET_NULL
    )
    current_step_id: int | None
    #: When the engine should look at this lead again (NULL: nothing scheduled).
    next_action_at = fields.DatetimeField(null=True)
    #: When the previous action happened: a step's delay counts from here.
    last_action_at = fields.DatetimeField(null=True)
    #: Lease of the scheduler's claim: a lead whose worker died is claimed again once it passes.
    claimed_until = fields.DatetimeField(null=True)
    #: Bumped by retryLead: part of the exactly-once key (lead, step, attempt).
    attempt = fields.IntField(default=0)
    #: Compare-and-set guard: every engine write is `WHERE state_version = <read>`.
    state_version = fields.IntField(default=0)
    # How many runs of the step `failing_step` (its id; 0: before the first step) failed since the lead
    # reached it: engine/failures.py moves the lead to ERROR after a few, so no step is retried forever.
    step_failures = fields.IntField(default=0, db_default=0)  # raw INSERTs (bulk seeds) get 0 too
    failing_step = fields.BigIntField(null=True)
    #: What a paused lead was before the pause: {"status", "substatus", "next_action_at"}.
    paused_state: fields.JSONField[dict[str, str | None] | None] = fields.JSONField(null=True)
    connected = fields.BooleanField(default=False)
    invitation_sent_at = fields.DatetimeField(null=True)
    last_channel = fields.CharEnumField(Channel, max_length=16, null=True)
    error_message = fields.TextField(null=True)
    error_hint = fields.TextField(null=True)
    error_at = fields.DatetimeField(null=True)
    added_at = fields.DatetimeField(auto_now_add=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)
    replied_at = fields.DatetimeField(null=True)
    #: The step Campaign.funnel counts this lead's reply under (the last action performed at or before its
    #: first reply; None before any): set with replied_at, so `replied`/`positive` per step are ordinary
    #: counter keys of the lead (domain/counters.lead_keys). A step id, no foreign key (a step is only ever
    #: deleted while no lead has reached it).
    reply_step_id = fields.BigIntField(null=True)
    #: Tombstone: a removed lead leaves the audience and counters, but its row (and activity) stays,
    #: so the contact can never be added back (LEAD_PREVIOUSLY_REMOVED).
    removed_at = fields.DatetimeField(null=True)

    contacted = fields.BooleanField(default=False)
    replied = fields.BooleanField(default=False)
    li_engaged = fields.BooleanField(default=False)
    li_invited = fields.BooleanField(default=False)
    li_accepted = fields.BooleanField(default=False)
    li_contacted = fields.BooleanField(default=False)
    li_replied = fields.BooleanField(default=False)
    em_sent = fields.BooleanField(default=False)
    em_clicked = fields.BooleanField(default=False)
    em_replied = fields.BooleanField(default=False)
    em_bounced = fields.BooleanField(default=False)
    # Unsubscribed from one of this campaign's emails (EmailStats.unsubscribed); a suppression found at the
    # moment of acting finishes the lead UNSUBSCRIBED without setting it: that contact did not click anything.
    em_unsubscribed = fields.BooleanField(default=False, db_default=False)

    class Meta:
        table = "lead"
        # One membership per (campaign, contact), tombstones included: addLeads' duplicate checks.
        unique_together = (("campaign_id", "contact_id"),)
        indexes = (
            # audience(filter: {status, substatus}): keyset on id within a status.
            ("campaign_id", "status", "substatus", "id"),
            # audience(filter: {status}) alone: the index above would need a sort across substatuses, so
            # PostgreSQL walked the primary key instead (23 ms for the last campaign of 100k leads, 0.15 with this).
            ("campaign_id", "status", "id"),
            # audience(filter: {stepId}) and the sequence flow preview.
            ("campaign_id", "current_step_id", "id"),
            # audience() unfiltered, keyset on id; removed_at filters the tombstones.
            ("campaign_id", "removed_at", "id"),
            # The scheduler: due leads, oldest first.
            ("next_action_at",),
        )

    @property
    def is_removed(self) -> bool:
        return self.removed_at is not None

    def can_pause(self) -> bool:
        return self.status in (LeadStatus.NOT_STARTED, LeadStatus.IN_PROGRESS, LeadStatus.ERROR)

    def can_resume(self) -> bool:
        return self.status == LeadStatus.PAUSED and self.substatus == LeadSubstatus.PAUSED_MANUALLY

    def can_retry(self) -> bool:
        return self.status == LeadStatus.ERROR
