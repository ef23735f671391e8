"""The fault runs' deployment (tests/test_faults_runs.py): a counting SMTP server, the processes of one run
on a private PostgreSQL and Redis (tests/fault_services.py), and what a user would check at the end."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import orjson
from aiosmtpd.controller import Controller
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import Backend
from tests.fault_services import PrivatePostgres, PrivateRedis
from tests.processes import ROOT, Api, Process, free_port, worker

LEADS = 200
LEASE = "3"
SEND_ATTEMPT = "5"
FIELDS = "version allChannels { totalContacts started contacted } email { sent } statuses { status count }"
STATS_SUB = f"subscription S($id: ID!) {{ campaignStats(campaignId: $id) {{ {FIELDS} }} }}"
STATS_QUERY = f"query Q($id: ID!) {{ campaign(id: $id) {{ stats {{ {FIELDS} }} }} }}"


# ------------------------------------------------------------------------------------- the SMTP server


class CountingSmtp:
    """Counts accepted messages per recipient. `rcpt_delay`: a slow handshake before DATA, so a process
    killed mid-send has not handed its message over (the message is lost, not delivered)."""

    def __init__(self, rcpt_delay: float = 0.0, host: str = "127.0.0.1") -> None:
        self.rcpt_delay = rcpt_delay
        self.host = host
        self.lock = threading.Lock()
        self.per_recipient: Counter[str] = Counter()
        self.message_ids: list[str] = []
        #: Each message's List-Unsubscribe header (the links a worker signed), in arrival order.
        self.unsubscribe_headers: list[str] = []
        self.port = free_port()
        self.controller = Controller(self, hostname=host, port=self.port)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.rcpt_delay:
            await asyncio.sleep(self.rcpt_delay)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes

        message = message_from_bytes(envelope.original_content)
        with self.lock:
            self.per_recipient.update(envelope.rcpt_tos)
            self.message_ids.append(str(message["Message-ID"]))
            self.unsubscribe_headers.append(str(message["List-Unsubscribe"]))
        return "250 Message accepted for delivery"

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.message_ids)


# ------------------------------------------------------------------------------------------ a deployment


async def ask(command: list[str], env: dict[str, str]) -> dict[str, Any]:
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

    def worker(self, name: str, netns: str | None = None, **env: str) -> Process:
        process = worker(self.backend, name, threads=4, netns=netns, **(self.env | env))
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

    async def errors(self) -> dict[str, int]:
        """The error messages of the leads in ERROR, counted (for a failure's message)."""
        conn = await asyncpg.connect(self.pg.url, timeout=2)
        try:
            rows = await conn.fetch(
                "SELECT error_message, count(*) AS n FROM lead WHERE campaign_id = $1 AND status = 'ERROR'"
                " GROUP BY error_message",
                self.campaign["campaign_pk"],
            )
        finally:
            await conn.close()
        return {str(row["error_message"]): row["n"] for row in rows}

    async def until(self, predicate: Callable[[], Awaitable[bool]], seconds: float, what: str) -> float:
        started = time.monotonic()
        while not await predicate():
            assert time.monotonic() - started < seconds, f"{what}: not within {seconds}s; {self.observed}"
            await asyncio.sleep(0.1)
        return time.monotonic() - started

    async def all_finished(self) -> bool:
        return (await self.leads_by_status()).get("FINISHED", 0) == LEADS

    async def settled(self) -> bool:
        """Every lead finished or stopped in ERROR: nothing left to run."""
        statuses = await self.leads_by_status()
        return statuses.get("FINISHED", 0) + statuses.get("ERROR", 0) == LEADS

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
            # Ends when the socket closes, whatever its code (`close_code` tells: 4403 for a revoked key).
            with contextlib.suppress(ConnectionClosed):
                async for raw in conn:
                    frame = orjson.loads(raw)
                    if frame.get("type") == "next":
                        self.snapshots.append(frame["payload"]["data"]["campaignStats"])

        self._reader = asyncio.create_task(read())
        self._conn = conn

    async def closed_with(self, seconds: float) -> int | None:
        """The subscription socket's close code once the server closed it within `seconds` (None: still open)."""
        await asyncio.wait([self._reader], timeout=seconds)
        return self._conn.close_code if self._reader.done() else None

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


async def after_fault(run: Run, fault: str, fault_at: float, sent_at_fault: int) -> dict[str, Any]:
    """After the fault: recovery, the end, and what a user would check. Returns what was observed."""
    run.observed.update(fault=fault, sent_at_fault=sent_at_fault)
    # Recovery: from the fault (a restart's downtime included) to the next email accepted.
    await run.until(lambda: _more_than(run, sent_at_fault), 60, "emails flow again after the fault")
    run.observed["recovery_seconds"] = round(time.monotonic() - fault_at, 2)
    return run.observed


async def _more_than(run: Run, count: int) -> bool:
    return run.smtp.count > count


async def conclude(run: Run, started: float) -> dict[str, Any]:
    stats = await run.snapshot_settles_to_stats()
    facts = await ask(["check", str(run.campaign["campaign_pk"])], {**run.backend.env(), **run.env})
    observed = run.observed
    observed.update(
        seconds=round(time.monotonic() - started, 1),
        smtp_messages=run.smtp.count,
        smtp_recipients=len(run.smtp.per_recipient),
        addresses_emailed_twice=sum(1 for n in run.smtp.per_recipient.values() if n > 1),
        email_activities=facts["email_activities"],
        counter_email_sent=facts["counter_email_sent"],
        statuses=facts["statuses"],
        interrupted=facts["statuses"].get("ERROR/SYSTEM_ERROR", 0),
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


#: Steps the queue may run beyond one per lead (issue 16 point 1: about one message per due lead): the
#: messages a killed worker held, and those in flight when the queue was lost, are sent once more.
SPARE_STEPS = 10


def assert_about_one_message_per_lead(facts: dict[str, Any]) -> None:
    """Every run_step message runs at least one step, so the steps counted bound the messages: a lease that
    runs out while a lead's message still waits must not queue another (they drained as no-ops)."""
    steps = sum(facts["observed"]["step_outcomes"].values())
    assert steps <= 1.2 * LEADS + SPARE_STEPS, f"{steps} steps for {LEADS} leads: {facts['observed']['step_outcomes']}"


async def wait_sent(run: Run, count: int) -> None:
    await run.until(lambda: _more_than(run, count - 1), 60, f"{count} emails sent")


async def complete_run(run: Run, started: float, *, interrupted: bool = False) -> dict[str, Any]:
    """Every lead finished. `interrupted`: a worker was killed, so the emails it was handing to the server
    end their leads in ERROR / SYSTEM_ERROR instead (maybe sent, so neither counted nor resent)."""
    done = run.settled if interrupted else run.all_finished
    try:
        run.observed["finish_seconds"] = round(await run.until(done, 120, "every lead finished"), 1)
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}; leads by status: {dict(await run.leads_by_status())}; {await run.errors()}"
        ) from None
    facts = await conclude(run, started)
    allowed = {"FINISHED/COMPLETED", "ERROR/SYSTEM_ERROR"} if interrupted else {"FINISHED/COMPLETED"}
    assert set(facts["statuses"]) <= allowed and sum(facts["statuses"].values()) == LEADS, facts["statuses"]
    assert run.observed["smtp_recipients"] >= LEADS - 8  # at most one lost per worker thread of a killed worker
    return facts
