"""SIGTERM, as a service manager sends it (to the main process, or to its whole group): every process
exits within a bounded time, and the work it had in flight is either done or handed back (a lead is
finished later, by the next process, and no address gets an email twice). README "Running under supervision".
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections import Counter
from typing import Any

import pytest

from engine import clock
from models import Lead
from models.enums import LeadStatus, StepType
from tests.conftest import Backend
from tests.engine_helpers import add_leads, make_campaign, make_identity, person, step, wait_for
from tests.processes import Api, Process, scheduler, worker
from tests.smtp_sink import SmtpSink

LEADS = 60
LEASE = "4"
#: Seconds a process may take to exit after SIGTERM (dramatiq's own default waits up to 10 minutes).
EXIT_WITHIN = 15


async def _launch(workspace: Any) -> Any:
    ws, _ = workspace
    identity = await make_identity(ws, daily_emails=10_000)
    campaign, _ = await make_campaign(ws, identity, [step(StepType.EMAIL, subject="Hi {{firstName}}", content="Hello")])
    await add_leads(ws, campaign, [person(i) for i in range(LEADS)])
    return campaign


async def _finished(campaign: Any) -> int:
    return await Lead.filter(campaign_id=campaign.id, status=LeadStatus.FINISHED).count()


async def _terminate(process: Process, group: bool) -> float:
    """SIGTERM to the process (or its group); returns the seconds it took to exit, all of its group with it."""
    started = time.monotonic()
    if group:
        process.signal_group(signal.SIGTERM)
    else:
        process.proc.send_signal(signal.SIGTERM)
    code = await process.wait(EXIT_WITHIN)

    async def group_gone() -> bool:  # forked children (dramatiq's worker processes) too
        return not process.group_alive()

    with contextlib.suppress(AssertionError):
        await wait_for(group_gone, seconds=EXIT_WITHIN, interval=0.05)
    assert not process.group_alive(), f"{process.name}: a child outlived the main process"
    assert code in (0, -signal.SIGTERM), f"{process.name} exited {code}:\n{process.output()[-3000:]}"
    return time.monotonic() - started


def _assert_each_address_once(sink: SmtpSink) -> None:
    per_address = Counter(rcpt for message in sink.snapshot() for rcpt in message.rcpt_tos)
    assert per_address and max(per_address.values()) == 1, [a for a, n in per_address.items() if n > 1]


async def _no_lead_held_longer_than_its_lease(campaign: Any) -> None:
    """What was in flight is handed back: no unfinished lead stays claimed past one lease from now."""
    horizon = clock.now().timestamp() + float(LEASE) + 1
    for lead in await Lead.filter(campaign_id=campaign.id).exclude(status=LeadStatus.FINISHED):
        assert lead.claimed_until is None or lead.claimed_until.timestamp() <= horizon


@pytest.mark.parametrize("group", [False, True], ids=["process", "group"])
async def test_the_scheduler_stops_on_sigterm_and_leaves_no_claim_behind(
    backend: Backend, workspace: Any, group: bool
) -> None:
    campaign = await _launch(workspace)
    process = scheduler(backend, OUTBOUND_LEASE_SECONDS=LEASE, LOG_LEVEL="INFO")
    try:
        await wait_for(lambda: _claimed(campaign), seconds=30)  # it ticks
        took = await _terminate(process, group)
        assert "scheduler stopped" in process.output()
    finally:
        process.kill()
    assert took < 5
    await _no_lead_held_longer_than_its_lease(campaign)


async def _claimed(campaign: Any) -> bool:
    return await Lead.filter(campaign_id=campaign.id, claimed_until__isnull=False).exists()


@pytest.mark.parametrize("group", [False, True], ids=["process", "group"])
async def test_a_worker_stops_on_sigterm_mid_run_and_the_next_one_finishes_every_lead_once(
    backend: Backend, workspace: Any, group: bool
) -> None:
    if not backend.real:
        pytest.skip("`dramatiq tasks` workers need Redis")
    env = {"OUTBOUND_LEASE_SECONDS": LEASE}
    # Slow sends: Dramatiq goes on consuming for a second or two after SIGTERM before it stops its
    # consumers, and at 50 ms a send the first worker could finish all 60 leads in that time (nothing left in
    # flight to hand back). At 300 ms, 4 threads need about 4 s for the 50 left.
    with SmtpSink(delay=0.3) as sink:
        env["SMTP_URL"] = sink.url
        processes = [scheduler(backend, **env), worker(backend, "doomed", threads=4, **env)]
        try:
            campaign = await _launch(workspace)

            async def some_sent() -> bool:
                return len(sink.snapshot()) >= 10

            await wait_for(some_sent, seconds=60, interval=0.05)
            took = await _terminate(processes[1], group)
            sent_by_the_first = len(sink.snapshot())
            assert sent_by_the_first < LEADS, "the first worker finished everything: nothing was in flight"
            processes.append(worker(backend, "successor", threads=4, **env))
            await wait_for(lambda: _all(campaign), seconds=90)
        finally:
            for process in processes:
                process.kill()
    assert took < EXIT_WITHIN
    _assert_each_address_once(sink)
    # A graceful stop loses nothing: its in-flight steps finished, its queued messages went back to Redis.
    assert len(sink.snapshot()) == LEADS


async def test_the_api_stops_on_sigterm_to_its_group_and_restarts_where_it_left(
    backend: Backend, workspace: Any
) -> None:
    """Embedded: the API runs the scheduler and the worker threads itself."""
    if backend.real:
        pytest.skip("the API runs the steps itself only on the embedded backend")
    env = {"OUTBOUND_LEASE_SECONDS": LEASE, "SCHEDULER": "true"}
    with SmtpSink(delay=0.05) as sink:
        env["SMTP_URL"] = sink.url
        first = Api(backend, **env)
        processes: list[Process] = [first]
        try:
            await first.ready()
            campaign = await _launch(workspace)

            async def some_sent() -> bool:
                return len(sink.snapshot()) >= 10

            await wait_for(some_sent, seconds=60, interval=0.05)
            took = await _terminate(first, group=True)
            assert len(sink.snapshot()) < LEADS, "the first API finished everything: nothing was in flight"
            await _no_lead_held_longer_than_its_lease(campaign)
            second = Api(backend, **env)
            processes.append(second)
            await second.ready()
            await wait_for(lambda: _all(campaign), seconds=90)
        finally:
            for process in processes:
                process.kill()
    assert took < EXIT_WITHIN
    _assert_each_address_once(sink)
    assert len(sink.snapshot()) == LEADS


async def _all(campaign: Any) -> bool:
    return await _finished(campaign) == LEADS
