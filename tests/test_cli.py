"""The server's command line, as an operator runs it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from domain import counters
from models.enums import CampaignStatus, StepType
from tests import factories as f
from tests.conftest import Backend, GraphQLClient

ROOT = Path(__file__).resolve().parent.parent


async def run_cli(backend: Backend, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "server.py",
        *args,
        cwd=ROOT,
        env=backend.env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, out.decode()


async def test_create_workspace_prints_a_working_key_as_its_last_line(
    backend: Backend, gql: GraphQLClient, database: None
) -> None:
    # when an operator creates a workspace from the command line
    code, out = await run_cli(backend, "create-workspace", "Initech")

    # then the last line is its API key, and that key reads that workspace (and only it)
    assert code == 0, out
    key = out.strip().splitlines()[-1]
    assert key.startswith("ob_")
    data = await gql.as_key(key)("{ viewer { name } campaigns { totalCount } }")
    assert data == {"viewer": {"name": "Initech"}, "campaigns": {"totalCount": 0}}


async def test_reconcile_finds_and_repairs_drift(backend: Backend, gql: GraphQLClient, workspace: Any) -> None:
    # given a campaign of 3 leads whose "total" counter drifted by 5 (as a bug or a bad manual fix would)
    ws, _ = workspace
    campaign, _ = await f.campaign(ws, "Drifted", CampaignStatus.ACTIVE, [StepType.EMAIL])
    await f.leads(campaign, await f.contacts(ws, 3))
    await counters.apply(campaign.id, {"total": 5})
    query = "query($id: ID!) { campaign(id: $id) { stats { allChannels { totalContacts } } } }"
    assert (await gql(query, {"id": f.gid(campaign)}))["campaign"]["stats"]["allChannels"]["totalContacts"] == 8

    # when an operator runs reconcile, twice
    first_code, first_out = await run_cli(backend, "reconcile")
    second_code, second_out = await run_cli(backend, "reconcile")

    # then the first run reports and repairs the drift (exit 1), the second finds none, and stats are right
    assert first_code == 1 and f"campaign {campaign.id}: repaired drift" in first_out, first_out
    assert second_code == 0 and "no drift" in second_out, second_out
    assert (await gql(query, {"id": f.gid(campaign)}))["campaign"]["stats"]["allChannels"]["totalContacts"] == 3


async def _start_logs(backend: Backend, ready: str, *args: str, **env: str) -> str:
    """What a process logs from its start until `ready` appears (then it is stopped)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=ROOT,
        env=backend.env() | env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        async with asyncio.timeout(60):
            while ready not in (line := (await proc.stdout.readline()).decode()):
                assert line, "".join(lines)  # the process ended before it was ready
                lines.append(line)
    finally:
        proc.kill()
        await proc.wait()
    return "".join(lines) + line


async def test_start_logs_say_what_runs_once_and_no_shutdown(backend: Backend, database: None) -> None:
    # when an operator starts the standalone scheduler, and the API with SCHEDULER=false beside it
    scheduler = await _start_logs(backend, "scheduler running", "-m", "tasks.scheduler")
    api = await _start_logs(
        backend, "Outbound ready", "server.py", PORT=str(_free_port()), SCHEDULER="false", LOG_LEVEL="INFO"
    )

    # then neither logs a shutdown while starting, and each says once, truthfully, where the scheduler is
    for out in (scheduler, api):
        assert "Tortoise-ORM shutdown" not in out, out
        assert "scheduler off" not in out, out
    messages = [line.split(": ", 1)[-1] for line in scheduler.splitlines()]  # without the logger's name
    assert sum("scheduler" in message for message in messages) == 1, scheduler
    assert "scheduler elsewhere (SCHEDULER=false)" in api, api


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
