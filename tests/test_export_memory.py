"""A 100,000-lead export streams at constant memory: a real uvicorn serves it, and its resident memory while
it does stays within a fixed bound over what it held before (read from /proc, the server's own process)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from domain.ids import to_global_id
from models import Campaign, SequenceStep
from models.db import db, is_postgres
from models.enums import CampaignStatus, StepType
from models.lead import LEAD_FLAGS
from tests.conftest import Backend
from tests.test_live_subscriptions import Server

LEADS = 100_000
#: What the server may grow by while it streams: one chunk of rows, the CSV being written, the socket's
#: buffer. Holding the 100,000 leads (instances, or just their CSV) would take several times this.
BOUND_MB = 60
CREATED = "2026-11-20 09:00:00+00:00"


async def seed(workspace_id: int, campaign_id: int, step_id: int, n: int) -> int:
    """n contacts and their n leads in two INSERT ... SELECT statements (bulk SQL, as bench/seed.py fills its
    tables); returns the last lead's id."""
    conn = db()
    series = (
        f"generate_series(1, {n}) AS s(i)"
        if is_postgres(conn)
        else f"(WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) SELECT i FROM s) AS s"
    )
    await conn.execute_script(
        'INSERT INTO "contact" ("workspace_id", "first_name", "last_name", "email", "company", "title",'
        ' "linkedin_url", "created_at")'
        f" SELECT {workspace_id}, 'Person' || i, 'Bulk', 'person' || i || '@example.com', 'Company ' || (i % 97),"
        f" 'Founder', 'https://linkedin.com/in/p' || i, '{CREATED}' FROM {series}"
    )
    flags = ", ".join(f'"{flag}"' for flag in LEAD_FLAGS)
    await conn.execute_script(
        'INSERT INTO "lead" ("workspace_id", "campaign_id", "contact_id", "status", "substatus", "positive",'
        ' "current_step_id", "next_action_at", "attempt", "state_version", "connected", "added_at", "started_at",'
        f" {flags})"
        f" SELECT {workspace_id}, {campaign_id}, \"id\", 'IN_PROGRESS', 'SCHEDULED', false, {step_id},"
        f" '{CREATED}', 0, 0, false, '{CREATED}', '{CREATED}', {', '.join('false' for _ in LEAD_FLAGS)}"
        f' FROM "contact" WHERE "workspace_id" = {workspace_id} AND "last_name" = \'Bulk\' ORDER BY "id"'
    )
    if is_postgres(conn):
        await conn.execute_script('ANALYZE "contact", "lead"')  # as autovacuum would after a bulk load
    _, rows = await conn.execute_query('SELECT max("id") FROM "lead" WHERE "campaign_id" = ' + str(campaign_id))
    return int(rows[0][0])


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (its peak), in kB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


def reset_peak(pid: int) -> bool:
    """Start VmHWM over from the current RSS (Linux 4.0+: write 5 to clear_refs), so the peak read later is
    the export's own; False where that is not allowed (the peak then includes startup: a stricter test)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


async def test_a_100k_lead_export_streams_at_constant_memory(backend: Backend, workspace: Any) -> None:
    ws, key = workspace
    campaign = await Campaign.create(workspace=ws, name="Big", status=CampaignStatus.ACTIVE)
    step = await SequenceStep.create(campaign=campaign, position=1, type=StepType.EMAIL, delay_seconds=0)
    started = time.monotonic()
    last_lead = await seed(ws.id, campaign.id, step.id, LEADS)
    seeded = time.monotonic() - started

    server = Server(backend)
    try:
        await server.ready()
        url = f"{server.base}/export/audience.csv"
        params = {"campaignId": to_global_id("Campaign", campaign.id)}
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(timeout=60) as http:
            # Warm up (imports, the key cache, the ORM's first queries): the bound is on the export itself.
            warm = await http.get(url, params={**params, "search": "Person1 Bulk"}, headers=headers)
            assert warm.status_code == 200, warm.text
            before = memory_kb(server.proc.pid)
            exact_peak = reset_peak(server.proc.pid)
            lines = 0
            last = b""
            streaming = time.monotonic()
            async with http.stream("GET", url, params=params, headers=headers) as response:
                assert response.status_code == 200
                async for chunk in response.aiter_bytes():
                    lines += chunk.count(b"\n")
                    last = (last + chunk)[-400:]
            after = memory_kb(server.proc.pid)
            exported = time.monotonic() - streaming
    finally:
        server.stop()
    assert lines == LEADS + 1  # the header and one line per lead
    assert last.decode().splitlines()[-1].startswith(to_global_id("Lead", last_lead) + ",IN_PROGRESS,SCHEDULED,")
    grew_mb = (after["VmHWM"] - before["VmRSS"]) / 1024
    print(f"seeded {LEADS} in {seeded:.1f}s, streamed in {exported:.1f}s, peak growth {grew_mb:.1f} MB ({exact_peak=})")
    assert grew_mb < BOUND_MB, f"the server grew by {grew_mb:.0f} MB while exporting {LEADS} leads"
