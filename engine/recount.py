"""Reconcile from the Activity log: each lead's flags recomputed from what was really done to it.

The counters are a projection of the leads (domain/counters.py `reconcile` recounts them from the
leads); the leads' flags are in turn a projection of the log: an EMAIL_SENT entry is written only once
the mail server accepted the email (engine/apply.py), in the transaction that sets `em_sent`. So a lead
whose flags disagree with its entries was broken by something else (a manual fix, a bug, a restore):
`reconcile_flags` repairs it through domain.leads.update_lead, which keeps the counters exact, and the
counters' reconcile runs after it (`python server.py reconcile` runs both and reports both drifts).

The flags recounted are those that only the log's entries set: the outbound actions' (engine/placement.py
`ACTION_EFFECTS`) and the inbound events' (engine/inbound.py). Not recounted: `positive` (a person's
judgement, given with the reply event, not derivable from the entry's kind), `em_unsubscribed` (an
UNSUBSCRIBED entry is also what a send refused by the suppression list logs, and that sets no flag).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from domain.leads import update_lead
from domain.tx import transaction
from engine.placement import ACTION_EFFECTS
from models import Activity, Lead
from models.enums import ActivityKind, Channel

#: The flags each inbound event's entry sets (engine/inbound.py `_changes`); a reply's by its channel too.
_EVENT_FLAGS: dict[ActivityKind, tuple[str, ...]] = {
    ActivityKind.INVITATION_ACCEPTED: ("li_accepted",),
    ActivityKind.REPLY_RECEIVED: ("replied",),
    ActivityKind.EMAIL_CLICKED: ("em_clicked",),
    ActivityKind.EMAIL_BOUNCED: ("em_bounced",),
}
_REPLY_FLAGS = {Channel.LINKEDIN: "li_replied", Channel.EMAIL: "em_replied"}


def _action_flags(kind: ActivityKind) -> tuple[str, ...]:
    return tuple(name for name, value in ACTION_EFFECTS.get(kind, {}).items() if value is True)


#: Every flag the log alone decides, and the kinds of entry that set any.
FLAGS: tuple[str, ...] = tuple(
    sorted(
        {flag for kind in ACTION_EFFECTS for flag in _action_flags(kind)}
        | {flag for flags in _EVENT_FLAGS.values() for flag in flags}
        | set(_REPLY_FLAGS.values())
    )
)
KINDS = sorted({kind.value for kind in ACTION_EFFECTS if _action_flags(kind)} | {kind.value for kind in _EVENT_FLAGS})
BATCH = 1000
CAS_ATTEMPTS = 5


def flags_from(entries: Iterable[tuple[ActivityKind | str, Channel | str | None]]) -> dict[str, bool]:
    """The flags a lead has given its log's (kind, channel) entries: each of FLAGS, True or False."""
    flags = dict.fromkeys(FLAGS, False)
    for raw_kind, raw_channel in entries:
        kind = ActivityKind(raw_kind)
        for flag in _action_flags(kind) + _EVENT_FLAGS.get(kind, ()):
            flags[flag] = True
        if kind == ActivityKind.REPLY_RECEIVED and raw_channel is not None:
            reply = _REPLY_FLAGS.get(Channel(raw_channel))
            if reply is not None:
                flags[reply] = True
    return flags


async def reconcile_flags(campaign_id: int) -> dict[str, int]:
    """Repair the flags of a campaign's leads (not removed) to what their log says. Returns the drift found:
    {"em_sent: false -> true": 2, ...}, one count per lead and flag repaired; {} when all agreed."""
    drift: Counter[str] = Counter()
    last_id = 0
    while True:
        rows = (
            await Lead.filter(campaign_id=campaign_id, removed_at=None, id__gt=last_id)
            .order_by("id")
            .limit(BATCH)
            .values("id", *FLAGS)
        )
        if not rows:
            return dict(drift)
        last_id = rows[-1]["id"]
        logged = await _entries([row["id"] for row in rows])
        for row in rows:
            if flags_from(logged.get(row["id"], [])) != {flag: bool(row[flag]) for flag in FLAGS}:
                drift.update(await _repair(row["id"]))


async def _entries(lead_ids: list[int]) -> dict[int, list[tuple[str, str | None]]]:
    pairs = (
        await Activity.filter(lead_id__in=lead_ids, kind__in=KINDS).distinct().values_list("lead_id", "kind", "channel")
    )
    found: dict[int, list[tuple[str, str | None]]] = {}
    for lead_id, kind, channel in pairs:
        found.setdefault(int(lead_id), []).append((kind, channel))
    return found


async def _repair(lead_id: int) -> Counter[str]:
    """One lead, read again with its entries (lead first: an action's commit writes both, so a send that
    commits between the two reads makes the CAS lose, and the next round sees it whole)."""
    for _ in range(CAS_ATTEMPTS):
        async with transaction():
            lead = await Lead.get_or_none(id=lead_id)
            if lead is None or lead.removed_at is not None:
                return Counter()
            wanted = flags_from((await _entries([lead_id])).get(lead_id, []))
            changes = {flag: value for flag, value in wanted.items() if bool(getattr(lead, flag)) != value}
            if not changes:
                return Counter()
            if await update_lead(lead, **changes):
                return Counter(
                    f"{flag}: {str(not value).lower()} -> {str(value).lower()}" for flag, value in changes.items()
                )
    return Counter()
