"""The read side behind the Campaign View: sequence, stats, audience, activity, tasks, timelines.

(Issue 2 fills these in; each is a stub until then.)
"""

from __future__ import annotations

from typing import Any

from domain.stats import campaign_stats as load_stats
from models import Campaign, Lead, SequenceStep
from resolvers.context import Info


async def campaign_sequence(info: Info, campaign: Campaign) -> list[SequenceStep]:
    async def load(ids: list[int]) -> list[list[SequenceStep]]:
        steps: dict[int, list[SequenceStep]] = {i: [] for i in ids}
        for step in await SequenceStep.filter(campaign_id__in=set(ids)).order_by("position"):
            steps[step.campaign_id].append(step)
        return [steps[i] for i in ids]

    from strawberry.dataloader import DataLoader

    loader = info.context.loaders.named("sequence", lambda: DataLoader(load_fn=load))
    return await loader.load(campaign.id)


async def campaign_stats(info: Info, campaign: Campaign) -> Any:
    steps = await campaign_sequence(info, campaign)
    return await load_stats(campaign.id, [s.id for s in steps], campaign.created_at)


async def step_lead_count(info: Info, step: SequenceStep) -> int:
    raise NotImplementedError


async def lead_timeline(info: Info, lead: Lead) -> list[Any]:
    raise NotImplementedError


async def campaign_audience(info: Info, campaign: Campaign, filter: Any, first: int | None, after: str | None) -> Any:
    raise NotImplementedError


async def campaign_activity(info: Info, campaign: Campaign, filter: Any, first: int | None, after: str | None) -> Any:
    raise NotImplementedError


async def campaign_tasks(info: Info, campaign: Campaign, status: Any, first: int | None, after: str | None) -> Any:
    raise NotImplementedError
