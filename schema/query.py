"""The Query root."""

from __future__ import annotations

import strawberry

from resolvers import query as q
from resolvers import suppressions as sup
from resolvers import webhooks as wh
from schema.suppressions import SuppressionConnection
from schema.types import (
    Campaign,
    CampaignConnection,
    ContactConnection,
    Identity,
    Lead,
    Node,
    Workspace,
)
from schema.webhooks import Webhook


@strawberry.type(description="Reads. Every read sees only the workspace of the request's API key.")
class Query:
    viewer: Workspace = strawberry.field(
        resolver=q.viewer, description="The workspace that the request's API key belongs to."
    )
    node: Node | None = strawberry.field(
        resolver=q.node, description="Any object by its ID; null when it does not exist in this workspace."
    )
    campaigns: CampaignConnection = strawberry.field(
        resolver=q.campaigns,
        description="Campaigns, newest first. ARCHIVED ones are left out unless filter.statuses names "
        "ARCHIVED. `first` is 0 to 100; `after` is an endCursor of this list (at most 200 characters).",
    )
    # These resolvers return the ORM rows the types are backed by (schema/types.py); Strawberry's
    # `field(resolver=...)` is typed as if they returned the declared type itself.
    campaign: Campaign | None = strawberry.field(resolver=q.campaign, description="One campaign, or null.")  # type: ignore[assignment]
    lead: Lead | None = strawberry.field(resolver=q.lead, description="One lead (the side panel), or null.")  # type: ignore[assignment]
    identities: list[Identity] = strawberry.field(resolver=q.identities, description="The workspace's senders.")  # type: ignore[assignment]
    contacts: ContactConnection = strawberry.field(
        resolver=q.contacts,
        description="Contacts, oldest first; search (at most 200 characters) matches name, email or company. "
        "`first` is 0 to 100; `after` is an endCursor of this list (at most 200 characters).",
    )
    suppressions: SuppressionConnection = strawberry.field(  # type: ignore[valid-type]
        resolver=sup.suppressions,
        description="The workspace's do-not-contact list, newest first; search (at most 200 characters) matches "
        "the value. `first` is 0 to 100; `after` is an endCursor of this list (at most 200 characters).",
    )
    webhooks: list[Webhook] = strawberry.field(resolver=wh.list_webhooks, description="The workspace's webhooks.")  # type: ignore[assignment]
