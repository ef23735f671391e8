"""/readyz and /metrics, as an operator's probe and Prometheus see them (README "Health and metrics").

The API, and on the real backend a `dramatiq tasks` worker, run as real processes sharing one
PROMETHEUS_MULTIPROC_DIR, so the API's /metrics adds up what every process of the host counted.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import orjson
import pytest
from dramatiq.brokers.stub import StubBroker
from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request
from websockets.asyncio.client import connect

import ops
from domain.ids import to_global_id
from engine import scheduler
from models import Lead
from models.enums import LeadStatus, StepType
from schema import observe
from tests.conftest import Backend
from tests.engine_helpers import add_leads, make_campaign, make_identity, person, step, wait_for
from tests.metrics import sample
from tests.processes import Api, Process, worker
from tests.smtp_sink import SmtpSink

LEADS = 12


def _request(**state: Any) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "headers": [], "state": state})


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape: {(name, sorted labels): value}."""
    found = {}
    for family in text_string_to_metric_families(text):
        for found_sample in family.samples:
            found[(found_sample.name, tuple(sorted(found_sample.labels.items())))] = found_sample.value
    return found


def total(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in found.items() if n == name and set(labels.items()) <= set(ls))


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers: a hung Redis."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


async def test_readyz_is_503_naming_what_failed_within_the_timeout(
    settings: Any, database: None, silent_port: int
) -> None:
    hung = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{silent_port}/0"})
    started = time.monotonic()
    response = await ops.ready(_request(settings=hung))
    assert time.monotonic() - started < ops.READY_TIMEOUT + 1.5
    body = orjson.loads(response.body)
    assert response.status_code == 503
    assert body["ready"] is False and body["checks"] == {"database": "ok", "redis": "failed"}
    assert "no answer" in body["failed"]["redis"] or "Timeout" in body["failed"]["redis"]

    with socket.socket() as sock:  # a closed port: refused at once
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    refused = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{closed}/0"})
    response = await ops.ready(_request(settings=refused))
    assert response.status_code == 503 and "redis" in orjson.loads(response.body)["failed"]


async def test_metrics_are_off_unless_asked_and_want_the_token_when_one_is_set(settings: Any, database: None) -> None:
    off = await ops.metrics(_request(settings=settings))
    assert off.status_code == 404 and orjson.loads(off.body)["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    guarded = settings.model_copy(update={"metrics": True, "metrics_token": "s3cret"})
    refused = await ops.metrics(_request(settings=guarded))
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"

    broker = StubBroker()
    broker.declare_queue("sequences")
    engine = SimpleNamespace(broker=broker)
    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/metrics"}
    scope["state"] = {"settings": guarded, "engine": engine}
    scope["headers"] = [(b"authorization", b"Bearer s3cret")]
    served = await ops.metrics(Request(scope))
    assert served.status_code == 200
    assert ("outbound_queue_messages", (("queue", "sequences"), ("state", "waiting"))) in samples(
        bytes(served.body).decode()
    )


def test_operation_labels_stay_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(observe, "_seen", set())
    monkeypatch.setattr(observe, "MAX_NAMES", 3)
    assert observe.operation_label(None) == "anonymous"
    assert observe.operation_label("a b{") == "invalid"
    assert observe.operation_label("x" * 65) == "invalid"
    assert [observe.operation_label(f"Op{i}") for i in range(5)] == ["Op0", "Op1", "Op2", "other", "other"]
    assert observe.operation_label("Op1") == "Op1"


async def test_leases_that_ran_out_are_counted_when_claimed_again(workspace: Any, frozen: Any) -> None:
    ws, _ = workspace
    campaign, _ = await make_campaign(ws, await make_identity(ws), [step(StepType.LINKEDIN_VISIT_PROFILE)])
    await add_leads(ws, campaign, [person(i) for i in range(7)])
    expired = "outbound_scheduler_leases_expired_total"
    before = sample(expired)
    assert len(await scheduler.claim_due_leads(frozen.now(), lease=30)) == 7
    assert sample(expired) == before  # first claims: nothing expired
    later = frozen.now() + timedelta(seconds=31)
    assert len(await scheduler.claim_due_leads(later, lease=30)) == 7
    assert sample(expired) == before + 7


async def _subscribe_stats(url: str, key: str, campaign_id: str) -> Any:
    conn = await connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await conn.send(orjson.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}).decode())
    assert orjson.loads(await asyncio.wait_for(conn.recv(), 10))["type"] == "connection_ack"
    query = "subscription S($id: ID!) { campaignStats(campaignId: $id) { version } }"
    message = {"id": "1", "type": "subscribe", "payload": {"query": query, "variables": {"id": campaign_id}}}
    await conn.send(orjson.dumps(message).decode())
    assert orjson.loads(await asyncio.wait_for(conn.recv(), 10))["type"] == "next"
    return conn


async def test_metrics_count_operations_steps_queue_and_subscribers(
    backend: Backend, workspace: Any, tmp_path: Any
) -> None:
    ws, key = workspace
    env = {"METRICS": "true", "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "OUTBOUND_LEASE_SECONDS": "5"}
    with SmtpSink() as sink:
        env["SMTP_URL"] = sink.url
        # The scheduler in the API; on Redis the steps run in a worker process that shares the directory.
        api = Api(backend, SCHEDULER="true", **env)
        processes: list[Process] = [api] + ([worker(backend, "worker", 2, **env)] if backend.real else [])
        try:
            await api.ready()
            identity = await make_identity(ws, daily_emails=1000)
            campaign, _ = await make_campaign(
                ws,
                identity,
                [step(StepType.LINKEDIN_VISIT_PROFILE), step(StepType.EMAIL, subject="Hi", content="Hello")],
            )
            await add_leads(ws, campaign, [person(i) for i in range(LEADS)])

            async def finished() -> bool:
                return await Lead.filter(campaign_id=campaign.id, status=LeadStatus.FINISHED).count() == LEADS

            await wait_for(finished, seconds=90)
            campaign_gid = to_global_id("Campaign", campaign.id)
            conn = await _subscribe_stats(api.ws_url, key, campaign_gid)
            async with httpx.AsyncClient(base_url=api.base, timeout=10) as http:
                headers = {"Authorization": f"Bearer {key}"}
                query = {"query": "query Ops { campaigns(first: 1) { totalCount } }", "operationName": "Ops"}
                assert (await http.post("/graphql", json=query, headers=headers)).status_code == 200
                bad = {"query": "query Broken { nope }"}
                assert (await http.post("/graphql", json=bad, headers=headers)).status_code == 200
                ready = await http.get("/readyz")
                assert ready.status_code == 200
                assert ready.json()["checks"] == (
                    {"database": "ok", "redis": "ok"} if backend.real else {"database": "ok"}
                )
                scrape = await http.get("/metrics")
            await conn.close()
        finally:
            for process in processes:
                process.kill()
    assert scrape.status_code == 200 and scrape.headers["content-type"].startswith("text/plain")
    found = samples(scrape.text)
    assert total(found, "outbound_graphql_operations_total", operation="Ops", type="query", outcome="ok") == 1
    assert total(found, "outbound_graphql_operations_total", operation="Broken", outcome="error") == 1
    assert total(found, "outbound_graphql_operation_seconds_count", operation="Ops") == 1
    # Counted by the process that ran them (the worker on Redis), added up by the API's scrape.
    assert total(found, "outbound_engine_steps_total", step_type="EMAIL", outcome="done") == LEADS
    assert total(found, "outbound_engine_steps_total", step_type="LINKEDIN_VISIT_PROFILE", outcome="done") == LEADS
    assert total(found, "outbound_engine_step_failures_total") == 0
    assert total(found, "outbound_live_subscribers", kind="stats") == 1
    assert total(found, "outbound_queue_messages", queue="sequences", state="waiting") == 0
    assert ("outbound_queue_messages", (("queue", "sequences"), ("state", "delayed"))) in found
    assert any(name == "outbound_lean_executor_total" for name, _ in found)
    assert any(name == "outbound_scheduler_leases_expired_total" for name, _ in found)


def _processes_with_subscribers(directory: Any) -> set[str]:
    """The pids whose live-gauge file in the multiprocess directory holds open subscriptions."""
    from prometheus_client.mmap_dict import MmapedDict

    pids = set()
    for path in directory.glob("gauge_livesum_*.db"):
        if any(row[1] > 0 for row in MmapedDict.read_all_values_from_file(str(path))):  # (key, value, ...)
            pids.add(path.stem.rsplit("_", 1)[-1])
    return pids


async def test_with_several_api_workers_every_scrape_counts_every_subscriber(
    backend: Backend, workspace: Any, tmp_path: Any
) -> None:
    """`serve --workers 2`: subscribers land on either process; whichever answers the scrape adds up both."""
    ws, key = workspace
    campaign, _ = await make_campaign(ws, await make_identity(ws), [step(StepType.LINKEDIN_VISIT_PROFILE)])
    api = Api(backend, workers=2, METRICS="true", PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    conns = []
    try:
        await api.ready()
        gid = to_global_id("Campaign", campaign.id)
        # Until both processes hold subscribers: the kernel decides who accepts, and /healthz answered as soon
        # as the first process was up (the second may still be booting). Batches opened at once.
        deadline = time.monotonic() + 30
        while len(_processes_with_subscribers(tmp_path)) < 2:
            assert time.monotonic() < deadline, f"all {len(conns)} subscriptions landed on one API process"
            conns += await asyncio.gather(*(_subscribe_stats(api.ws_url, key, gid) for _ in range(4)))
            await asyncio.sleep(0.5)
        opened = len(conns)

        async def scrape() -> float:
            async with httpx.AsyncClient(base_url=api.base, timeout=10) as http:  # a new connection each time
                return total(samples((await http.get("/metrics")).text), "outbound_live_subscribers", kind="stats")

        assert [await scrape() for _ in range(6)] == [opened] * 6
        for conn in conns[2:]:
            await conn.close()

        async def two_left() -> bool:
            return await scrape() == 2

        await wait_for(two_left, seconds=10)
    finally:
        for conn in conns:
            await conn.close()
        api.kill()
