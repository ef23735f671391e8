"""Sending webhook deliveries: one attempt at a time, its schedule kept in the delivery row.

An attempt (the `webhooks.deliver` job, tasks/webhooks.py) resolves and checks the URL again
(domain/webhook_urls.py), connects to the checked address, POSTs the body signed per Standard Webhooks and
waits at most ATTEMPT_TIMEOUT seconds; redirects are not followed. Every attempt is recorded in the row
(attempts, response status, last attempt, its `log`); a failure (non-2xx, no answer in time, no
connection) sets `next_attempt_at` by RETRY_DELAYS, and after the last one the delivery is FAILED. A URL
that now resolves to a refused address fails the delivery at once: retrying would not make it safe.

The scheduler tick claims due deliveries (`send_due`: a conditional UPDATE that sets a lease) and hands
them to workers, so a long wait is a timestamp in the row, never a delayed broker message, and a broker
restart loses nothing. It never claims a delivery while an older one of the same lead to the same webhook
is pending: a receiver that was down gets each lead's events in order.

Deliveries to one slow receiver never delay another's: a webhook has at most `per_receiver()`
(WEBHOOK_CONCURRENCY_PER_RECEIVER, 4) deliveries in flight (PENDING with a lease in the future), so a
receiver answering in 10 s holds at most that many of the webhook workers' threads, whatever its backlog.
`claim_due` ranks each webhook's due deliveries (ROW_NUMBER per webhook, oldest first) and takes the first
(cap - in flight); the outbox's write claims at once only under the cap too (domain/webhooks.py); and an
attempt that ends claims its webhook's next due ones at once (`_hand_on`), so a backlog drains at the
receiver's own pace, not one tick's worth at a time; it does so only when its own completing UPDATE saw
one waiting (`_record` returns it), so under the cap an attempt pays no claim statement. The receiver is
the webhook, not its host: webhooks of different customers on one host (a CRM's shared ingest) must not
throttle each other, and a host behind k webhooks still gets at most k x cap. On PostgreSQL a claimer
first locks the webhooks' rows (SKIP LOCKED), so concurrent schedulers and workers never take the same
webhook's slots twice.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import ssl
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from standardwebhooks.webhooks import Webhook as Signer
from tortoise.backends.base.client import BaseDBAsyncClient

from domain import webhook_urls
from domain.tx import deliver, transaction
from domain.webhooks import LEASE_SECONDS, SendWebhooks, allow_private, per_receiver
from models import Webhook, WebhookDelivery
from models.sql import db, fetch, is_postgres, placeholders
from models.webhook import WebhookDeliveryStatus

log = logging.getLogger("outbound.webhooks")

#: Seconds to wait after failed attempt n (1-based) before attempt n + 1: about 5 s, 30 s, 2 min, 15 min,
#: 1 h, then every few hours; 11 attempts over about 28 hours, then FAILED.
RETRY_DELAYS = (5, 30, 120, 900, 3600, 3 * 3600, 6 * 3600, 6 * 3600, 6 * 3600, 6 * 3600)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
ATTEMPT_TIMEOUT = 10.0
BATCH = 200
PENDING, SUCCEEDED, FAILED = (s.value for s in WebhookDeliveryStatus)
USER_AGENT = "Outbound-Webhooks/1"


#: In the completing UPDATE's RETURNING: does another delivery of its webhook wait (due, not claimed)? Read by
#: the (status, next_attempt_at) index; the row itself is left out (its old version is the one a PostgreSQL
#: snapshot sees). A row held back behind an older one of its lead counts too: a hand-on in vain, never one
#: missed.
_WAITING = (
    "EXISTS (SELECT 1 FROM webhook_delivery d WHERE d.webhook_id = :hook AND d.id <> :id AND "
    + "d.status = :pending AND d.next_attempt_at <= :now AND (d.claimed_until IS NULL OR d.claimed_until <= :now)"
    + ") AS waiting"
)
#: A delivery that may be attempted now: pending, due, and not claimed by a live lease (`{t}`: its table).
_DUE = (
    "{t}.status = :pending AND {t}.next_attempt_at <= :now"
    " AND ({t}.claimed_until IS NULL OR {t}.claimed_until <= :now)"
)


async def claim_due(now: datetime, limit: int = BATCH, webhook_id: int | None = None) -> list[int]:
    """Claim up to `limit` due deliveries of enabled webhooks (or of `webhook_id` only): the oldest of each
    (webhook, lead) only, and per webhook no more than `per_receiver()` in flight, counting those claimed
    before (PENDING with a lease in the future).

    PostgreSQL: first lock the webhooks that have something due (`FOR NO KEY UPDATE SKIP LOCKED`, which an
    insert's foreign-key check does not wait for), then claim for those in a second statement, so its
    snapshot counts every claim committed by whoever held a webhook before. One statement alone could not
    be exact: its snapshot predates any lock it takes, so two claimers at once (schedulers, workers handing
    on) would each see the other's slots free. A webhook another claimer holds is skipped, never waited for.
    SQLite: one statement; its statements run one at a time on the one connection."""
    conn = db()
    if not is_postgres(conn):
        return await (_claim(conn, now, limit) if webhook_id is None else _claim_one(conn, now, limit, webhook_id))
    async with transaction() as conn:
        sql, values = _bind(
            conn,
            "SELECT w.id FROM webhook w WHERE w.enabled = :yes"
            + (" AND w.id = :hook" if webhook_id else "")
            + " AND EXISTS (SELECT 1 FROM webhook_delivery d WHERE d.webhook_id = w.id AND "
            + _DUE.format(t="d")
            + ") ORDER BY w.id FOR NO KEY UPDATE OF w SKIP LOCKED",
            {"yes": True, "hook": webhook_id, "pending": PENDING, "now": now},
        )
        hooks = [int(row["id"]) for row in await fetch(conn, sql, values)]
        if not hooks:
            return []
        return await (_claim(conn, now, limit, hooks) if webhook_id is None else _claim_one(conn, now, limit, hooks[0]))


async def _claim(conn: BaseDBAsyncClient, now: datetime, limit: int, hooks: list[int] | None = None) -> list[int]:
    """The tick's claim: each webhook's due deliveries ranked oldest first (ROW_NUMBER per webhook), the
    first (cap - in flight) of each taken; a webhook at its cap is left out before the ranking. The outer
    WHERE checks again that a row is still due, so on PostgreSQL a row changed meanwhile (a late worker's
    outcome) is re-read and left alone."""
    only = "" if hooks is None else " AND d.webhook_id = ANY(:hooks)"
    sql, values = _bind(
        conn,
        "UPDATE webhook_delivery SET claimed_until = :lease WHERE id IN ("
        " SELECT id FROM (SELECT d.id, d.next_attempt_at AS due_at, COALESCE(b.n, 0) AS busy,"
        " ROW_NUMBER() OVER (PARTITION BY d.webhook_id ORDER BY d.next_attempt_at, d.id) AS rank"
        " FROM webhook_delivery d JOIN webhook w ON w.id = d.webhook_id"
        " LEFT JOIN (SELECT f.webhook_id, count(*) AS n FROM webhook_delivery f"
        " WHERE f.status = :pending AND f.claimed_until > :now GROUP BY f.webhook_id) b ON b.webhook_id = d.webhook_id"
        f" WHERE {_DUE.format(t='d')} AND w.enabled = :yes AND COALESCE(b.n, 0) < :cap{only}"
        " AND NOT EXISTS (SELECT 1 FROM webhook_delivery o WHERE o.webhook_id = d.webhook_id"
        " AND o.lead_id = d.lead_id AND o.status = :pending AND o.id < d.id)"
        " ) ranked WHERE rank + busy <= :cap ORDER BY due_at, id LIMIT :limit)"
        f" AND {_DUE.format(t='webhook_delivery')} RETURNING id",
        {
            "lease": now + timedelta(seconds=LEASE_SECONDS),
            "pending": PENDING,
            "now": now,
            "yes": True,
            "hooks": hooks,
            "cap": per_receiver(),
            "limit": limit,
        },
    )
    return sorted(int(row["id"]) for row in await fetch(conn, sql, values))


async def _claim_one(conn: BaseDBAsyncClient, now: datetime, limit: int, webhook_id: int) -> list[int]:
    """One webhook's claim (an attempt handing on): its oldest due deliveries, as many as it has slots free.
    No ranking: the (status, next_attempt_at) index reads them in order and stops there, however long the
    webhook's backlog."""
    sql, values = _bind(
        conn,
        "UPDATE webhook_delivery SET claimed_until = :lease WHERE id IN ("
        " SELECT d.id FROM webhook_delivery d JOIN webhook w ON w.id = d.webhook_id"
        f" WHERE d.webhook_id = :hook AND {_DUE.format(t='d')} AND w.enabled = :yes"
        " AND NOT EXISTS (SELECT 1 FROM webhook_delivery o WHERE o.webhook_id = d.webhook_id"
        " AND o.lead_id = d.lead_id AND o.status = :pending AND o.id < d.id)"
        " ORDER BY d.next_attempt_at, d.id LIMIT (SELECT CASE WHEN count(*) >= :cap THEN 0"
        " WHEN :cap - count(*) > :limit THEN :limit ELSE :cap - count(*) END FROM webhook_delivery f"
        " WHERE f.webhook_id = :hook AND f.status = :pending AND f.claimed_until > :now))"
        f" AND {_DUE.format(t='webhook_delivery')} RETURNING id",
        {
            "lease": now + timedelta(seconds=LEASE_SECONDS),
            "pending": PENDING,
            "now": now,
            "yes": True,
            "hook": webhook_id,
            "cap": per_receiver(),
            "limit": limit,
        },
    )
    return sorted(int(row["id"]) for row in await fetch(conn, sql, values))


def _bind(conn: BaseDBAsyncClient, sql: str, named: dict[str, Any]) -> tuple[str, list[Any]]:
    """`:name` markers to the connection's positional ones, with the values in their order (a name used twice
    is bound twice: SQLite's `?` has no numbers)."""
    values: list[Any] = []

    def mark(match: re.Match[str]) -> str:
        values.append(named[match.group(1)])
        return placeholders(conn, 1, start=len(values))[0]

    return re.sub(r"(?<!:):([a-z]+)\b", mark, sql), values


async def send_due(now: datetime) -> int:
    """The scheduler tick's part: claim what is due, then hand it to workers (the claim is committed)."""
    total = 0
    while True:
        ids = await claim_due(now)
        if ids:
            await deliver(SendWebhooks(ids))
        total += len(ids)
        if len(ids) < BATCH:
            return total


async def _hand_on(webhook_id: int, now: datetime, waiting: bool) -> None:
    """An attempt to `webhook_id` ended, so it has a slot free: claim its next due deliveries now rather than
    at the next tick, so a receiver with a backlog gets `per_receiver()` at a time at its own pace. Only when
    the attempt's own completing UPDATE saw one of them waiting (`_record`): with nothing due and unclaimed,
    the usual case under the cap, an attempt costs no statement more than it did before the cap."""
    if not waiting:
        return
    ids = await claim_due(now, per_receiver(), webhook_id)
    if ids:
        await deliver(SendWebhooks(ids))


async def attempt(delivery_id: int, now: datetime) -> str:
    """One attempt of a claimed delivery. Returns what happened (for logs and tests)."""
    delivery = await WebhookDelivery.get_or_none(id=delivery_id, status=WebhookDeliveryStatus.PENDING)
    if delivery is None:
        return "done"  # delivered, failed, or its webhook deleted meanwhile
    webhook = await Webhook.get_or_none(id=delivery.webhook_id)
    if webhook is None:
        return "done"
    if not webhook.enabled:  # kept until it is enabled again; the tick does not claim it meanwhile
        await WebhookDelivery.filter(id=delivery.id, attempts=delivery.attempts).update(claimed_until=None)
        return "disabled"
    try:
        target = await webhook_urls.resolve(webhook.url, allow_private())
    except webhook_urls.UrlRefused as refused:
        waiting = await _record(delivery, now, None, str(refused), final=True)
        await _hand_on(webhook.id, now, waiting)
        return "refused"
    status, error = await _post(target, webhook.secret, delivery)
    ok = status is not None and 200 <= status < 300
    waiting = await _record(delivery, now, status, error, ok=ok)
    await _hand_on(webhook.id, now, waiting)
    return "succeeded" if ok else "failed"


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default verification (certifi's CAs), built once: a new client builds it again each time, about
    20 ms of CPU, which capped a worker at ~40 deliveries/s (bench/webhooks.py)."""
    return httpx.create_ssl_context()


async def _post(target: webhook_urls.Target, secret: str, delivery: WebhookDelivery) -> tuple[int | None, str | None]:
    # The signature's timestamp is the wall clock's: the receiver checks it against its own.
    sent_at = datetime.now(UTC)
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "host": target.host_header,
        "webhook-id": delivery.event_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": Signer(secret).sign(delivery.event_id, sent_at, delivery.payload),
    }
    # To the address checked a moment ago, not the name again (no DNS rebinding); TLS still checks the name.
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    try:
        async with asyncio.timeout(ATTEMPT_TIMEOUT):
            async with httpx.AsyncClient(
                timeout=ATTEMPT_TIMEOUT, follow_redirects=False, trust_env=False, verify=_tls_context()
            ) as client:
                response = await client.post(
                    target.address_url, content=delivery.payload.encode(), headers=headers, extensions=extensions
                )
        return response.status_code, None if response.is_success else f"HTTP {response.status_code}"
    except TimeoutError:
        return None, f"no answer within {ATTEMPT_TIMEOUT:.0f} s"
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def _record(
    delivery: WebhookDelivery,
    now: datetime,
    status: int | None,
    error: str | None,
    *,
    ok: bool = False,
    final: bool = False,
) -> bool:
    """The attempt's outcome, by compare-and-set on `attempts` (a duplicate job records nothing twice).

    Returns whether another delivery of the webhook is due and unclaimed (`_WAITING`, read in the same
    UPDATE's RETURNING: no statement of its own), so that the hand-on runs only when something waits. A
    delivery written unclaimed after this statement's snapshot (the outbox saw this one's slot still taken)
    is missed here and claimed by the tick, as it was when the hand-on found the webhook's row locked."""
    attempts = delivery.attempts + 1
    if ok:
        outcome, next_at = SUCCEEDED, None
    elif final or attempts >= MAX_ATTEMPTS:
        outcome, next_at = FAILED, None
    else:
        outcome, next_at = PENDING, now + timedelta(seconds=RETRY_DELAYS[attempts - 1])
    entry = {
        "at": now.astimezone(UTC).isoformat(),
        "status": status,
        "error": error,
        "next": next_at.astimezone(UTC).isoformat() if next_at is not None else None,
    }
    conn = db()
    sql, values = _bind(
        conn,
        "UPDATE webhook_delivery SET status = :outcome, attempts = :attempts, response_status = :code,"
        " last_attempt_at = :now, next_attempt_at = :next, claimed_until = NULL, log = :log"
        " WHERE id = :id AND attempts = :before RETURNING " + _WAITING,
        {
            "outcome": outcome,
            "attempts": attempts,
            "code": status,
            "now": now,
            "next": next_at,
            "log": orjson.dumps([*(delivery.log or []), entry]).decode(),
            "id": delivery.id,
            "before": delivery.attempts,
            "hook": delivery.webhook_id,
            "pending": PENDING,
        },
    )
    rows = await fetch(conn, sql, values)
    if rows and outcome != SUCCEEDED:
        log.info("webhook delivery %s attempt %s: %s (%s)", delivery.id, attempts, outcome, error)
    return bool(rows) and bool(rows[0]["waiting"])
