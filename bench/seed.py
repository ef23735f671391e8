"""Fill a PostgreSQL database with a benchmark-sized workspace, fast: asyncpg COPY, not the API.

    python -m bench.seed --leads 100000 --campaigns 10 --activities 1000000 \
        --database-url postgres://postgres@127.0.0.1:5432/outbound_bench

The database is created if missing (``--recreate`` drops it first). The schema comes from the app's
migrations (models.db.migrate). One workspace (with an API key the server accepts), one identity,
contacts, campaigns with a branching sequence, leads with a realistic status/substatus mix, activities
over 90 days, tasks, and campaign_counter rows computed from the leads with domain.counters.lead_keys
(shard 0, with the "changes" key), so `server.py reconcile` finds no drift.

The key and the ids the workloads need are written as JSON to ``--out`` (and printed).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from domain.counters import CHANGES, lead_keys, task_key
from domain.problems import PROBLEMS
from domain.slots import SHARDS, fill_sql
from models.lead import LEAD_FLAGS
from models.workspace import hash_api_key, new_api_key

#: The leads whose side panel the benchmark opens: each gets exactly PANEL_TIMELINE activities.
PANEL_LEADS = 200
PANEL_TIMELINE = 30
DAYS = 90
ENGINE_IDENTITY = 2

FIRST = ["Ada", "Alan", "Grace", "Linus", "Barbara", "Ken", "Margaret", "Dennis", "Frances", "John", "Radia", "Tim"]
LAST = ["Lovelace", "Turing", "Hopper", "Torvalds", "Liskov", "Thompson", "Hamilton", "Ritchie", "Allen", "Perlman"]
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Tyrell", "Cyberdyne"]
TITLES = ["CTO", "VP Sales", "Head of Growth", "Engineer", "Founder", "CEO", "Product Manager", "Designer"]


@dataclass
class SeedInfo:
    """What the workloads need to know about a seeded database."""

    database_url: str
    api_key: str
    workspace_id: int
    campaign_ids: list[int]
    #: The campaign the workloads read (the first one).
    campaign_id: int
    leads: int
    leads_per_campaign: list[int]
    activities: int
    panel_lead_ids: list[int]
    #: The campaign the engine workload runs (its identity is always in working hours, with no caps).
    engine_campaign_id: int = 0
    seconds: float = 0.0
    step_ids: list[int] = field(default_factory=list)


# ------------------------------------------------------------------------------------------ the sequence

# (position, type, parent position, branch, delay days, extras). Depth-first order, as the API stores it.
SEQUENCE: list[tuple[int, str, int | None, str, int, dict[str, Any]]] = [
    (1, "LINKEDIN_VISIT_PROFILE", None, "MAIN", 0, {}),
    (2, "LINKEDIN_CONNECTION", None, "MAIN", 1, {"wait_for_acceptance_days": 14, "content": "Hi {{firstName}}"}),
    (3, "LINKEDIN_MESSAGE", 2, "ACCEPTED", 1, {"content": "Thanks for connecting, {{firstName}}!"}),
    (4, "CONDITION", 2, "NOT_ACCEPTED", 0, {"condition": "HAS_EMAIL"}),
    (5, "EMAIL", 4, "ON_TRUE", 0, {"subject": "Quick question", "content": "Hello {{firstName}} at {{company}}"}),
    (6, "TASK", 4, "ON_FALSE", 0, {"task_type": "CALL", "title": "Call {{firstName}}"}),
    (7, "EMAIL", None, "MAIN", 3, {"subject": "Following up", "content": "Any thoughts, {{firstName}}?"}),
    (8, "END", None, "MAIN", 0, {}),
]
CHANNEL = {
    "LINKEDIN_VISIT_PROFILE": "LINKEDIN",
    "LINKEDIN_CONNECTION": "LINKEDIN",
    "LINKEDIN_MESSAGE": "LINKEDIN",
    "EMAIL": "EMAIL",
    "TASK": "TASK",
}

# ---------------------------------------------------------------------------------------- lead profiles

# (weight, status, substatus, step position or None, flags). A lead is one of these, plus positive/removed.
PROFILES: list[tuple[float, str, str | None, int | None, tuple[str, ...]]] = [
    (20, "NOT_STARTED", None, None, ()),
    (14, "IN_PROGRESS", "SCHEDULED", 2, ("li_engaged",)),
    (10, "IN_PROGRESS", "WAITING_TO_CONNECT", 2, ("li_engaged", "li_invited")),
    (3, "IN_PROGRESS", "IDENTITY_LIMITS", 3, ("li_engaged", "li_invited", "li_accepted")),
    (3, "IN_PROGRESS", "OUTSIDE_WORKING_HOURS", 7, ("li_engaged", "li_invited", "contacted", "em_sent")),
    (2, "IN_PROGRESS", "WAITING_FOR_TASK", 6, ("li_engaged", "li_invited")),
    (1, "IN_PROGRESS", "CONNECTION_WITHDRAWN", 4, ("li_engaged", "li_invited")),
    (1, "IN_PROGRESS", "MONTHLY_CONVERSATION_LIMIT", 3, ("li_engaged", "li_invited", "li_accepted")),
    (2, "PAUSED", "PAUSED_MANUALLY", 2, ("li_engaged",)),
    (3, "PAUSED", "CAMPAIGN_PAUSED", 3, ("li_engaged", "li_invited", "li_accepted")),
    (2, "ERROR", "MISSING_CONTACT_EMAIL", 5, ("li_engaged", "li_invited")),
    (1, "ERROR", "LINKEDIN_DISCONNECTED", 2, ("li_engaged",)),
    (1, "ERROR", "SYSTEM_ERROR", 7, ("li_engaged", "li_invited", "li_accepted", "li_contacted", "contacted")),
    (1, "ERROR", "LEAD_NOT_SCRAPED", 1, ()),
    (
        15,
        "FINISHED",
        "COMPLETED",
        8,
        ("li_engaged", "li_invited", "li_accepted", "li_contacted", "contacted", "em_sent"),
    ),
    (3, "FINISHED", "BOUNCED", 5, ("li_engaged", "li_invited", "contacted", "em_sent", "em_bounced")),
    (2, "FINISHED", "NOT_CONNECTED", 3, ("li_engaged", "li_invited")),
    (
        1,
        "FINISHED",
        "OUT_OF_OFFICE",
        7,
        ("li_engaged", "li_invited", "li_accepted", "li_contacted", "contacted", "em_sent"),
    ),
    (1, "FINISHED", "BLOCKED", 3, ("li_engaged", "li_invited", "li_accepted", "li_contacted", "contacted")),
    (
        6,
        "REPLIED",
        None,
        3,
        ("li_engaged", "li_invited", "li_accepted", "li_contacted", "contacted", "replied", "li_replied"),
    ),
    (
        4,
        "REPLIED",
        None,
        7,
        ("li_engaged", "li_invited", "contacted", "em_sent", "em_clicked", "replied", "em_replied"),
    ),
]
ERROR_TEXT = {substatus.value: text for substatus, text in PROBLEMS.items()}
FLAGS = LEAD_FLAGS
# Activity kinds by the step that produced them, and inbound ones (no step).
KIND_BY_STEP = {
    1: "PROFILE_VISITED",
    2: "INVITATION_SENT",
    3: "LINKEDIN_MESSAGE_SENT",
    5: "EMAIL_SENT",
    6: "TASK_CREATED",
    7: "EMAIL_SENT",
}
INBOUND = [
    ("INVITATION_ACCEPTED", "LINKEDIN"),
    ("REPLY_RECEIVED", "LINKEDIN"),
    ("EMAIL_CLICKED", "EMAIL"),
    ("REPLY_RECEIVED", "EMAIL"),
]


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _asyncpg_dsn(url: str) -> str:
    for prefix in ("asyncpg://", "postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql://" + url.removeprefix(prefix)
    return url


def check_database_name(name: str) -> None:
    """The harness only ever creates or drops its own databases."""
    if name == "test" or name.startswith("outbound_test") or not name.startswith("outbound_bench"):
        raise SystemExit(f"refusing to touch database {name!r}: bench databases are named outbound_bench*")


async def create_database(url: str, *, recreate: bool) -> None:
    name = database_name(url)
    check_database_name(name)
    admin = await asyncpg.connect(_asyncpg_dsn(with_database(url, "postgres")))
    try:
        if recreate:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


async def drop_database(url: str) -> None:
    name = database_name(url)
    check_database_name(name)
    admin = await asyncpg.connect(_asyncpg_dsn(with_database(url, "postgres")))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def migrate(url: str) -> None:
    from models.db import migrate as run_migrations

    await run_migrations(url)


class Copier:
    """COPY rows given as dicts: columns come from the table, so every NOT NULL column must be given."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.columns: dict[str, list[str]] = {}

    async def cols(self, table: str) -> list[str]:
        if table not in self.columns:
            rows = await self.conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name = $1 AND table_schema = 'public'"
                " ORDER BY ordinal_position",
                table,
            )
            self.columns[table] = [r["column_name"] for r in rows]
        return self.columns[table]

    async def copy(self, table: str, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        cols = await self.cols(table)
        # A column the rows leave out takes the model's default: most are Python-side (no DB DEFAULT), so
        # a column added to a model later would otherwise fail the COPY as NOT NULL.
        defaults = {c: v for c, v in _model_defaults(table).items() if c in cols and c not in rows[0]}
        given = [c for c in cols if c in rows[0]] + list(defaults)
        records = [tuple(row.get(c) for c in given if c in row) + tuple(defaults.values()) for row in rows]
        await self.conn.copy_records_to_table(table, records=records, columns=given)


def _model_defaults(table: str) -> dict[str, Any]:
    """{column: default} of the model stored in `table`: its fields' constant defaults, enums as values."""
    import models

    for name in models.__all__:
        model = getattr(models, name)
        meta = getattr(model, "_meta", None)
        if meta is None or meta.db_table != table:
            continue
        out = {}
        for field_name, model_field in meta.fields_map.items():
            default = model_field.default
            if field_name in meta.fields_db_projection and default is not None and not callable(default):
                out[meta.fields_db_projection[field_name]] = getattr(default, "value", default)
        return out
    return {}


async def _drop_secondary_indexes(conn: asyncpg.Connection, tables: list[str]) -> list[str]:
    """Drop plain (non-constraint) indexes before the bulk load; returns their definitions to recreate."""
    rows = await conn.fetch(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public' AND i.tablename = ANY($1)"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
        tables,
    )
    for row in rows:
        await conn.execute(f'DROP INDEX IF EXISTS "{row["indexname"]}"')
    return [row["indexdef"] for row in rows]


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


async def seed(
    database_url: str,
    *,
    leads: int,
    campaigns: int,
    activities: int,
    recreate: bool = True,
    seed_value: int = 7,
    log: Any = print,
) -> SeedInfo:
    """Create (or recreate) the database, migrate it and fill it. Returns what the workloads need."""
    started = time.perf_counter()
    rng = random.Random(seed_value)
    await create_database(database_url, recreate=recreate)
    await migrate(database_url)
    conn = await asyncpg.connect(_asyncpg_dsn(database_url))
    try:
        if await conn.fetchval("SELECT count(*) FROM workspace"):
            raise SystemExit("database is not empty: pass --recreate")
        # Foreign keys are triggers: skip them during the load (the generator keeps them consistent).
        await conn.execute("SET session_replication_role = replica")
        await conn.execute("SET synchronous_commit = off")
        copier = Copier(conn)
        now = datetime.now(UTC).replace(microsecond=0)
        info = await _fill(conn, copier, rng, now, database_url, leads, campaigns, activities, log)
        await conn.execute("SET session_replication_role = DEFAULT")
        t = time.perf_counter()
        await conn.execute("ANALYZE")
        log(f"  analyze {time.perf_counter() - t:.1f}s")
    finally:
        await conn.close()
    info.seconds = round(time.perf_counter() - started, 2)
    return info


async def _fill(
    conn: asyncpg.Connection,
    copier: Copier,
    rng: random.Random,
    now: datetime,
    database_url: str,
    n_leads: int,
    n_campaigns: int,
    n_activities: int,
    log: Any,
) -> SeedInfo:
    t0 = time.perf_counter()
    dropped = await _drop_secondary_indexes(conn, ["lead", "activity", "contact", "task"])
    # Workspace, key, identity.
    key = new_api_key()
    await copier.copy("workspace", [{"id": 1, "name": "Bench workspace", "created_at": now - timedelta(days=DAYS)}])
    await copier.copy(
        "api_key",
        [
            {
                "id": 1,
                "workspace_id": 1,
                "key_hash": hash_api_key(key),
                "prefix": key[:12],
                "created_at": now,
                "revoked_at": None,
            }
        ],
    )
    await copier.copy(
        "identity",
        [
            {
                "id": 1,
                "workspace_id": 1,
                "name": "Bench sender",
                "linkedin_url": "https://linkedin.com/in/bench",
                "linkedin_connected": True,
                "email_address": "sender@bench.example",
                "email_connected": True,
                "timezone": "UTC",
                "work_days": 0b0011111,
                "work_start": "09:00",
                "work_end": "18:00",
                "daily_connection_requests": 20,
                "daily_linkedin_messages": 100,
                "daily_emails": 30,
                "monthly_conversations": 300,
                "inmail_credits": 20,
                "created_at": now - timedelta(days=DAYS),
            },
            {
                # The engine workload's sender: always in working hours, no caps worth the name, so the
                # benchmark measures the engine and not the identity's limits or the time of day.
                "id": ENGINE_IDENTITY,
                "workspace_id": 1,
                "name": "Bench engine sender (24/7, no caps)",
                "linkedin_url": "https://linkedin.com/in/bench-engine",
                "linkedin_connected": True,
                "email_address": "engine@bench.example",
                "email_connected": True,
                "timezone": "UTC",
                "work_days": 0b1111111,
                "work_start": "00:00",
                "work_end": "24:00",
                "daily_connection_requests": 1_000_000_000,
                "daily_linkedin_messages": 1_000_000_000,
                "daily_emails": 1_000_000_000,
                "monthly_conversations": 1_000_000_000,
                "inmail_credits": 1_000_000_000,
                "created_at": now - timedelta(days=DAYS),
            },
        ],
    )

    # Campaigns and their sequences.
    campaign_rows, step_rows = [], []
    engine_campaign = min(3, n_campaigns)
    step_id = {}  # (campaign index, position) -> id
    for c in range(n_campaigns):
        cid = c + 1
        created = now - timedelta(days=DAYS + 1)
        campaign_rows.append(
            {
                "id": cid,
                "workspace_id": 1,
                "name": f"Bench campaign {cid}",
                "status": "ACTIVE",
                "identity_id": ENGINE_IDENTITY if cid == engine_campaign else 1,
                "created_at": created,
                "launched_at": created,
                "paused_at": None,
                "archived_at": None,
                "duplicated_from_id": None,
                "time_scale": 1.0,
            }
        )
        for position, typ, parent, branch, delay_days, extra in SEQUENCE:
            sid = c * len(SEQUENCE) + position
            step_id[(c, position)] = sid
            step_rows.append(
                {
                    "id": sid,
                    "campaign_id": cid,
                    "position": position,
                    "type": typ,
                    "parent_id": step_id[(c, parent)] if parent else None,
                    "branch": branch,
                    "delay_seconds": delay_days * 86400,
                    "subject": extra.get("subject"),
                    "content": extra.get("content"),
                    "condition": extra.get("condition"),
                    "wait_for_acceptance_days": extra.get("wait_for_acceptance_days"),
                    "task_type": extra.get("task_type"),
                    "title": extra.get("title"),
                    "ai_variables": "[]",
                }
            )
    await copier.copy("campaign", campaign_rows)
    await copier.copy("sequence_step", step_rows)

    # Contacts: enough that every campaign's leads are distinct contacts.
    per_campaign = _split(n_leads, n_campaigns)
    n_contacts = max(max(per_campaign), n_leads // 2, 1)
    contact_rows = []
    created = now - timedelta(days=DAYS + 2)
    for i in range(1, n_contacts + 1):
        first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
        has_email = i % 10 != 0
        contact_rows.append(
            {
                "id": i,
                "workspace_id": 1,
                "first_name": first,
                "last_name": f"{last}{i}",
                "email": f"{first.lower()}.{i}@example.com" if has_email else None,
                "linkedin_url": f"https://linkedin.com/in/c{i}" if i % 17 else None,
                "company": COMPANIES[i % len(COMPANIES)],
                "title": TITLES[i % len(TITLES)],
                "created_at": created,
            }
        )
    await _copy_chunks(copier, "contact", contact_rows)
    del contact_rows
    log(f"  workspace, {n_campaigns} campaigns, {n_contacts} contacts {time.perf_counter() - t0:.1f}s")

    # Leads, their counters and tasks.
    t1 = time.perf_counter()
    weights = [p[0] for p in PROFILES]
    keys_cache: dict[tuple[Any, ...], Counter[str]] = {}
    lead_id = 0
    task_id = 0
    counters: list[Counter[str]] = []
    started_leads: list[list[tuple[int, int, datetime]]] = []  # per campaign: (lead id, contact id, started_at)
    panel: list[int] = []
    batch: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    for c, count in enumerate(per_campaign):
        cid = c + 1
        totals: Counter[str] = Counter()
        started_here: list[tuple[int, int, datetime]] = []
        offset = rng.randrange(n_contacts)
        profiles = rng.choices(PROFILES, weights=weights, k=count)
        for i in range(count):
            lead_id += 1
            _, status, substatus, position, flags = profiles[i]
            removed = rng.random() < 0.01 and i >= PANEL_LEADS
            positive = status == "REPLIED" and rng.random() < 0.4
            contact_id = (offset + i) % n_contacts + 1
            added = now - timedelta(days=DAYS, seconds=rng.randrange(86400))
            started_at = added + timedelta(hours=rng.randrange(1, 48)) if status != "NOT_STARTED" else None
            row: dict[str, Any] = {
                "id": lead_id,
                "workspace_id": 1,
                "campaign_id": cid,
                "contact_id": contact_id,
                "status": status,
                "substatus": substatus,
                "positive": positive,
                "current_step_id": step_id[(c, position)] if position else None,
                "next_action_at": now + timedelta(seconds=rng.randrange(1, 7 * 86400))
                if status in ("NOT_STARTED", "IN_PROGRESS")
                else None,
                "last_action_at": started_at,
                "claimed_until": None,
                "attempt": 0,
                "state_version": 1,
                "paused_state": None,
                "connected": "li_accepted" in flags,
                "invitation_sent_at": started_at if "li_invited" in flags else None,
                "last_channel": ("EMAIL" if "em_sent" in flags else "LINKEDIN") if "contacted" in flags else None,
                "error_message": ERROR_TEXT.get(substatus or "", (None, None))[0] if status == "ERROR" else None,
                "error_hint": ERROR_TEXT.get(substatus or "", (None, None))[1] if status == "ERROR" else None,
                "error_at": started_at if status == "ERROR" else None,
                "added_at": added,
                "started_at": started_at,
                "finished_at": now - timedelta(days=rng.randrange(0, 30)) if status == "FINISHED" else None,
                "replied_at": now - timedelta(days=rng.randrange(0, 30)) if status == "REPLIED" else None,
                "removed_at": now - timedelta(days=1) if removed else None,
            }
            for flag in FLAGS:
                row[flag] = flag in flags
            if status == "PAUSED" and substatus == "CAMPAIGN_PAUSED":
                row["paused_state"] = json.dumps(
                    {"status": "IN_PROGRESS", "substatus": "SCHEDULED", "next_action_at": None}
                )
            cache_key = (status, substatus, row["current_step_id"], started_at is not None, positive, removed, flags)
            keys = keys_cache.get(cache_key)
            if keys is None:
                keys = keys_cache[cache_key] = lead_keys(row)
            totals.update(keys)
            if started_at is not None:
                started_here.append((lead_id, contact_id, started_at))
                if c == 0 and len(panel) < PANEL_LEADS and not removed:
                    panel.append(lead_id)
            # Tasks: a pending one for leads waiting on the TASK step, a completed one for some finished.
            task_status = None
            if substatus == "WAITING_FOR_TASK":
                task_status = "PENDING"
            elif status == "FINISHED" and rng.random() < 0.1:
                task_status = "COMPLETED"
            if task_status:
                task_id += 1
                tasks.append(
                    {
                        "id": task_id,
                        "workspace_id": 1,
                        "campaign_id": cid,
                        "lead_id": lead_id,
                        "step_id": step_id[(c, 6)],
                        "type": "CALL",
                        "title": f"Call lead {lead_id}",
                        "note": None,
                        "status": task_status,
                        "due_at": now + timedelta(days=1),
                        "completed_at": now - timedelta(days=1) if task_status == "COMPLETED" else None,
                        "created_at": started_at or now,
                        "dedupe_key": f"{lead_id}:{step_id[(c, 6)]}:0",
                    }
                )
                if not removed:
                    totals[task_key(task_status)] += 1
            batch.append(row)
            if len(batch) >= 50_000:
                await copier.copy("lead", batch)
                batch = []
        counters.append(totals)
        started_leads.append(started_here)
    await copier.copy("lead", batch)
    batch = []
    await _copy_chunks(copier, "task", tasks)
    counter_rows = []
    counter_id = 0
    for c, totals in enumerate(counters):
        for key_name, value in sorted({**totals, CHANGES: 1}.items()):
            if value:
                counter_id += 1
                counter_rows.append(
                    {
                        "id": counter_id,
                        "campaign_id": c + 1,
                        "shard": 0,
                        "key": key_name,
                        "value": value,
                        "updated_at": now,
                    }
                )
    await copier.copy("campaign_counter", counter_rows)
    log(f"  {n_leads} leads, {task_id} tasks, {counter_id} counters {time.perf_counter() - t1:.1f}s")

    # Activities: the panel leads get exactly PANEL_TIMELINE each, the rest go to random started leads.
    t2 = time.perf_counter()
    act_id = 0
    act_batch: list[dict[str, Any]] = []
    span = DAYS * 86400

    async def add(cid: int, c: int, lid: int, contact: int, when: datetime, dedupe: str | None) -> None:
        nonlocal act_id, act_batch
        act_id += 1
        if rng.random() < 0.8:
            position = rng.choice((1, 2, 2, 3, 5, 6, 7))
            kind, channel, sid = KIND_BY_STEP[position], CHANNEL[SEQUENCE[position - 1][1]], step_id[(c, position)]
        else:
            (kind, channel), sid = rng.choice(INBOUND), None
        act_batch.append(
            {
                "id": act_id,
                "workspace_id": 1,
                "campaign_id": cid,
                "lead_id": lid,
                "contact_id": contact,
                "step_id": sid,
                "kind": kind,
                "channel": channel,
                "occurred_at": when,
                "detail": None,
                "external_id": None,
                "dedupe_key": dedupe,
            }
        )
        if len(act_batch) >= 50_000:
            await copier.copy("activity", act_batch)
            act_batch = []

    panel_set = set(panel)
    for lid, contact, _started_at in started_leads[0] if started_leads else []:
        if lid in panel_set:
            for k in range(PANEL_TIMELINE):
                when = now - timedelta(seconds=rng.randrange(span))
                await add(1, 0, lid, contact, when, f"{lid}:panel:{k}")
    rest = max(n_activities - act_id, 0)
    shares = _split(rest, max(len(started_leads), 1))
    for c, share in enumerate(shares):
        pool = [x for x in started_leads[c] if x[0] not in panel_set] if c < len(started_leads) else []
        if not pool:
            continue
        for _ in range(share):
            lid, contact, _started = pool[rng.randrange(len(pool))]
            await add(c + 1, c, lid, contact, now - timedelta(seconds=rng.randrange(span)), None)
    await copier.copy("activity", act_batch)
    log(f"  {act_id} activities {time.perf_counter() - t2:.1f}s")

    # Sequences follow the explicit ids; recreate the dropped indexes.
    for table in (
        "workspace",
        "api_key",
        "identity",
        "campaign",
        "sequence_step",
        "contact",
        "lead",
        "task",
        "activity",
        "campaign_counter",
    ):
        await conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT MAX(id) FROM {table}), 1))"
        )
    t3 = time.perf_counter()
    await conn.execute("SET maintenance_work_mem = '256MB'")
    for definition in dropped:
        await conn.execute(definition)
    log(f"  {len(dropped)} indexes rebuilt {time.perf_counter() - t3:.1f}s")
    # Campaign.series' slots (domain/slots.py), which record_activity keeps and this COPY bypassed: spread over
    # the shards as the live writers leave an open slot (the lead's counter shard).
    t4 = time.perf_counter()
    await conn.execute(fill_sql(True, shards=SHARDS))
    log(f"  series slots {time.perf_counter() - t4:.1f}s")
    return SeedInfo(
        database_url=database_url,
        api_key=key,
        workspace_id=1,
        campaign_ids=[c + 1 for c in range(n_campaigns)],
        campaign_id=1,
        leads=n_leads,
        leads_per_campaign=per_campaign,
        activities=act_id,
        panel_lead_ids=panel,
        engine_campaign_id=engine_campaign,
        step_ids=[step_id[(0, p[0])] for p in SEQUENCE],
    )


#: The engine workload's sequence (the issue's "3 steps, zero delays"): a visit, then two emails, then done.
ENGINE_SEQUENCE: list[tuple[str, str | None, str | None]] = [
    ("LINKEDIN_VISIT_PROFILE", None, None),
    ("EMAIL", "Hello {{firstName}}", "Hello {{firstName}} at {{company}}"),
    ("EMAIL", "Following up", "Any thoughts, {{firstName}}?"),
]


async def add_engine_campaign(database_url: str, leads: int) -> int:
    """A campaign of `leads` NOT_STARTED leads, all due now, on ENGINE_SEQUENCE (zero delays), sent by the
    24/7 sender without caps, with its counters: what the engine workload runs. Returns its id.

    Its contacts are existing ones with an email address, so every lead runs every step (sandbox channels).
    """
    conn = await asyncpg.connect(_asyncpg_dsn(database_url))
    try:
        async with conn.transaction():
            now = datetime.now(UTC)
            cid = await conn.fetchval("SELECT COALESCE(MAX(id), 0) + 1 FROM campaign")
            await conn.execute(
                "INSERT INTO campaign (id, workspace_id, name, status, identity_id, created_at, launched_at,"
                " time_scale, track_clicks) VALUES ($1, 1, $2, 'ACTIVE', $3, $4, $4, 1.0, true)",
                cid,
                f"Bench engine campaign ({leads} leads x {len(ENGINE_SEQUENCE)} steps)",
                ENGINE_IDENTITY,
                now,
            )
            first_step = await conn.fetchval("SELECT COALESCE(MAX(id), 0) + 1 FROM sequence_step")
            for i, (typ, subject, content) in enumerate(ENGINE_SEQUENCE):
                await conn.execute(
                    "INSERT INTO sequence_step (id, campaign_id, position, type, branch, delay_seconds, subject,"
                    " content, ai_variables) VALUES ($1, $2, $3, $4, 'MAIN', 0, $5, $6, '[]')",
                    first_step + i,
                    cid,
                    i + 1,
                    typ,
                    subject,
                    content,
                )
            first_lead = await conn.fetchval("SELECT COALESCE(MAX(id), 0) + 1 FROM lead")
            flags = ", ".join(FLAGS)
            made = await conn.execute(
                f"INSERT INTO lead (id, workspace_id, campaign_id, contact_id, status, positive, attempt,"
                f" state_version, added_at, next_action_at, connected, {flags})"
                f" SELECT $1 + row_number() OVER (ORDER BY id) - 1, 1, $2, id, 'NOT_STARTED', false, 0, 0, $3, $3,"
                " false,"
                f" {', '.join('false' for _ in FLAGS)}"
                " FROM contact WHERE workspace_id = 1 AND email IS NOT NULL ORDER BY id LIMIT $4",
                first_lead,
                cid,
                now,
                leads,
            )
            made_leads = int(made.split()[-1])
            if made_leads < leads:
                raise RuntimeError(f"only {made_leads} contacts with an email for {leads} engine leads")
            keys = lead_keys(
                {
                    "status": "NOT_STARTED",
                    "substatus": None,
                    "current_step_id": None,
                    "started_at": None,
                    "removed_at": None,
                    "positive": False,
                    **dict.fromkeys(FLAGS, False),
                }
            )
            first_counter = await conn.fetchval("SELECT COALESCE(MAX(id), 0) + 1 FROM campaign_counter")
            for i, (key_name, per_lead) in enumerate(sorted({**keys, CHANGES: 0}.items())):
                await conn.execute(
                    "INSERT INTO campaign_counter (id, campaign_id, shard, key, value, updated_at)"
                    " VALUES ($1, $2, 0, $3, $4, $5)",
                    first_counter + i,
                    cid,
                    key_name,
                    per_lead * leads if key_name != CHANGES else 1,
                    now,
                )
        return cid
    finally:
        await conn.close()


async def _copy_chunks(copier: Copier, table: str, rows: list[dict[str, Any]], size: int = 50_000) -> None:
    for start in range(0, len(rows), size):
        await copier.copy(table, rows[start : start + size])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.seed", description=__doc__.split("\n")[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--campaigns", type=int, default=10)
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/outbound_bench")
    parser.add_argument("--no-recreate", action="store_true", help="fail instead of dropping an existing database")
    parser.add_argument("--out", help="write the seed info (API key, ids) as JSON here")
    args = parser.parse_args(argv)
    info = asyncio.run(
        seed(
            args.database_url,
            leads=args.leads,
            campaigns=args.campaigns,
            activities=args.activities,
            recreate=not args.no_recreate,
        )
    )
    text = json.dumps({k: v for k, v in asdict(info).items() if k != "panel_lead_ids"}, indent=2)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(asdict(info), f, indent=2)
    print(text)
    print(f"seeded in {info.seconds}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
