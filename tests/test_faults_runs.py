"""Fault runs (issue 16 point 4): a whole deployment on a private PostgreSQL and Redis (tests/fault_services.py),
the API, one scheduler and two `dramatiq tasks` workers as real processes, and a real SMTP server counting
messages per recipient; one fault per run. Each run asserts what a user would check afterwards: every lead
finished (or stopped, after an archive), no address got two emails, the counters equal a recount, and a
live subscription's last snapshot equals `stats`. What each run observed is printed (`pytest -s`) and
written to the run's tmp directory as observed.json.

Known defects the runs expose are their own tests, marked xfail(strict=True) with the reason (README
"Running under supervision" and issue 16 point 1): they turn into failures, so into news, once fixed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from aiosmtpd.controller import Controller
from websockets.asyncio.client import connect

from tests.conftest import Backend
from tests.fault_services import PrivatePostgres, PrivateRedis, pg_bin
from tests.processes import ROOT, Api, Process, free_port, scheduler, worker

pytestmark = pytest.mark.timeout(240)

LEADS = 200
LEASE = "3"
FIELDS = "version allChannels { totalContacts started contacted } email { sent } statuses { status count }"
STATS_SUB = f"subscription S($id: ID!) {{ campaignStats(campaignId: $id) {{ {FIELDS} }} }}"
STATS_QUERY = f"query Q($id: ID!) {{ campaign(id: $id) {{ stats {{ {FIELDS} }} }} }}"


# ------------------------------------------------------------------------------------- the SMTP server


class CountingSmtp:
    """Counts accepted messages per recipient. `rcpt_delay`: a slow handshake before DATA, so a process
    killed mid-send has not handed its message over (the message is lost, not delivered)."""

    def __init__(self, rcpt_delay: float = 0.0) -> None:
        self.rcpt_delay = rcpt_delay
        self.lock = threading.Lock()
        self.per_recipient: Counter[str] = Counter()
        self.message_ids: list[str] = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.rcpt_delay:
            await asyncio.sleep(self.rcpt_delay)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes

        message_id = str(message_from_bytes(envelope.original_content)["Message-ID"])
        with self.lock:
            self.per_recipient.update(envelope.rcpt_tos)
            self.message_ids.append(message_id)
        return "250 Message accepted for delivery"

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.message_ids)


# ------------------------------------------------------------------------------------------ a deployment


async def _ask(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "tests.fault_tool", *command], cwd=ROOT, env=env, capture_output=True
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    return orjson.loads(done.stdout.splitlines()[-1])


@dataclass
class Run:
    pg: PrivatePostgres
    redis: PrivateRedis
    smtp: CountingSmtp
    backend: Backend
    env: dict[str, str]
    campaign: dict[str, Any] = field(default_factory=dict)
    api: Api | None = None
    processes: list[Process] = field(default_factory=list)
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    observed: dict[str, Any] = field(default_factory=dict)

    def worker(self, name: str) -> Process:
        process = worker(self.backend, name, threads=4, **self.env)
        self.processes.append(process)
        return process

    async def gql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        assert self.api is not None
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(
                self.api.base + "/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {self.campaign['key']}"},
            )
        body = response.json()
        assert not body.get("errors"), body
        return body["data"]

    async def leads_by_status(self) -> Counter[str]:
        """From PostgreSQL directly; empty while it is down."""
        with contextlib.suppress(OSError, asyncpg.PostgresError, asyncio.TimeoutError):
            conn = await asyncpg.connect(self.pg.url, timeout=2)
            try:
                rows = await conn.fetch(
                    "SELECT status, count(*) AS n FROM lead WHERE campaign_id = $1 GROUP BY status",
                    self.campaign["campaign_pk"],
                )
            finally:
                await conn.close()
            return Counter({row["status"]: row["n"] for row in rows})
        return Counter()

    async def until(self, predicate: Callable[[], Awaitable[bool]], seconds: float, what: str) -> float:
        started = time.monotonic()
        while not await predicate():
            assert time.monotonic() - started < seconds, f"{what}: not within {seconds}s; {self.observed}"
            await asyncio.sleep(0.1)
        return time.monotonic() - started

    async def all_finished(self) -> bool:
        return (await self.leads_by_status()).get("FINISHED", 0) == LEADS

    async def quiet(self, seconds: float = 3.0) -> None:
        """Wait until no email went out for `seconds` (what was in flight has landed)."""
        last, since = self.smtp.count, time.monotonic()
        while time.monotonic() - since < seconds:
            await asyncio.sleep(0.2)
            if self.smtp.count != last:
                last, since = self.smtp.count, time.monotonic()

    async def subscribe(self) -> None:
        assert self.api is not None
        conn = await connect(self.api.ws_url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {self.campaign['key']}"}}
        await conn.send(orjson.dumps(init).decode())
        assert orjson.loads(await conn.recv())["type"] == "connection_ack"
        message = {
            "id": "s",
            "type": "subscribe",
            "payload": {"query": STATS_SUB, "variables": {"id": self.campaign["campaign_id"]}},
        }
        await conn.send(orjson.dumps(message).decode())

        async def read() -> None:
            async for raw in conn:
                frame = orjson.loads(raw)
                if frame.get("type") == "next":
                    self.snapshots.append(frame["payload"]["data"]["campaignStats"])

        self._reader = asyncio.create_task(read())
        self._conn = conn

    async def snapshot_settles_to_stats(self, seconds: float = 15) -> dict[str, Any]:
        """The last pushed snapshot equals `stats` (pushes may trail a change by the hub's interval)."""
        stats: dict[str, Any] = {}

        async def equal() -> bool:
            nonlocal stats
            stats = (await self.gql(STATS_QUERY, {"id": self.campaign["campaign_id"]}))["campaign"]["stats"]
            return bool(self.snapshots) and self.snapshots[-1] == stats

        await self.until(equal, seconds, "the subscription's last snapshot equals stats")
        return stats

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._conn.close()
        for process in self.processes:
            process.kill()


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
            "LOG_LEVEL": "WARNING",
        }
        run = Run(pg, redis, smtp, private, env)
        runs.append(run)
        run.campaign = await _ask(["setup", str(LEADS)], {**private.env(), **env})
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


async def _finish(run: Run, fault: str, fault_at: float, sent_at_fault: int) -> dict[str, Any]:
    """After the fault: recovery, the end, and what a user would check. Returns what was observed."""
    run.observed.update(fault=fault, sent_at_fault=sent_at_fault)
    # Recovery: from the fault (a restart's downtime included) to the next email accepted.
    await run.until(lambda: _more_than(run, sent_at_fault), 60, "emails flow again after the fault")
    run.observed["recovery_seconds"] = round(time.monotonic() - fault_at, 2)
    return run.observed


async def _more_than(run: Run, count: int) -> bool:
    return run.smtp.count > count


async def _conclude(run: Run, started: float) -> dict[str, Any]:
    stats = await run.snapshot_settles_to_stats()
    facts = await _ask(["check", str(run.campaign["campaign_pk"])], {**run.backend.env(), **run.env})
    observed = run.observed
    observed.update(
        seconds=round(time.monotonic() - started, 1),
        smtp_messages=run.smtp.count,
        smtp_recipients=len(run.smtp.per_recipient),
        addresses_emailed_twice=sum(1 for n in run.smtp.per_recipient.values() if n > 1),
        email_activities=facts["email_activities"],
        counter_email_sent=facts["counter_email_sent"],
        statuses=facts["statuses"],
        sent_but_flag_false=len(facts["sent_but_flag_false"]),
        activities_never_delivered=len(set(facts["message_ids"]) - set(run.smtp.message_ids)),
        **await _scraped(run),
        drift=facts["drift"],
        snapshots=len(run.snapshots),
        stats_email_sent=stats["email"]["sent"],
    )
    facts["undelivered"] = observed["activities_never_delivered"]
    facts["observed"] = observed
    (run.backend.tmp / f"observed-{observed['fault']}.json").write_text(json.dumps(observed, indent=2))
    print(f"\nfault run {observed['fault']}: {json.dumps(observed, sort_keys=True)}")
    # What every run must show.
    assert observed["addresses_emailed_twice"] == 0, "an address got two emails"
    assert not facts["leads_with_two_email_activities"], "an email was recorded twice"
    assert facts["drift"] == {}, "the counters drifted from a recount"
    assert run.snapshots[-1] == stats
    return facts


async def _scraped(run: Run) -> dict[str, Any]:
    """From the API's /metrics (every process of the run shares one PROMETHEUS_MULTIPROC_DIR)."""
    from prometheus_client.parser import text_string_to_metric_families

    assert run.api is not None
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(run.api.base + "/metrics")).text
    outcomes: Counter[str] = Counter()
    expired = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "outbound_engine_steps_total":
                outcomes[sample.labels["outcome"]] += int(sample.value)
            elif sample.name == "outbound_scheduler_leases_expired_total":
                expired += sample.value
    return {"leases_expired": int(expired), "step_outcomes": dict(outcomes)}


async def _wait_sent(run: Run, count: int) -> None:
    await run.until(lambda: _more_than(run, count - 1), 60, f"{count} emails sent")


async def _complete_run(run: Run, started: float) -> dict[str, Any]:
    run.observed["finish_seconds"] = round(await run.until(run.all_finished, 120, "every lead finished"), 1)
    facts = await _conclude(run, started)
    assert facts["statuses"] == {"FINISHED/COMPLETED": LEADS}
    assert run.observed["smtp_recipients"] >= LEADS - 8  # at most one lost per worker thread of a killed worker
    return facts


# ------------------------------------------------------------------------------------------------ runs


async def _sigkill_run(deployment: Callable[..., Awaitable[Run]]) -> tuple[Run, dict[str, Any]]:
    started = time.monotonic()
    run = await deployment(rcpt_delay=0.1)
    await _wait_sent(run, 40)
    doomed = run.processes[-1]
    doomed.signal_group(signal.SIGKILL)
    fault_at, at_fault = time.monotonic(), run.smtp.count
    await asyncio.sleep(1)
    run.worker("worker2-restarted")  # what the supervisor does (Restart=always)
    await _finish(run, "sigkill-worker", fault_at, at_fault)
    return run, await _complete_run(run, started)


#: What a run observed, by fault, for the known-defect tests that follow it (one run serves both).
_RESULTS: dict[str, dict[str, Any]] = {}


async def _result(fault: str, run: Callable[[], Awaitable[tuple[Run, dict[str, Any]]]]) -> dict[str, Any]:
    if fault not in _RESULTS:
        _, facts = await run()
        _RESULTS[fault] = facts
    return _RESULTS[fault]


async def test_a_sigkilled_worker(deployment: Callable[..., Awaitable[Run]]) -> None:
    await _result("sigkill", lambda: _sigkill_run(deployment))


@pytest.mark.xfail(
    strict=True,
    reason="issue 16 point 1: a worker SIGKILLed during the SMTP handshake leaves its EMAIL_SENT activity "
    "(inserted before the send, so the step is never resent) and the next delivery of its lead moves on "
    "as 'finished-redelivery' with em_sent true: emails the SMTP server never accepted count as sent",
)
async def test_known_defect_emails_lost_to_sigkill_are_not_counted_as_sent(
    deployment: Callable[..., Awaitable[Run]],
) -> None:
    facts = await _result("sigkill", lambda: _sigkill_run(deployment))
    assert facts["undelivered"] == 0


async def test_a_redis_restart(deployment: Callable[..., Awaitable[Run]]) -> None:
    started = time.monotonic()
    run = await deployment(rcpt_delay=0.02)
    await _wait_sent(run, 40)
    fault_at, at_fault = time.monotonic(), run.smtp.count
    await asyncio.to_thread(run.redis.restart, 1.0)  # no persistence: every queued message is gone
    await _finish(run, "redis-restart", fault_at, at_fault)
    await _complete_run(run, started)


async def test_a_postgres_restart(deployment: Callable[..., Awaitable[Run]]) -> None:
    started = time.monotonic()
    run = await deployment(rcpt_delay=0.02)
    await _wait_sent(run, 40)
    fault_at, at_fault = time.monotonic(), run.smtp.count
    await asyncio.to_thread(run.pg.restart, 2.0)
    await _finish(run, "postgres-restart", fault_at, at_fault)
    await _complete_run(run, started)


async def _archive_run(deployment: Callable[..., Awaitable[Run]]) -> tuple[Run, dict[str, Any]]:
    started = time.monotonic()
    run = await deployment(rcpt_delay=0.1)
    await _wait_sent(run, 40)
    run.observed.update(fault="archive-during-sends", sent_at_fault=run.smtp.count)
    data = await run.gql(
        "mutation($id: ID!) { archiveCampaign(id: $id) { errors { code } } }", {"id": run.campaign["campaign_id"]}
    )
    assert not data["archiveCampaign"]["errors"]
    await run.quiet()
    after = run.smtp.count
    await asyncio.sleep(2 * float(LEASE))  # leases run out: nothing is sent for an archived campaign
    assert run.smtp.count == after, "an email went out after the archive had settled"
    facts = await _conclude(run, started)
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
