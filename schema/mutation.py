"""The Mutation root. Each returns the changed object and `errors`; a refused call changes nothing."""

from __future__ import annotations

import strawberry

from resolvers import audience, campaign, contact, identity, keys, lead, suppressions, webhooks
from schema.payloads import (
    AddLeadsPayload,
    ApiKeyPayload,
    CampaignPayload,
    ContactPayload,
    CreateApiKeyPayload,
    DeleteCampaignPayload,
    IdentityPayload,
    ImportContactsPayload,
    LeadPayload,
    RemoveLeadsPayload,
    TaskPayload,
)
from schema.suppressions import RemoveSuppressionPayload, SuppressionsPayload
from schema.webhooks import CreateWebhookPayload, DeleteWebhookPayload, WebhookDeliveryPayload, WebhookPayload

MAX_ITEMS = 1000


@strawberry.type(
    description="Writes. Every text input is trimmed and may not hold NUL or other control characters (a long "
    "text may hold line breaks and tabs); each field's description states its limits. Breaking one is "
    "INVALID_INPUT with the field's path, and changes nothing."
)
class Mutation:
    create_identity: IdentityPayload = strawberry.field(resolver=identity.create_identity, description="Add a sender.")
    update_identity: IdentityPayload = strawberry.field(
        resolver=identity.update_identity,
        description="Change a sender: connect or disconnect its accounts, hours and limits.",
    )
    sync_mailbox: IdentityPayload = strawberry.field(
        resolver=identity.sync_mailbox,
        description="Reads the identity's inbox now (it is also read periodically) and returns the identity with "
        "its mailbox's sync state.",
    )
    import_contacts: ImportContactsPayload = strawberry.field(
        resolver=contact.import_contacts,
        description=f"Create contacts, at most {MAX_ITEMS} per call (more is INVALID_INPUT). "
        "Each refused input gets its own UserError; the others are created.",
    )
    update_contact: ContactPayload = strawberry.field(resolver=contact.update_contact, description="Change a contact.")
    create_campaign: CampaignPayload = strawberry.field(
        resolver=campaign.create_campaign, description="A new DRAFT campaign."
    )
    update_campaign: CampaignPayload = strawberry.field(
        resolver=campaign.update_campaign,
        description="Rename, set the sender or sequence (DRAFT only), or change step delays and texts "
        "(stepUpdates, also once launched).",
    )
    launch_campaign: CampaignPayload = strawberry.field(
        resolver=campaign.launch_campaign,
        description="DRAFT to ACTIVE. Needs an identity (IDENTITY_REQUIRED) and an action step (EMPTY_SEQUENCE).",
    )
    pause_campaign: CampaignPayload = strawberry.field(
        resolver=campaign.pause_campaign, description="ACTIVE to PAUSED: its leads pause with it."
    )
    resume_campaign: CampaignPayload = strawberry.field(
        resolver=campaign.resume_campaign, description="PAUSED to ACTIVE: its leads resume where they were."
    )
    duplicate_campaign: CampaignPayload = strawberry.field(
        resolver=campaign.duplicate_campaign,
        description="A new DRAFT copy of the sequence and settings; with includeLeads, the audience too "
        "(as NOT_STARTED, removed leads left out). `name` is at most 200 characters (omitted: the source's name "
        "with ' (copy)').",
    )
    archive_campaign: CampaignPayload = strawberry.field(
        resolver=campaign.archive_campaign, description="Permanent: nothing runs again."
    )
    delete_campaign: DeleteCampaignPayload = strawberry.field(
        resolver=campaign.delete_campaign,
        description="Delete a campaign with its leads, activity, tasks and counters; its subscriptions end.",
    )
    add_leads: AddLeadsPayload = strawberry.field(
        resolver=audience.add_leads,
        description=f"Add contacts as NOT_STARTED leads, at most {MAX_ITEMS} per call. Each refused contact "
        "gets its own UserError (ALREADY_IN_CAMPAIGN, LEAD_PREVIOUSLY_REMOVED, NOT_FOUND, SUPPRESSED).",
    )
    remove_leads: RemoveLeadsPayload = strawberry.field(
        resolver=audience.remove_leads,
        description=f"Remove leads, at most {MAX_ITEMS} per call. They leave the audience and counters at "
        "once, their activity stays, and their contacts can never be added back to this campaign.",
    )
    pause_lead: LeadPayload = strawberry.field(
        resolver=audience.pause_lead, description="Pause one lead by hand (PAUSED_MANUALLY)."
    )
    resume_lead: LeadPayload = strawberry.field(
        resolver=audience.resume_lead, description="Resume a lead paused by hand."
    )
    retry_lead: LeadPayload = strawberry.field(
        resolver=lead.retry_lead,
        description="Sends an ERROR lead back to IN_PROGRESS at the step that failed, once its cause is fixed.",
    )
    record_lead_event: LeadPayload = strawberry.field(
        resolver=lead.record_lead_event,
        description="Record an event from outside (acceptance, reply, click, bounce...). Idempotent: the same "
        "event twice is recorded and counted once (the repeat is a no-op, not an error). An event that cannot "
        "apply to the lead as it stands is refused with INVALID_TRANSITION, saying why, and records and counts "
        "nothing. INVITATION_ACCEPTED needs an invitation sent and not yet accepted (not NOT_STARTED). "
        "REPLY_RECEIVED applies in every status but FINISHED / BOUNCED; without `channel` it counts under the "
        "channel of the last message sent, else of the last action (LinkedIn: visit, like, invitation); on a "
        "lead nothing was done to, `channel` is required (INVALID_INPUT). EMAIL_CLICKED and EMAIL_BOUNCED need "
        "an email sent and not bounced (not NOT_STARTED); a bounce finishes an IN_PROGRESS, PAUSED or ERROR "
        "lead and is counted on one that replied or finished. OUT_OF_OFFICE needs a message sent, and BLOCKED "
        "nothing; both finish an IN_PROGRESS, PAUSED or ERROR lead (BLOCKED a NOT_STARTED one too), and are "
        "refused once it replied or finished. UNSUBSCRIBED applies once in every status: the contact's address "
        "joins the suppression list, email.unsubscribed counts it, and a NOT_STARTED, IN_PROGRESS, PAUSED or "
        "ERROR lead finishes FINISHED / UNSUBSCRIBED. The table is domain/inbound_rules.py.",
    )
    complete_task: TaskPayload = strawberry.field(
        resolver=lead.complete_task, description="Complete a task; its lead moves on."
    )
    create_webhook: CreateWebhookPayload = strawberry.field(
        resolver=webhooks.create_webhook, description="The signing secret is in the payload once and never again."
    )
    update_webhook: WebhookPayload = strawberry.field(resolver=webhooks.update_webhook)
    delete_webhook: DeleteWebhookPayload = strawberry.field(resolver=webhooks.delete_webhook)
    redeliver_webhook: WebhookDeliveryPayload = strawberry.field(
        resolver=webhooks.redeliver_webhook,
        description="Sends a past delivery again, as a new delivery with the same event id.",
    )
    add_suppressions: SuppressionsPayload = strawberry.field(
        resolver=suppressions.add_suppressions,
        description=f"Addresses (ana@acme.com) or domains (acme.com) that the workspace never contacts again; at "
        f'most {MAX_ITEMS} per call. Each bad value gets its own INVALID_INPUT (field ["values", index]) and '
        "the others are added; a value already listed is kept as it is. Leads of a listed contact finish "
        "FINISHED / UNSUBSCRIBED when they reach their next action step.",
    )
    remove_suppression: RemoveSuppressionPayload = strawberry.field(
        resolver=suppressions.remove_suppression,
        description="Takes a value off the list (an unknown or foreign id is NOT_FOUND). Leads it finished stay "
        "finished.",
    )
    create_api_key: CreateApiKeyPayload = strawberry.field(
        resolver=keys.create_api_key,
        description="A new key for the workspace; the key itself is in the payload once and never again. "
        "`name`: 1 to 100 characters once trimmed, no control characters (else INVALID_INPUT).",
    )
    revoke_api_key: ApiKeyPayload = strawberry.field(
        resolver=keys.revoke_api_key,
        description="Takes effect at once: requests with it get 401, and websockets opened with it are closed "
        "(4403), on every API process. The key in use may revoke itself (this answer still arrives; the next "
        "request is refused). An unknown or foreign id is NOT_FOUND; revoking a revoked key is a no-op that "
        "returns it with its first revokedAt.",
    )
