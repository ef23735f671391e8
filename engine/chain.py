"""Running a lead's next step in the same worker when it is due at once, instead of a message round trip.

A step that leaves its lead due now keeps the claim (engine/actions.py `_chain`) and hands the claim on
after commit. Inside `run_chain` (what the actor runs) that hand-off is collected here and the next
`run_step` runs straight away: exactly what the message would do, without the trip through the broker
(enqueue, fetch, ack) and the consumer's idle backoff. Every hop is a full `run_step`: it re-reads the
lead and the campaign (a pause committed meanwhile is seen) and applies by compare-and-set, so the
guarantees are those of a delivered message. After MAX_HOPS the claim goes back to the broker, so one
long chain cannot hold a worker. Outside `run_chain` (scheduler, tests pumping `run_step`) the claim is
enqueued as before.
"""

from __future__ import annotations

import contextvars
import logging
from datetime import datetime

from engine import queue

log = logging.getLogger("outbound.engine")

#: Hops run in one message before the rest of the chain goes back to the queue (fairness between leads).
MAX_HOPS = 16

Claim = tuple[int, int]
_inline: contextvars.ContextVar[list[Claim] | None] = contextvars.ContextVar("inline_chain", default=None)


async def hand_on(claim: Claim) -> None:
    """After commit: the next step of a lead due now. Inline inside `run_chain`, else a message."""
    inbox = _inline.get()
    if inbox is not None:
        inbox.append(claim)
        return
    await queue.enqueue_run_steps([claim])


async def run_chain(lead_id: int, version: int | None = None, now: datetime | None = None) -> list[str]:
    """`run_step`, then the steps it hands on, up to MAX_HOPS. Returns what each hop did."""
    from engine import runner  # runner imports actions, which imports this module

    outcomes: list[str] = []
    inbox: list[Claim] = []
    token = _inline.set(inbox)
    try:
        claim: Claim | None = (lead_id, version)  # type: ignore[assignment]
        while claim is not None and len(outcomes) < MAX_HOPS:
            try:
                outcomes.append(await runner.run_step(claim[0], claim[1], now))
            except Exception:
                if not outcomes:
                    raise  # the message's own step: the broker retries it
                # A later hop failed: a retry of this message would carry an old version (and find the lead
                # "stale"), so the hop gets a message of its own, with its own retries.
                log.exception("chained step of lead %s failed; re-queued", claim[0])
                break
            claim = inbox.pop(0) if inbox else None
    finally:
        _inline.reset(token)
    leftover = ([claim] if claim is not None else []) + inbox
    if leftover:
        await queue.enqueue_run_steps(leftover)
    return outcomes
