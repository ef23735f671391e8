"""Webhooks through the real machinery: the broker's `webhooks` queue, its workers and the scheduler tick.

Embedded: the in-process broker with its own webhook worker threads. Real: this process is the API and
the scheduler (enqueueing on Redis), and a `dramatiq tasks --queues webhooks` process sends.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from domain import webhooks
from domain.ids import to_global_id
from models import WebhookDelivery
from models.enums import StepType
from tasks import runtime
from tests.engine_helpers import make_campaign, make_identity, step
from tests.webhook_helpers import DELETE, subscribe
from tests.webhook_receiver import Receiver

ROOT = Path(__file__).resolve().parent.parent


def _start_worker(backend: Any) -> subprocess.Popen[bytes]:
    log = (backend.tmp / "webhook-worker.log").open("wb")
    return subprocess.Popen(
        # As many threads as the embedded webhook worker has (tasks.runtime.webhook_threads): more than a slow
        # receiver at its cap holds.
        [str(ROOT / ".venv" / "bin" / "dramatiq"), "tasks", "-p", "1", "-t", "13", "--queues", "webhooks"],
        cwd=ROOT,
        env=backend.env() | {"WEBHOOK_ALLOW_PRIVATE": "true"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: killed with its forked worker process
    )


@pytest.fixture
async def machinery(settings: Any, backend: Any) -> AsyncIterator[None]:
    engine = await runtime.start(settings.model_copy(update={"scheduler": True, "webhook_allow_private": True}))
    worker = _start_worker(backend) if backend.real else None
    try:
        yield
    finally:
        if worker is not None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        await engine.stop()


async def test_deliveries_run_as_jobs_and_retries_come_from_the_tick(
    gql: Any, workspace: Any, machinery: None, receiver: Receiver
) -> None:
    ws, _ = workspace
    campaign, _ = await make_campaign(ws, await make_identity(ws), [step(StepType.TASK, title="T")])
    campaign_id = to_global_id("Campaign", campaign.id)
    await subscribe(gql, receiver, "/hook")
    slow = await subscribe(gql, receiver, "/slow")
    receiver.slow_seconds = 4.0

    # One slow receiver does not hold up another one.
    started = time.monotonic()
    await gql("mutation($id: ID!) { pauseCampaign(id: $id) { errors { code } } }", {"id": campaign_id})
    (fast,) = await receiver.wait_for(1, "/hook", within=30)
    assert fast.verified and fast.type == "campaign.status_changed"
    assert await WebhookDelivery.filter(webhook__url=receiver.url("/slow"), status="PENDING").exists()
    await receiver.wait_for(1, "/slow", within=30)
    await gql(DELETE, {"id": slow["id"]})

    # A failed attempt is retried by the scheduler tick, 5 s later, under the same webhook-id.
    receiver.fail_next = 1
    await gql("mutation($id: ID!) { resumeCampaign(id: $id) { errors { code } } }", {"id": campaign_id})
    _, failed, retried = await receiver.wait_for(3, "/hook", within=60)
    assert (failed.answered, retried.answered) == (503, 204)
    assert failed.webhook_id == retried.webhook_id and retried.json["data"]["newStatus"] == "ACTIVE"
    # The receiver has the request before the sender has written what it answered: wait for that write.
    deadline = time.monotonic() + 10
    row = await WebhookDelivery.get(event_id=retried.webhook_id)
    while row.status != "SUCCEEDED" and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        row = await WebhookDelivery.get(event_id=retried.webhook_id)
    assert (row.status, row.attempts) == ("SUCCEEDED", 2)
    assert row.last_attempt_at is not None and row.log[1]["status"] == 204
    assert time.monotonic() - started < 60


PAUSE = "mutation($id: ID!) { pauseCampaign(id: $id) { errors { code } } }"
RESUME = "mutation($id: ID!) { resumeCampaign(id: $id) { errors { code } } }"


async def test_a_slow_receiver_holds_at_most_its_cap_and_never_delays_another(
    gql: Any, workspace: Any, receiver: Receiver, machinery: None
) -> None:
    ws, _ = workspace
    identity = await make_identity(ws)
    slow_campaign, _ = await make_campaign(ws, identity, [step(StepType.TASK, title="T")])
    fast_campaign, _ = await make_campaign(ws, identity, [step(StepType.TASK, title="T")])
    slow_id, fast_id = (to_global_id("Campaign", c.id) for c in (slow_campaign, fast_campaign))
    await subscribe(gql, receiver, "/slow", campaignIds=[slow_id])
    await subscribe(gql, receiver, "/hook", campaignIds=[fast_id])
    receiver.slow_seconds = 3.0
    cap = webhooks.PER_RECEIVER

    # 30 events for the slow receiver (each answered after 3 s), all due at once.
    started = time.monotonic()
    for _ in range(15):
        for mutation in (PAUSE, RESUME):
            await gql(mutation, {"id": slow_id})
    assert await WebhookDelivery.filter(webhook__url=receiver.url("/slow")).count() == 30

    # Meanwhile a few for the fast one, a round every second or so: each arrives within 2 s of its change.
    for round_ in range(4):
        changed = time.monotonic()
        await gql(PAUSE if round_ % 2 == 0 else RESUME, {"id": fast_id})
        arrivals = await receiver.wait_for(round_ + 1, "/hook", within=10)
        assert arrivals[-1].at - changed < 2.0, f"round {round_}: {arrivals[-1].at - changed:.1f} s"
        await asyncio.sleep(1.0)
    assert all(a.answered == 204 for a in receiver.at("/hook"))

    # The slow receiver gets its backlog `cap` at a time, never more, one batch after the other.
    slow = await receiver.wait_for(3 * cap, "/slow", within=30)
    assert receiver.peak["/slow"] == cap
    assert slow[3 * cap - 1].at - started < 3 * 3.0 + 6.0
