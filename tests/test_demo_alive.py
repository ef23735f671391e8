"""The demo keeps moving on its own, and starts over on request without touching anything else."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.demo import DEMO_WORKSPACE, ensure_demo, seed_demo
from engine import simulator
from models import Activity, Campaign, Contact, Lead, Workspace
from models.enums import ActivityKind, CampaignStatus, LeadStatus, LeadSubstatus, StepType
from tests import factories as f
from tests.conftest import Backend, GraphQLClient
from tests.engine_helpers import assert_counters_match

ROOT = Path(__file__).resolve().parent.parent


async def test_the_demo_keeps_moving_after_its_seeded_leads_would_have_stalled(
    settings: Any, database: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, frozen: Any, pump: Any
) -> None:
    # given a small seeded demo (a day per minute), its clock from now on under the test's control
    monkeypatch.chdir(tmp_path)
    await seed_demo(settings, contacts=40)
    campaign = await Campaign.get(status=CampaignStatus.ACTIVE, workspace__name=DEMO_WORKSPACE)
    waiting_for_tasks = set(
        await Lead.filter(campaign=campaign, substatus=LeadSubstatus.WAITING_FOR_TASK).values_list("id", flat=True)
    )
    assert waiting_for_tasks
    start = datetime.now(UTC)
    frozen.set(start)
    leads_before = await Lead.filter(campaign=campaign).count()

    # when fifteen minutes pass (past the ~eleven after which every seeded lead waited for a task or ended),
    # with the simulator and the engine each taking a turn every 30 seconds, wherever they are started
    for _ in range(30):
        now = frozen.advance(seconds=30)
        await simulator.simulate(now)
        await pump.run(now)

    # then the demo did its own tasks (the seeded ones included), fresh contacts joined and were still
    # starting in the last three minutes, some leads are on their way, and the counters match
    assert await Activity.filter(campaign=campaign, kind=ActivityKind.TASK_COMPLETED).count() >= len(waiting_for_tasks)
    still = await Lead.filter(id__in=waiting_for_tasks, substatus=LeadSubstatus.WAITING_FOR_TASK).count()
    assert still == 0
    assert await Lead.filter(campaign=campaign).count() >= leads_before + 25
    late = Activity.filter(campaign=campaign, occurred_at__gte=start + timedelta(minutes=12))
    assert await late.filter(kind=ActivityKind.PROFILE_VISITED).count() > 0
    moving = Lead.filter(campaign=campaign, status=LeadStatus.IN_PROGRESS).exclude(
        substatus=LeadSubstatus.WAITING_FOR_TASK
    )
    assert await moving.count() > 0
    await assert_counters_match(campaign.id)


async def test_new_contacts_come_now_and_then_not_in_a_flood(
    settings: Any, database: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, frozen: Any
) -> None:
    # given the seeded demo
    monkeypatch.chdir(tmp_path)
    await ensure_demo(settings)
    campaign = await Campaign.get(status=CampaignStatus.ACTIVE, workspace__name=DEMO_WORKSPACE)
    frozen.set(datetime.now(UTC))
    before = await Lead.filter(campaign=campaign).count()

    # when the simulator runs three times within the same second, then once 20 seconds later
    for _ in range(3):
        await simulator.simulate(frozen.now())
    await simulator.simulate(frozen.advance(seconds=25))  # past 8 of the campaign's hours: one more is due

    # then one contact came at once and one more after the interval
    assert await Lead.filter(campaign=campaign).count() == before + 2


async def _demo_cli(backend: Backend, cwd: Path, *args: str, **env: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "server.py"),
        "demo",
        *args,
        cwd=cwd,  # the demo key file is written beside the process, not into the repository
        env={**backend.env(), "DEMO": "true", **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, out.decode()


def _key(out: str) -> str:
    return out.split("Demo API key: ", 1)[1].split()[0]


async def test_demo_reset_starts_the_demo_over_and_leaves_other_workspaces_alone(
    backend: Backend, gql: GraphQLClient, workspace: Any, tmp_path: Path
) -> None:
    # given a workspace of real work beside a demo that has been running
    ws, _ = workspace
    real, _ = await f.campaign(ws, "Real outreach", CampaignStatus.ACTIVE, [StepType.EMAIL])
    await f.leads(real, await f.contacts(ws, 3))
    code, out = await _demo_cli(backend, tmp_path)
    assert code == 0, out
    old_key = _key(out)
    old_demo = await Workspace.get(name=DEMO_WORKSPACE)
    demo_campaign = await Campaign.get(workspace=old_demo, status=CampaignStatus.ACTIVE)
    await Lead.filter(campaign=demo_campaign).update(status=LeadStatus.FINISHED)  # it went quiet

    # when the user runs `make demo-reset` (server.py demo --reset)
    code, out = await _demo_cli(backend, tmp_path, "--reset")

    # then a fresh demo is seeded under a new key (the old one is gone with its workspace), the key file
    # holds the new key, and the other workspace kept every row
    assert code == 0, out
    new_key = _key(out)
    assert new_key != old_key and (tmp_path / "outbound.demo-key").read_text().strip() == new_key
    demo = await Workspace.get(name=DEMO_WORKSPACE)
    assert demo.id != old_demo.id and await Workspace.filter(name=DEMO_WORKSPACE).count() == 1
    fresh = await Campaign.get(workspace=demo, status=CampaignStatus.ACTIVE)
    assert await Lead.filter(campaign=fresh, status=LeadStatus.NOT_STARTED).count() > 0
    assert (await gql.as_key(new_key)("{ viewer { name } }"))["viewer"]["name"] == DEMO_WORKSPACE
    assert (await gql.post("{ viewer { name } }", key=old_key)).status_code == 401
    assert await Workspace.filter(id=ws.id).exists()
    assert await Lead.filter(campaign=real).count() == 3 and await Contact.filter(workspace=ws).count() == 3


async def test_demo_reset_on_postgres_needs_demo_asked_for(
    backend: Backend, gql: GraphQLClient, workspace: Any, tmp_path: Path
) -> None:
    if not backend.real:
        pytest.skip("PostgreSQL only: with the embedded SQLite default the demo is on")
    # given a PostgreSQL database with a demo in it, and DEMO not set
    code, out = await _demo_cli(backend, tmp_path)
    assert code == 0, out
    demo = await Workspace.get(name=DEMO_WORKSPACE)

    # when someone runs the reset against it without DEMO=true
    env = {k: v for k, v in backend.env().items() if k != "DEMO"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "server.py"), "demo", "--reset", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out = (await asyncio.wait_for(proc.communicate(), timeout=60))[0].decode()

    # then it refuses, says how to ask for it, and deletes nothing
    assert proc.returncode == 1 and "DEMO=true" in out, out
    assert await Workspace.filter(id=demo.id).exists()
