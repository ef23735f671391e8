"""The Query root."""

from __future__ import annotations

import strawberry

from resolvers import query as q
from schema.types import (
    Campaign,
    CampaignConnection,
    ContactConnection,
    Identity,
    Lead,
    Node,
    Workspace,
)


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
    campaign: Campaign | None = strawberry.field(resolver=q.campaign, description="One campaign, or null.")
    lead: Lead | None = strawberry.field(resolver=q.lead, description="One lead (the side panel), or null.")
    identities: list[Identity] = strawberry.field(resolver=q.identities, description="The workspace's senders.")
    contacts: ContactConnection = strawberry.field(
        resolver=q.contacts,
        description="Contacts, oldest first; search (at most 200 characters) matches name, email or company. "
        "`first` is 0 to 100; `after` is an endCursor of this list (at most 200 characters).",
    )
