"""Across hosts (issue 16 point 5): nothing assumes one machine. Four hosts, each a network namespace
(tests/hostnet.py): two API hosts and two worker hosts. PostgreSQL, Redis and the counting SMTP server run
on the host side, listening on the bridge's address only; a namespace reaches them and its peers by address
and nothing else (asserted first). The scheduler (`python -m tasks.scheduler`) runs once, on api1; both APIs
run with SCHEDULER=false; each worker host runs one `dramatiq tasks --processes 1` (README "Running under
supervision"). Each host has its own PROMETHEUS_MULTIPROC_DIR, as separate machines would.

A 200-lead campaign (an email, then a LinkedIn profile visit) runs to the end with one campaignStats
subscriber per API host, connected from the host side to that namespace's address. At the end: every lead
finished, the SMTP server got each address once, the counters equal a recount, each subscriber's last
snapshot equals `stats`, the unsubscribe link a worker host signed opens on the API host that did not
(one SECRET_KEY, one PUBLIC_URL for every process), and a key revoked through api1 is refused by api2 at
once, which also closes the websocket opened with it (4403).

Runs under `--backend real` only (it starts its own PostgreSQL and Redis, like the fault runs). Without root
or `ip netns` it is skipped outside CI and fails in CI (CI=true or OUTBOUND_REQUIRE_SERVICES=1).
`make test-hosts` runs just this file.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Backend
from tests.fault_harness import LEADS, CountingSmtp, Run, ask, complete_run
from tests.fault_services import PrivatePostgres, PrivateRedis, pg_bin
from tests.hostnet import HostNetwork, unavailable
from tests.processes import Api, scheduler

pytestmark = pytest.mark.timeout(240)

ROLES = ["api1", "api2", "wk1", "wk2"]


def _cannot(reason: str) -> None:
    if os.environ.get("CI") == "true" or os.environ.get("OUTBOUND_REQUIRE_SERVICES") == "1":
        pytest.fail(f"the hosts test cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def network(request: pytest.FixtureRequest) -> Iterator[HostNetwork]:
    if request.config.getoption("--backend") != "real":
        pytest.skip("the hosts test starts its own PostgreSQL and Redis: it runs under --backend real")
    problem = unavailable() or (None if pg_bin() is not None else "no PostgreSQL server binaries (initdb)")
    if problem:
        _cannot(problem)
    net = HostNetwork(ROLES)
    try:
        net.create()
        yield net
    finally:
        net.remove()


async def test_a_campaign_across_two_api_hosts_and_two_worker_hosts(network: HostNetwork, tmp_path: Path) -> None:
    started = time.monotonic()
    side = network.gateway
    pg, redis, smtp = PrivatePostgres(side), PrivateRedis(tmp_path, side), CountingSmtp(host=side)
    runs: list[Run] = []
    try:
        smtp.controller.start()
        pg.start()
        redis.start()
        await pg.create_database()

        # Each namespace reaches the host side by address, and only by address: its 127.0.0.1 is its own.
        for role in ROLES:
            assert network.routes(role) == [
                f"{network.prefix}.0/24 dev eth0 proto kernel scope link src {network.address(role)}"
            ], "a namespace has one route, to the /24 (no default route: nothing else is reachable)"
            assert network.connects(role, side, pg.port), f"{role} does not reach PostgreSQL at {side}"
            assert not network.connects(role, "127.0.0.1", pg.port), f"{role} reaches the host's loopback"

        backend = Backend("real", pg.url, redis.url, f"hosts-{os.getpid()}", tmp_path)
        public_url = f"http://{network.address('api1')}:8000"  # what a load balancer's address would be
        env = {"METRICS": "true", "SMTP_URL": f"smtp://{side}:{smtp.port}", "PUBLIC_URL": public_url}

        def on(role: str) -> dict[str, str]:
            """One metrics directory per host, as on separate machines."""
            metrics = tmp_path / f"metrics-{role}"
            metrics.mkdir(exist_ok=True)
            return env | {"PROMETHEUS_MULTIPROC_DIR": str(metrics)}

        campaign = await ask(["setup", str(LEADS), "visit"], {**backend.env(), **env})
        for role in ("api1", "api2"):
            run = Run(pg, redis, smtp, backend, on(role), campaign=campaign)
            run.api = Api(backend, host=network.address(role), netns=network.netns[role], **on(role))
            run.processes.append(run.api)
            runs.append(run)
        first, second = runs
        for run in runs:
            assert run.api is not None
            await run.api.ready()
            await run.subscribe()  # from the host side, to the namespace's address
        assert network.connects("wk1", network.address("api2"), 8000), "a worker host does not reach its peer"
        first.processes.append(scheduler(backend, netns=network.netns["api1"], **on("api1")))
        first.worker("worker-wk1", netns=network.netns["wk1"], **on("wk1"))
        first.worker("worker-wk2", netns=network.netns["wk2"], **on("wk2"))

        first.observed["fault"] = "hosts"
        facts = await complete_run(first, started)  # every lead finished; each address once; no drift
        stats = await second.snapshot_settles_to_stats()
        assert first.snapshots[-1] == second.snapshots[-1] == stats
        assert stats["email"]["sent"] == LEADS
        assert smtp.count == LEADS and len(smtp.per_recipient) == LEADS, "each address got exactly one email"
        assert facts["profile_visits"] == LEADS and not facts["leads_visited_twice"]

        # A link signed on a worker host opens on the API host that did not sign it.
        links = [re.search(r"<(http[^>]+)>", header) for header in smtp.unsubscribe_headers]
        assert all(link and link[1].startswith(public_url + "/u/") for link in links), smtp.unsubscribe_headers[:3]
        assert second.api is not None
        async with httpx.AsyncClient(timeout=10) as http:
            page = await http.get(second.api.base + links[0][1].removeprefix(public_url))  # type: ignore[index]
        assert page.status_code == 200, page.text

        # A key revoked through api1 stops working on api2 at once (its in-process key cache hears it over
        # Redis; the cache's own age limit is 300 s), and api2 closes the websocket opened with it.
        keys = (await first.gql("{ viewer { apiKeys { id } } }", {}))["viewer"]["apiKeys"]
        revoked = await first.gql(
            "mutation($id: ID!) { revokeApiKey(id: $id) { errors { code } } }", {"id": keys[0]["id"]}
        )
        assert not revoked["revokeApiKey"]["errors"]
        revoked_at = time.monotonic()
        assert await second.closed_with(5) == 4403, "api2 kept the revoked key's websocket open"
        async with httpx.AsyncClient(timeout=10) as http:
            refused = await http.post(
                second.api.base + "/graphql",
                json={"query": "{ viewer { name } }"},
                headers={"Authorization": f"Bearer {campaign['key']}"},
            )
        assert refused.status_code == 401, refused.text
        revocation_seconds = time.monotonic() - revoked_at
        per_host = {role: len(list((tmp_path / f"metrics-{role}").glob("*.db"))) for role in ROLES}
        print(
            f"\nhosts run: {network.prefix}.0/24, {LEADS} leads, {smtp.count} emails to {len(smtp.per_recipient)}"
            f" addresses, {facts['profile_visits']} visits, snapshots api1={len(first.snapshots)}"
            f" api2={len(second.snapshots)}, revocation on api1 seen on api2 in {revocation_seconds:.2f}s,"
            f" metrics files per host {per_host},"
            f" {time.monotonic() - started:.1f}s"
        )
    finally:
        for run in runs:
            await run.close()
        smtp.controller.stop()
        redis.stop()
        pg.remove()
