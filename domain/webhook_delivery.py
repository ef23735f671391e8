"""Sending webhook deliveries: one attempt at a time, its schedule kept in the delivery row.

An attempt (the `webhooks.deliver` job, tasks/webhooks.py) resolves and checks the URL again
(domain/webhook_urls.py), connects to the checked address, POSTs the body signed per Standard Webhooks and
waits at most ATTEMPT_TIMEOUT seconds; redirects are not followed. Every attempt is recorded in the row
(attempts, response status, last attempt, its `log`); a failure (non-2xx, no answer in time, no
connection) sets `next_attempt_at` by RETRY_DELAYS, and after the last one the delivery is FAILED. A URL
that now resolves to a refused address fails the delivery at once: retrying would not make it safe.

The scheduler tick claims due deliveries (`send_due`: one conditional UPDATE with a lease, `SKIP LOCKED` on
PostgreSQL, like leads) and hands them to workers, so a long wait is a timestamp in the row, never a
delayed broker message, and a broker restart loses nothing. It never claims a delivery while an older one
of the same lead to the same webhook is pending: a receiver that was down gets each lead's events in order.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
from datetime import UTC, datetime, timedelta

import httpx
from standardwebhooks.webhooks import Webhook as Signer

from domain import webhook_urls
from domain.tx import deliver
from domain.webhooks import LEASE_SECONDS, SendWebhooks, allow_private
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


async def claim_due(now: datetime, limit: int = BATCH) -> list[int]:
    """Claim up to `limit` due deliveries of enabled webhooks, oldest of each (webhook, lead) only."""
    conn = db()
    marks = placeholders(conn, 7)
    lock = " FOR UPDATE OF d SKIP LOCKED" if is_postgres(conn) else ""
    rows = await fetch(
        conn,
        f"UPDATE webhook_delivery SET claimed_until = {marks[0]} WHERE id IN ("
        " SELECT d.id FROM webhook_delivery d JOIN webhook w ON w.id = d.webhook_id"
        f" WHERE d.status = {marks[1]} AND d.next_attempt_at <= {marks[2]}"
        f" AND (d.claimed_until IS NULL OR d.claimed_until <= {marks[3]}) AND w.enabled = {marks[4]}"
        " AND NOT EXISTS (SELECT 1 FROM webhook_delivery o WHERE o.webhook_id = d.webhook_id"
        f" AND o.lead_id = d.lead_id AND o.status = {marks[5]} AND o.id < d.id)"
        f" ORDER BY d.next_attempt_at, d.id LIMIT {marks[6]}{lock})"
        " RETURNING id",
        [now + timedelta(seconds=LEASE_SECONDS), PENDING, now, now, True, PENDING, limit],
    )
    return sorted(int(row["id"]) for row in rows)


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
        await _record(delivery, now, None, str(refused), final=True)
        return "refused"
    status, error = await _post(target, webhook.secret, delivery)
    ok = status is not None and 200 <= status < 300
    await _record(delivery, now, status, error, ok=ok)
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
) -> None:
    """The attempt's outcome, by compare-and-set on `attempts` (a duplicate job records nothing twice)."""
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
    changed = await WebhookDelivery.filter(id=delivery.id, attempts=delivery.attempts).update(
        status=outcome,
        attempts=attempts,
        response_status=status,
        last_attempt_at=now,
        next_attempt_at=next_at,
        claimed_until=None,
        log=[*(delivery.log or []), entry],
    )
    if changed and outcome != SUCCEEDED:
        log.info("webhook delivery %s attempt %s: %s (%s)", delivery.id, attempts, outcome, error)
