"""Leases and the queue (issue 16 point 1): the queue holds about one message per due lead.

A lease that runs out while the lead's message still waits does not enqueue it again; one whose message is
gone (Redis restarted without persistence, the in-process queue's process restarted) or whose worker died
is sent again. The broker is the process's own (tasks/runtime.start with no workers, as the scheduler
process has it): in-process on the embedded backend, Redis on the real one, where the messages stay queued
and the test reads the depth /metrics shows.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker

from compat import redis_heartbeats_key
from config import Settings
from engine import queue, scheduler
from models.enums import StepType
from ops import queue_depth
from tasks import runtime
from tasks.broker import build_broker
from tests.engine_helpers import add_leads, make_campaign, make_identity, person, step
from tests.metrics import sample

LEASE = 30.0


@pytest.fixture
async def broker(settings: Settings) -> AsyncIterator[dramatiq.Broker]:
    engine = await runtime.start(settings.model_copy(update={"scheduler": False}), workers=False)
    _fresh(engine.broker)
    try:
        yield engine.broker
    finally:
        engine.broker.flush_all()
        await engine.stop()


def _fresh(broker: dramatiq.Broker) -> None:
    """The broker as a new deployment has it. On Redis that is more than its queues: the worker processes
    of earlier tests in this run (killed ones included) leave heartbeats and unacked messages in the run's
    namespace, and a worker heard from within a lease counts as alive, holding its messages."""
    broker.flush_all()
    if isinstance(broker, RedisBroker):
        for key in broker.client.scan_iter(f"{broker.namespace}*"):
            broker.client.delete(key)


async def _one_due_lead(workspace: Any) -> None:
    ws, _ = workspace
    campaign, _ = await make_campaign(ws, await make_identity(ws), [step(StepType.EMAIL, subject="Hi", content="Yo")])
    await add_leads(ws, campaign, [person(1)])


async def _waiting(settings: Settings, broker: dramatiq.Broker) -> int:
    depth = await queue_depth(settings, broker)
    assert depth is not None
    return depth["waiting"]


async def _tick(at: datetime) -> int:
    return await scheduler.tick(at, lease=LEASE)


def _expired() -> float:
    return sample("outbound_scheduler_leases_expired_total")


async def test_known_defect_a_lease_that_runs_out_while_queued_does_not_enqueue_again(
    workspace: Any, frozen: Any, settings: Settings, broker: dramatiq.Broker
) -> None:
    """Fixed: the name stays so the issue's test is found. No worker takes the message (a backlog): the lease
    runs out while it waits, and the scheduler leaves it."""
    await _one_due_lead(workspace)
    before = _expired()
    assert await _tick(frozen.now()) == 1
    assert await _tick(frozen.now() + timedelta(seconds=LEASE + 1)) == 0
    assert await _waiting(settings, broker) == 1, "a second message was queued for a lead whose first still waits"
    assert _expired() == before


async def test_a_claim_older_than_the_backlog_lease_is_sent_again_while_messages_wait(
    workspace: Any, frozen: Any, settings: Settings, broker: dramatiq.Broker
) -> None:
    """The backstop: a backlog that outlasts BACKLOG_LEASE_SECONDS does not hold a lead forever."""
    await _one_due_lead(workspace)
    await _tick(frozen.now())
    backstop = timedelta(seconds=queue.BACKLOG_LEASE_SECONDS)
    assert await _tick(frozen.now() + backstop - timedelta(seconds=1)) == 0
    before = _expired()
    assert await _tick(frozen.now() + backstop) == 1
    assert await _waiting(settings, broker) == 2
    assert _expired() == before + 1


async def test_a_lost_message_is_sent_again_when_its_lease_runs_out(
    workspace: Any, frozen: Any, settings: Settings, broker: dramatiq.Broker
) -> None:
    """Redis restarted without persistence (or the process of the in-process queue restarted): the queue
    is empty, the lead still claimed. Once its lease passes it is sent again, not after the backstop."""
    await _one_due_lead(workspace)
    await _tick(frozen.now())
    broker.flush_all()  # every queued message is gone
    assert await _tick(frozen.now() + timedelta(seconds=LEASE - 1)) == 0  # still leased
    before = _expired()
    assert await _tick(frozen.now() + timedelta(seconds=LEASE)) == 1
    assert await _waiting(settings, broker) == 1
    assert _expired() == before + 1


async def test_a_dead_workers_lead_is_sent_again(
    workspace: Any, frozen: Any, settings: Settings, broker: dramatiq.Broker
) -> None:
    """A worker took the lead's message and died before finishing it. While it may still be running (Redis:
    its heartbeat is fresh; in-process: it never acked) the lead is left to it; once Redis has had no
    heartbeat from it for the broker's heartbeat timeout, the lead is sent again at once. In-process, a
    worker that dies takes the process and its queue with it (the lost-message case): one that hangs holds
    its message, and the lead is sent again by the backstop."""
    await _one_due_lead(workspace)
    await _tick(frozen.now())
    worker = build_broker(settings) if isinstance(broker, RedisBroker) else broker  # another process's broker
    consumer = worker.consume("sequences", prefetch=1, timeout=100)
    taken = None
    for _ in range(50):
        taken = next(consumer)
        if taken is not None:
            break
    assert taken is not None, "the worker got no message"
    assert await _waiting(settings, broker) == 0
    after_lease = frozen.now() + timedelta(seconds=LEASE + 1)
    assert await _tick(after_lease) == 0, "the lead was sent again while its worker may still run it"
    if isinstance(worker, RedisBroker):
        # What the heartbeat timeout leaves: the dead worker's last heartbeat that long ago.
        last = int(time.time() * 1000) - worker.heartbeat_timeout - 1000
        worker.client.zadd(redis_heartbeats_key(worker.namespace), {worker.broker_id: last})
        later = after_lease + timedelta(seconds=1)
    else:
        later = frozen.now() + timedelta(seconds=queue.BACKLOG_LEASE_SECONDS)
    assert await _tick(later) == 1
    assert await _waiting(settings, broker) == 1
    consumer.close()
