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
        [str(ROOT / ".venv" / "bin" / "dramatiq"), "tasks", "-p", "1", "-t", "4", "--queues", "webhooks"],
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
