"""The server's command line, as an operator runs it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from domain import counters
from engine import runner
from engine.recount import reconcile_flags
from models import Campaign, Lead
from models.enums import CampaignStatus, StepType
from tests import factories as f
from tests.conftest import Backend, GraphQLClient
from tests.engine_helpers import add_leads, assert_counters_match, make_campaign, make_identity, person, step

ROOT = Path(__file__).resolve().parent.parent
EMAIL_SENT = "query($id: ID!) { campaign(id: $id) { stats { email { sent } linkedin { invited } } } }"


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


async def test_reconcile_repairs_lead_flags_from_the_activity_log(
    backend: Backend, gql: GraphQLClient, workspace: Any, frozen: Any
) -> None:
    # given two leads the engine emailed, then flags broken straight in SQL: one lead's em_sent cleared
    # (its EMAIL_SENT stays in the log), another's li_invited set (no invitation was ever logged)
    ws, _ = workspace
    campaign, _ = await make_campaign(ws, await make_identity(ws), [step(StepType.EMAIL, subject="Hi", content="Yo")])
    first, second = await add_leads(ws, campaign, [person(1), person(2)])
    for lead in (first, second):
        assert (await runner.step(lead.id)).what == "done"
    await Lead.filter(id=first.id).update(em_sent=False)
    await Lead.filter(id=second.id).update(li_invited=True)
    assert (await gql(EMAIL_SENT, {"id": f.gid(campaign)}))["campaign"]["stats"]["email"]["sent"] == 2

    # when an operator runs reconcile, twice
    first_code, first_out = await run_cli(backend, "reconcile")
    second_code, second_out = await run_cli(backend, "reconcile")

    # then the first run reports both repairs, the flags follow the log, and the counters equal a recount
    assert first_code == 1, first_out
    assert f"campaign {campaign.id}: repaired lead flags" in first_out, first_out
    assert '"em_sent: false -> true": 1' in first_out and '"li_invited: true -> false": 1' in first_out, first_out
    assert second_code == 0 and "no drift" in second_out, second_out
    assert (await Lead.get(id=first.id)).em_sent and not (await Lead.get(id=second.id)).li_invited
    await assert_counters_match(campaign.id)
    stats = (await gql(EMAIL_SENT, {"id": f.gid(campaign)}))["campaign"]["stats"]
    assert (stats["email"]["sent"], stats["linkedin"]["invited"]) == (2, 0)


async def test_the_flags_of_a_seeded_demo_agree_with_its_log(
    settings: Any, database: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No false repairs: every lead of the demo (every status, a history behind each) already agrees."""
    from domain.demo import ensure_demo

    monkeypatch.chdir(tmp_path)
    await ensure_demo(settings)
    for campaign_id in await Campaign.all().values_list("id", flat=True):
        assert await reconcile_flags(campaign_id) == {}  # type: ignore[arg-type]


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
