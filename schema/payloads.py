"""Mutation payloads: the changed object plus `errors` (saleor style)."""

from __future__ import annotations

import strawberry

from schema.enums import ErrorCode
from schema.keys import ApiKey
from schema.types import Campaign, Contact, Identity, Lead, Task


@strawberry.type(
    description="An expected failure of a mutation: bad input or a rule of the domain. Faults go to the "
    "top-level errors."
)
class UserError:
    code: ErrorCode = strawberry.field(description="Machine-readable reason.")
    message: str = strawberry.field(description="What was wrong, for a person.")
    field: list[str] | None = strawberry.field(
        default=None,
        description='Path to the offending input, e.g. ["input", "steps", "0", "onTrue", "1", "subject"].',
    )


@strawberry.type(description="Result of createIdentity / updateIdentity.")
class IdentityPayload:
    identity: Identity | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="Result of updateContact.")
class ContactPayload:
    contact: Contact | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="Result of importContacts: the contacts created, and one error per refused input.")
class ImportContactsPayload:
    contacts: list[Contact] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="Result of a campaign mutation.")
class CampaignPayload:
    campaign: Campaign | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="Result of deleteCampaign.")
class DeleteCampaignPayload:
    deleted_id: strawberry.ID | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="Result of addLeads: the leads added, and one error per refused contact.")
class AddLeadsPayload:
    leads: list[Lead] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="Result of removeLeads.")
class RemoveLeadsPayload:
    removed_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="Result of a lead mutation.")
class LeadPayload:
    lead: Lead | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="Result of completeTask.")
class TaskPayload:
    task: Task | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="Result of createApiKey: the new key's row, and the whole key, shown this once.")
class CreateApiKeyPayload:
    api_key: ApiKey | None = None
    key: str | None = strawberry.field(default=None, description="The whole key, shown this once.")
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type(description="Result of revokeApiKey.")
class ApiKeyPayload:
    api_key: ApiKey | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)
