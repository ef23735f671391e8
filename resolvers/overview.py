"""Campaign.series and Campaign.funnel: decode the arguments, call domain/series.py and domain/funnel.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from domain import funnel, series
from engine import clock
from models import Campaign
from resolvers.context import Info
from schema.enums import SeriesBucket


async def campaign_series(
    root: Campaign,
    info: Info,
    bucket: SeriesBucket | None = SeriesBucket.DAY,
    from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
    to: datetime | None = None,
    timezone: str | None = "UTC",
) -> list[series.SeriesPoint]:
    # The contract's arguments are nullable with defaults: an explicit null means the default.
    bucket = SeriesBucket(bucket or SeriesBucket.DAY)
    return await series.series(root.id, bucket, from_, to, timezone or "UTC", now=clock.now())


async def campaign_funnel(root: Campaign, info: Info) -> list[funnel.StepFunnel]:
    loaders = info.context.loaders
    assert loaders is not None, "an authenticated context has its loaders"
    steps = await loaders.sequence.load(root.id)
    return await funnel.funnel(root.id, steps)
