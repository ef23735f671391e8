"""Subscription resolvers: campaignStats, campaignActivity."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry

from resolvers.context import Info


async def campaign_stats(info: Info, campaign_id: strawberry.ID) -> AsyncGenerator[Any, None]:
    raise NotImplementedError
    yield  # pragma: no cover


async def campaign_activity(info: Info, campaign_id: strawberry.ID) -> AsyncGenerator[Any, None]:
    raise NotImplementedError
    yield  # pragma: no cover
