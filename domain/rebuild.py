"""Recount what is kept alongside a campaign's activities, after a bulk load that bypassed
record_activity (bench/seed.py's COPY) or to repair drift: series slots, `Lead.reply_step_id`, and the
counters (funnel keys included) by `counters.reconcile`."""

from __future__ import annotations

from domain import counters, funnel_count, slots
from models import Lead


async def rebuild(campaign_id: int, *, shards: int = 1) -> dict[str, int]:
    """Rewrite a campaign's slots and reply steps from its tables, then reconcile its counters; returns the
    counters' drift that was repaired. Call inside a transaction (or alone on an idle campaign)."""
    steps = await funnel_count.reply_steps(campaign_id)
    for step_id in set(steps.values()):
        ids = [lead_id for lead_id, s in steps.items() if s == step_id]
        for start in range(0, len(ids), 5000):
            await Lead.filter(id__in=ids[start : start + 5000]).update(reply_step_id=step_id)
    await slots.rebuild(campaign_id, shards=shards)
    return await counters.reconcile(campaign_id)
