"""Fault runs (issue 16 point 4): a whole deployment on a private PostgreSQL and Redis (tests/fault_services.py),
the API, one scheduler and two `dramatiq tasks` workers as real processes, and a real SMTP server counting
messages per recipient; one fault per run. Each run asserts what a user would check afterwards: every lead
finished (or stopped, after an archive), no address got two emails, the counters equal a recount, and a
live subscription's last snapshot equals `stats`. What each run observed is printed (`pytest -s`) and
written to the run's tmp directory as observed.json.

Known defects the runs expose are their own tests, marked xfail(strict=True) with the reason (README
"Running under supervision" and issue 16 point 1): they turn into failures, so into news, once fixed.
A killed worker's interrupted emails (fixed) are asserted: their leads end in ERROR, not counted as sent.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Backend
from tests.fault_harness import (
    LEADS,
    LEASE,
    SEND_ATTEMPT,
    CountingSmtp,
    Run,
    after_fault,
    ask,
    assert_about_one_message_per_lead,
    complete_run,
    conclude,
    wait_sent,
)
from tests.fault_services import PrivatePostgres, PrivateRedis, pg_bin
from tests.processes import Api, scheduler

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
async def deployment(backend: Backend, tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Run]]]:
    if not backend.real:
        pytest.skip("fault runs need Redis and PostgreSQL (their own, started here): --backend real")
    if pg_bin() is None:
        pytest.skip("no PostgreSQL server binaries (initdb)")
    runs: list[Run] = []

    async def start(rcpt_delay: float = 0.0) -> Run:
        pg, redis = PrivatePostgres(), PrivateRedis(tmp_path)
        smtp = CountingSmtp(rcpt_delay)
        smtp.controller.start()
        pg.start()
        redis.start()
        await pg.create_database()
        private = Backend("real", pg.url, redis.url, "faults", tmp_path)
        metrics_dir = tmp_path / f"metrics-{len(runs)}"
        metrics_dir.mkdir()
        env = {
            "METRICS": "true",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            "SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
            "OUTBOUND_LEASE_SECONDS": LEASE,
            # A send's deadline: a claim left SENDING by the killed worker is called interrupted after
            # 3 x 5 s + 5 s (engine/send.py interrupted_after), well within a run.
            "OUTBOUND_SEND_ATTEMPT_SECONDS": SEND_ATTEMPT,
            "LOG_LEVEL": "WARNING",
        }
        run = Run(pg, redis, smtp, private, env)
        runs.append(run)
        run.campaign = await ask(["setup", str(LEADS)], {**private.env(), **env})
        run.api = Api(private, **env)
        run.processes.append(run.api)
        await run.api.ready()
        await run.subscribe()
        run.processes.append(scheduler(private, **env))
        run.worker("worker1")
        run.worker("worker2")
        return run

    try:
        yield start
    finally:
        for run in runs:
            await run.close()
            run.smtp.controller.stop()
            run.redis.stop()
            run.pg.remove()


# ------------------------------------------------------------------------------------------------ runs


async def _sigkill_run(deployment: Callable[..., Awaitable[Run]]) -> tuple[Run, dict[str, Any]]:
    started = time.monotonic()
    run = await deployment(rcpt_delay=0.1)
    await wait_sent(run, 40)
    doomed = run.processes[-1]
    doomed.signal_group(signal.SIGKILL)
    fault_at, at_fault = time.monotonic(), run.smtp.count
    await asyncio.sleep(1)
    run.worker("worker2-restarted")  # what the supervisor does (Restart=always)
    await after_fault(run, "sigkill-worker", fault_at, at_fault)
    return run, await complete_run(run, started, interrupted=True)


#: What a run observed, by fault, for the known-defect tests that follow it (one run serves both).
_RESULTS: dict[str, dict[str, Any]] = {}


async def _result(fault: str, run: Callable[[], Awaitable[tuple[Run, dict[str, Any]]]]) -> dict[str, Any]:
    if fault not in _RESULTS:
        _, facts = await run()
        _RESULTS[fault] = facts
    return _RESULTS[fault]


async def test_a_sigkilled_worker(deployment: Callable[..., Awaitable[Run]]) -> None:
    facts = await _result("sigkill", lambda: _sigkill_run(deployment))
    assert_about_one_message_per_lead(facts)


async def test_emails_interrupted_by_sigkill_are_shown_and_not_counted_as_sent(
    deployment: Callable[..., Awaitable[Run]],
) -> None:
    """Issue 16 point 1, fixed: an email the kill cut short in its SMTP handshake (how many depends on
    where the kill lands: often a few, possibly none) leaves its lead in ERROR saying it may not have gone
    out; every EMAIL_SENT in the log was accepted by the server, and only those count."""
    facts = await _result("sigkill", lambda: _sigkill_run(deployment))
    assert facts["undelivered"] == 0, "an email the server never accepted is logged as sent"
    assert facts["flag_true_but_no_activity"] == [] and facts["sent_but_flag_false"] == []
    assert facts["counter_email_sent"] == facts["email_activities"] == facts["statuses"].get("FINISHED/COMPLETED", 0)
    interrupted = facts["statuses"].get("ERROR/SYSTEM_ERROR", 0)
    assert sum(n for message, n in facts["error_messages"].items() if "may not have gone out" in message) == interrupted


async def test_a_redis_restart(deployment: Callable[..., Awaitable[Run]]) -> None:
    started = time.monotonic()
    run = await deployment(rcpt_delay=0.02)
    await wait_sent(run, 40)
    fault_at, at_fault = time.monotonic(), run.smtp.count
    await asyncio.to_thread(run.redis.restart, 1.0)  # no persistence: every queued message is gone
    await after_fault(run, "redis-restart", fault_at, at_fault)
    assert_about_one_message_per_lead(await complete_run(run, started))


async def test_a_postgres_restart(deployment: Callable[..., Awaitable[Run]]) -> None:
    started = time.monotonic()
    run = await deployment(rcpt_delay=0.02)
    await wait_sent(run, 40)
    fault_at, at_fault = time.monotonic(), run.smtp.count
    await asyncio.to_thread(run.pg.restart, 2.0)
    await after_fault(run, "postgres-restart", fault_at, at_fault)
    await complete_run(run, started)


async def _archive_run(deployment: Callable[..., Awaitable[Run]]) -> tuple[Run, dict[str, Any]]:
    started = time.monotonic()
    run = await deployment(rcpt_delay=0.1)
    await wait_sent(run, 40)
    run.observed.update(fault="archive-during-sends", sent_at_fault=run.smtp.count)
    data = await run.gql(
        "mutation($id: ID!) { archiveCampaign(id: $id) { errors { code } } }", {"id": run.campaign["campaign_id"]}
    )
    assert not data["archiveCampaign"]["errors"]
    await run.quiet()
    after = run.smtp.count
    await asyncio.sleep(2 * float(LEASE))  # leases run out: nothing is sent for an archived campaign
    assert run.smtp.count == after, "an email went out after the archive had settled"
    facts = await conclude(run, started)
    assert facts["campaign_status"] == "ARCHIVED"
    finished = facts["statuses"].get("FINISHED/COMPLETED", 0)
    assert finished < LEADS, "the archive came too late to stop anything"
    # Stopped as the rules say: a lead either finished (its email sent) or stays where it was, unsent.
    assert set(facts["statuses"]) <= {"FINISHED/COMPLETED", "NOT_STARTED/None", "IN_PROGRESS/SCHEDULED"}
    return run, facts


async def test_an_archive_during_sends(deployment: Callable[..., Awaitable[Run]]) -> None:
    await _result("archive", lambda: _archive_run(deployment))


async def test_an_archive_does_not_lose_em_sent_of_emails_in_flight(
    deployment: Callable[..., Awaitable[Run]],
) -> None:
    """Fixed (engine/apply._keep_effects): the leads that got their email say so, and email.sent counts them."""
    facts = await _result("archive", lambda: _archive_run(deployment))
    assert facts["sent_but_flag_false"] == []
    assert facts["counter_email_sent"] == facts["email_activities"]
