"""Webhooks: subscriptions, and the events they receive, written as an outbox in the change's transaction.

The domain functions that change the data say what happened (`lead_event`, `campaign_status_changed`);
the events are collected for the transaction and, just before it commits (`domain.tx.batch`), one
`WebhookDelivery` row is written per enabled webhook that subscribes to the event (and to its campaign,
when it names campaigns). So an event is never lost (it commits with the change) and never sent for a
change that rolled back (it rolls back with it). The body is built then, from the transaction's final
state: a reply's lead already says REPLIED, a finish names the activity that explains it.

After COMMIT, `SendWebhooks` hands the new deliveries to this process's wiring (tasks/broker.py sends one
`webhooks.deliver` job each). A delivery is claimed (a lease) when it is written, unless an older one of
the same lead to the same webhook is still pending (that one goes first, so a receiver gets each lead's
events in order) or the webhook already has its cap of deliveries in flight (`per_receiver()`); then a
worker whose attempt ends, or the scheduler tick, claims it later (domain/webhook_delivery.py).
"""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from domain import webhook_urls
from domain.errors import DomainError, DomainErrors, InvalidInput, NotFound
from domain.ids import to_global_id
from domain.tx import announce, batch, transaction
from models import Activity, Campaign, Contact, Lead, SequenceStep, Webhook, WebhookDelivery
from models.enums import ActivityKind
from models.sql import db, fetch, is_postgres, placeholders
from models.webhook import WebhookDeliveryStatus, WebhookEvent

#: How long a claimed delivery is held: past the 10 s attempt, so only a dead worker's claim runs out.
LEASE_SECONDS = 60.0
#: Deliveries to one webhook in flight at once, by default (WEBHOOK_CONCURRENCY_PER_RECEIVER).
PER_RECEIVER = 4
MAX_WEBHOOKS = 50
PENDING = WebhookDeliveryStatus.PENDING.value
SECRET_PREFIX = "whsec_"

#: The activities that are webhook events of their own.
ACTIVITY_EVENTS = {
    ActivityKind.REPLY_RECEIVED: WebhookEvent.LEAD_REPLIED,
    ActivityKind.EMAIL_BOUNCED: WebhookEvent.LEAD_BOUNCED,
    ActivityKind.UNSUBSCRIBED: WebhookEvent.LEAD_UNSUBSCRIBED,
    ActivityKind.LEAD_ERROR: WebhookEvent.LEAD_ERROR,
    ActivityKind.TASK_CREATED: WebhookEvent.TASK_CREATED,
}


@dataclass(slots=True)
class _Settings:
    allow_private: bool = False
    per_receiver: int = PER_RECEIVER


_settings = _Settings()


def configure(*, allow_private: bool, per_receiver: int = PER_RECEIVER) -> None:
    """Process wiring: whether webhooks may point at loopback and private ranges (WEBHOOK_ALLOW_PRIVATE), and
    how many deliveries to one webhook may be in flight at once (WEBHOOK_CONCURRENCY_PER_RECEIVER)."""
    _settings.allow_private = allow_private
    _settings.per_receiver = per_receiver


def allow_private() -> bool:
    return _settings.allow_private


def per_receiver() -> int:
    return _settings.per_receiver


@dataclass(frozen=True, slots=True)
class SendWebhooks:
    """Deliveries claimed and committed: attempt each now (one `webhooks.deliver` job per id)."""

    delivery_ids: list[int]


# ------------------------------------------------------------------------------ subscriptions


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


async def _check_url(url: str, field: list[str]) -> str:
    try:
        await webhook_urls.resolve(url, _settings.allow_private)
    except webhook_urls.UrlRefused as refused:
        raise InvalidInput(str(refused), field) from None
    return url.strip()


def _events(events: Sequence[Any], field: list[str]) -> list[str]:
    if not events:
        raise InvalidInput("Name at least one event.", field)
    return list(dict.fromkeys(WebhookEvent(e).value for e in events))


async def _campaign_ids(workspace_id: int, ids: Sequence[int | None] | None, field: list[str]) -> list[int] | None:
    if ids is None:
        return None
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        raise InvalidInput("campaignIds: null for every campaign, or at least one campaign.", field)
    query = Campaign.filter(workspace_id=workspace_id, id__in=[i for i in wanted if i])
    found = set(await query.values_list("id", flat=True))
    for index, campaign_id in enumerate(wanted):
        if campaign_id not in found:
            raise NotFound("No such campaign.", [*field, str(index)])
    return [int(i) for i in wanted if i is not None]


async def list_webhooks(workspace_id: int) -> list[Webhook]:
    return await Webhook.filter(workspace_id=workspace_id).order_by("id")


async def get_webhook(workspace_id: int, webhook_id: int | None) -> Webhook:
    webhook = await Webhook.get_or_none(id=webhook_id, workspace_id=workspace_id) if webhook_id else None
    if webhook is None:
        raise NotFound("No such webhook.", ["id"])
    return webhook


async def create_webhook(
    workspace_id: int, url: str, events: Sequence[Any], campaign_ids: Sequence[int | None] | None
) -> tuple[Webhook, str]:
    """A new enabled webhook and its signing secret (returned here once; the API never shows it again)."""
    errors: list[DomainError] = []
    checked_url = events_ = ids = None
    try:
        checked_url = await _check_url(url, ["input", "url"])
    except InvalidInput as exc:
        errors.append(exc)
    try:
        events_ = _events(events, ["input", "events"])
    except InvalidInput as exc:
        errors.append(exc)
    try:
        ids = await _campaign_ids(workspace_id, campaign_ids, ["input", "campaignIds"])
    except (InvalidInput, NotFound) as exc:
        errors.append(exc)
    if await Webhook.filter(workspace_id=workspace_id).count() >= MAX_WEBHOOKS:
        errors.append(InvalidInput(f"A workspace has at most {MAX_WEBHOOKS} webhooks.", ["input"]))
    if errors:
        raise DomainErrors(errors)
    secret = new_secret()
    webhook = await Webhook.create(
        workspace_id=workspace_id, url=checked_url, events=events_, campaign_ids=ids, secret=secret
    )
    return webhook, secret


async def update_webhook(workspace_id: int, webhook_id: int | None, changes: dict[str, Any]) -> Webhook:
    """`changes`: url, events, campaignIds (null: every campaign), enabled; an absent key keeps its value."""
    webhook = await get_webhook(workspace_id, webhook_id)
    values: dict[str, Any] = {}
    if changes.get("url") is not None:
        values["url"] = await _check_url(changes["url"], ["input", "url"])
    if changes.get("events") is not None:
        values["events"] = _events(changes["events"], ["input", "events"])
    if "campaign_ids" in changes:
        values["campaign_ids"] = await _campaign_ids(workspace_id, changes["campaign_ids"], ["input", "campaignIds"])
    if changes.get("enabled") is not None:
        values["enabled"] = bool(changes["enabled"])
    if values:
        await Webhook.filter(id=webhook.id, workspace_id=workspace_id).update(**values)
        webhook.update_from_dict(values)
    return webhook


async def delete_webhook(workspace_id: int, webhook_id: int | None) -> int:
    """Its pending deliveries go with it (ON DELETE CASCADE): nothing more is sent to it."""
    webhook = await get_webhook(workspace_id, webhook_id)
    await Webhook.filter(id=webhook.id, workspace_id=workspace_id).delete()
    return webhook.id


async def get_delivery(workspace_id: int, delivery_id: int | None) -> WebhookDelivery:
    delivery = await WebhookDelivery.get_or_none(id=delivery_id, workspace_id=workspace_id) if delivery_id else None
    if delivery is None:
        raise NotFound("No such webhook delivery.", ["deliveryId"])
    return delivery


async def redeliver(workspace_id: int, delivery_id: int | None, now: datetime) -> WebhookDelivery:
    """Send a past delivery again: a new delivery of the same body under the same event id."""
    old = await get_delivery(workspace_id, delivery_id)
    async with transaction():
        delivery = await _insert(old.webhook_id, workspace_id, old.event, old.event_id, old.lead_id, old.payload, now)
    return delivery


async def deliveries_page(
    webhook: Webhook, status: WebhookDeliveryStatus | None, limit: int, before_id: int | None
) -> list[WebhookDelivery]:
    """Newest first (by id), after the cursor's id."""
    query = WebhookDelivery.filter(webhook_id=webhook.id, workspace_id=webhook.workspace_id)
    if status is not None:
        query = query.filter(status=status)
    if before_id is not None:
        query = query.filter(id__lt=before_id)
    return await query.order_by("-id").limit(limit)


async def count_deliveries(webhook: Webhook, status: WebhookDeliveryStatus | None) -> int:
    query = WebhookDelivery.filter(webhook_id=webhook.id, workspace_id=webhook.workspace_id)
    return await (query.filter(status=status) if status is not None else query).count()


# ------------------------------------------------------------------------------ events (the outbox)


@dataclass(frozen=True, slots=True)
class _LeadEvent:
    event: WebhookEvent
    lead: Lead
    activity_id: int | None
    at: datetime


@dataclass(frozen=True, slots=True)
class _CampaignEvent:
    workspace_id: int
    campaign_id: int
    old: str
    new: str
    at: datetime


def activity_recorded(lead: Lead, kind: ActivityKind, activity_id: int, at: datetime) -> None:
    """An activity was recorded for `lead` in the current transaction: an event if its kind is one."""
    event = ACTIVITY_EVENTS.get(ActivityKind(kind))
    if event is not None:
        batch("webhooks", _flush).append(_LeadEvent(event, lead, activity_id, at))


def lead_finished(lead: Lead, at: datetime | None = None) -> None:
    """`lead` became FINISHED in the current transaction."""
    batch("webhooks", _flush).append(_LeadEvent(WebhookEvent.LEAD_FINISHED, lead, None, at or datetime.now(UTC)))


def campaign_status_changed(
    workspace_id: int, campaign_id: int, old: str, new: str, at: datetime | None = None
) -> None:
    batch("webhooks", _flush).append(_CampaignEvent(workspace_id, campaign_id, old, new, at or datetime.now(UTC)))


async def _flush(items: list[_LeadEvent | _CampaignEvent]) -> None:
    """Before COMMIT: one delivery per subscribed webhook and event; SendWebhooks after COMMIT."""
    workspace_ids = {item.lead.workspace_id if isinstance(item, _LeadEvent) else item.workspace_id for item in items}
    hooks = await Webhook.filter(workspace_id__in=workspace_ids, enabled=True).order_by("id")
    if not hooks:
        return  # the usual case: one query, nothing to write
    claimed: list[int] = []
    for item in items:
        workspace_id = item.lead.workspace_id if isinstance(item, _LeadEvent) else item.workspace_id
        campaign_id = item.lead.campaign_id if isinstance(item, _LeadEvent) else item.campaign_id
        event = item.event if isinstance(item, _LeadEvent) else WebhookEvent.CAMPAIGN_STATUS_CHANGED
        wanted = [h for h in hooks if h.workspace_id == workspace_id and h.wants(event, campaign_id)]
        if not wanted:
            continue
        data = await (_lead_data(item) if isinstance(item, _LeadEvent) else _campaign_data(item))
        body = orjson.dumps({"type": event.type_name, "timestamp": _stamp(item.at), "data": data}).decode()
        event_id = "msg_" + uuid.uuid4().hex
        lead_id = item.lead.id if isinstance(item, _LeadEvent) else None
        for hook in wanted:
            delivery = await _insert(hook.id, workspace_id, event, event_id, lead_id, body, item.at, announce_it=False)
            if delivery.claimed_until is not None:
                claimed.append(delivery.id)
    if claimed:
        announce(SendWebhooks(claimed))


async def _insert(
    webhook_id: int,
    workspace_id: int,
    event: WebhookEvent,
    event_id: str,
    lead_id: int | None,
    payload: str,
    now: datetime,
    *,
    announce_it: bool = True,
) -> WebhookDelivery:
    """A PENDING delivery, claimed at once unless an older one of the same lead to this webhook is pending
    (then the scheduler tick claims it after that one) or the webhook has `per_receiver()` deliveries in flight
    already (then a worker claims it when one of those is answered, or the tick does).

    On PostgreSQL the webhook's row is locked first (`FOR NO KEY UPDATE SKIP LOCKED`, as claim_due does, until
    this transaction commits), so the count read after it includes every other claim committed for it; when
    another transaction or claimer holds it, the delivery is left unclaimed for them (never waited for). On
    SQLite a transaction has the one connection to itself."""
    conn = db()
    if is_postgres(conn) and not await fetch(
        conn, "SELECT id FROM webhook WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED", [webhook_id]
    ):
        return await _create(webhook_id, workspace_id, event, event_id, lead_id, payload, now, claimed=False)
    m = placeholders(conn, 6)
    (row,) = await fetch(
        conn,
        f"SELECT (SELECT count(*) FROM webhook_delivery WHERE webhook_id = {m[0]} AND status = {m[1]}"
        f" AND claimed_until > {m[2]}) AS busy, (SELECT count(*) FROM webhook_delivery WHERE webhook_id = {m[3]}"
        f" AND lead_id = {m[4]} AND status = {m[5]}) AS older",
        [webhook_id, PENDING, now, webhook_id, lead_id, PENDING],
    )
    claimed = int(row["older"]) == 0 and int(row["busy"]) < _settings.per_receiver
    delivery = await _create(webhook_id, workspace_id, event, event_id, lead_id, payload, now, claimed=claimed)
    if announce_it and claimed:
        announce(SendWebhooks([delivery.id]))
    return delivery


async def _create(
    webhook_id: int,
    workspace_id: int,
    event: WebhookEvent,
    event_id: str,
    lead_id: int | None,
    payload: str,
    now: datetime,
    *,
    claimed: bool,
) -> WebhookDelivery:
    return await WebhookDelivery.create(
        workspace_id=workspace_id,
        webhook_id=webhook_id,
        event_id=event_id,
        event=event,
        lead_id=lead_id,
        payload=payload,
        next_attempt_at=now,
        claimed_until=now + timedelta(seconds=LEASE_SECONDS) if claimed else None,
    )


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def _lead_data(item: _LeadEvent) -> dict[str, Any]:
    lead = item.lead
    campaign = await Campaign.get(id=lead.campaign_id)
    contact = await Contact.get(id=lead.contact_id)
    if item.activity_id is not None:
        activity = await Activity.get_or_none(id=item.activity_id)
    else:  # a finish: what explains it, recorded in this transaction or before (a bounce, the last step)
        activity = await Activity.filter(lead_id=lead.id).order_by("-id").first()
    step_id = activity.step_id if activity is not None and activity.step_id else lead.current_step_id
    step = await SequenceStep.get_or_none(id=step_id) if step_id else None
    name = " ".join(p for p in (contact.first_name, contact.last_name) if p) or None
    return {
        "lead": {
            "id": to_global_id("Lead", lead.id),
            "status": _value(lead.status),
            "substatus": _value(lead.substatus),
        },
        "campaign": {"id": to_global_id("Campaign", campaign.id), "name": campaign.name},
        "contact": {"id": to_global_id("Contact", contact.id), "name": name, "email": contact.email},
        "step": None
        if step is None
        else {"id": to_global_id("SequenceStep", step.id), "position": step.position, "type": _value(step.type)},
        "activity": None
        if activity is None
        else {
            "id": to_global_id("Activity", activity.id),
            "kind": _value(activity.kind),
            "channel": _value(activity.channel),
            "detail": activity.detail,
            "occurredAt": _stamp(activity.occurred_at),
        },
    }


async def _campaign_data(item: _CampaignEvent) -> dict[str, Any]:
    campaign = await Campaign.get(id=item.campaign_id)
    return {
        "campaign": {"id": to_global_id("Campaign", campaign.id), "name": campaign.name},
        "oldStatus": item.old,
        "newStatus": item.new,
    }


def _value(member: Any) -> Any:
    return getattr(member, "value", member)
