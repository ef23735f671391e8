"""A message runs its lead's steps while they are due at once, instead of one broker round trip each.

`runner.step` returns, with what it did, the lead's claim when its next step is due now (the claim was
kept in the same compare-and-set, engine/apply.py). `run_chain`, what the actor runs, then runs that step
straight away: exactly what a message would do, without the trip through the broker (enqueue, fetch,
ack) and the consumer's idle backoff. Every hop is a full `runner.step`: it re-reads the lead and the
campaign (a pause committed meanwhile is seen) and applies by compare-and-set, so the guarantees are
those of a delivered message. After MAX_HOPS the claim goes back to the broker, so one long chain cannot
hold a worker. A step that raises counts as a failure of its lead (engine/failures.py): a few in a row and
the lead goes to ERROR instead of being retried forever.
"""

from __future__ import annotations

import logging
from datetime import datetime

from engine import failures, queue, runner
from engine.apply import Claim

log = logging.getLogger("outbound.engine")

#: Hops run in one message before the rest of the chain goes back to the queue (fairness between leads).
MAX_HOPS = 16


async def run_chain(lead_id: int, version: int | None = None, now: datetime | None = None) -> list[str]:
    """`runner.step`, then the steps it hands on, up to MAX_HOPS. Returns what each hop did."""
    outcomes: list[str] = []
    # The message's own hop may carry no version (runner.step takes None); every claim handed on has one.
    claim: Claim | None = (lead_id, version)  # type: ignore[assignment]
    while claim is not None and len(outcomes) < MAX_HOPS:
        try:
            applied = await runner.step(claim[0], claim[1], now)
        except Exception as exc:
            if await failures.record_failure(claim[0], exc, now):
                outcomes.append("error")  # failed once too often: the lead is in ERROR, nothing to retry
                claim = None
                break
            if not outcomes:
                raise  # the message's own step: the broker retries it
            # A later hop failed: a retry of this message would carry an old version (and find the lead
            # "stale"), so the hop gets a message of its own, with its own retries.
            log.exception("chained step of lead %s failed; re-queued", claim[0])
            break
        outcomes.append(applied.what)
        claim = applied.hand_on
    if claim is not None:
        await queue.enqueue_run_steps([claim])
    return outcomes
