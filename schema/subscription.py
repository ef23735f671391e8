"""The Subscription root (graphql-transport-ws at /graphql)."""

from __future__ import annotations

import strawberry

from resolvers import subscription as s
from schema.stats import CampaignStats
from schema.types import Activity


@strawberry.type(description="Live updates over websockets (graphql-transport-ws).")
class Subscription:
    campaign_stats: CampaignStats = strawberry.subscription(
        resolver=s.campaign_stats,
        description="The current CampaignStats at once, then a fresh one after every change (coalesced; "
        "the latest always arrives).",
    )
    campaign_activity: Activity = strawberry.subscription(
        resolver=s.campaign_activity, description="Every activity recorded in the campaign from now on, in order."
    )
