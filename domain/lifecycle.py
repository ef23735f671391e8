"""A campaign's lifecycle: the one authority for its transitions (domain.md, "Campaign lifecycle").

Each transition is a row of `TRANSITIONS` and is applied as one conditional UPDATE
(`... WHERE id = ? AND workspace_id = ? AND status IN (sources)`): of two concurrent requests only one
changes the row, the other changes zero rows and is refused. That UPDATE also takes the campaign row's
lock first, so the lead and counter writes that follow keep the lock order (campaign -> leads -> counters).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F

from domain import counters, events, validation, webhooks
from domain.errors import (
    DomainError,
    DomainErrors,
    EmptySequence,
    IdentityRequired,
    InvalidInput,
    InvalidTransition,
    NotFound,
    SequenceLocked,
)
from domain.leads import apply_bulk_delta, count_leads
from domain.step_updates import apply_step_updates
from domain.steps import copy_steps, parse_steps, replace_steps, write_steps
from domain.tx import transaction
from models import Campaign, Identity, Lead, SequenceStep
from models.enums import CampaignStatus, LeadStatus, LeadSubstatus, StepType
from models.sql import db, execute, fetch, is_postgres, placeholders

C = CampaignStatus


@dataclass(frozen=True)
class Transition:
    sources: frozenset[CampaignStatus]
    target: CampaignStatus


#: The lifecycle table of domain.md, as data. Anything not here is INVALID_TRANSITION.
#: (createCampaign, duplicateCampaign and deleteCampaign apply to any campaign: they are not status moves.)
TRANSITIONS: dict[str, Transition] = {
    "launch": Transition(frozenset({C.DRAFT}), C.ACTIVE),
    "pause": Transition(frozenset({C.ACTIVE}), C.PAUSED),
    "resume": Transition(frozenset({C.PAUSED}), C.ACTIVE),
    "archive": Transition(frozenset({C.DRAFT, C.ACTIVE, C.PAUSED}), C.ARCHIVED),
}
ACTION_TYPES = [t for t in StepType if t.is_action]
MAX_NAME = validation.NAME


def _now() -> datetime:
    return datetime.now(UTC)


async def get_campaign(
    workspace_id: int, campaign_id: int | None, field: str = "id", *, lock: bool = False
) -> Campaign:
    """The workspace's campaign (NOT_FOUND otherwise); `lock` takes its row lock for the transaction.

    The lock is FOR NO KEY UPDATE: it orders campaign changes among themselves as FOR UPDATE would, but a
    worker's insert that refers to the campaign (an activity's foreign key takes KEY SHARE) does not wait on
    it. A worker holds its lead's row when it records an action, and a campaign change (archive, pause)
    then updates that campaign's leads: with FOR UPDATE the two waited on each other (a deadlock seen in the
    archive-during-sends fault run, under load)."""
    if campaign_id is None:
        raise NotFound("No such campaign.", [field])
    query = Campaign.filter(id=campaign_id, workspace_id=workspace_id)
    campaign = await (query.select_for_update(no_key=True) if lock else query).first()
    if campaign is None:
        raise NotFound("No such campaign.", [field])
    return campaign


async def transition(workspace_id: int, campaign_id: int | None, action: str, **values: Any) -> Campaign:
    """Apply one row of TRANSITIONS as a conditional UPDATE; zero rows changed means refused."""
    rule = TRANSITIONS[action]
    if campaign_id is None:
        raise NotFound("No such campaign.", ["id"])
    if len(rule.sources) == 1:
        (source,) = rule.sources
    else:  # which one it leaves, for the webhook event: read under the row lock the UPDATE takes anyway
        source = (await get_campaign(workspace_id, campaign_id, lock=True)).status
    changed = await Campaign.filter(
        id=campaign_id, workspace_id=workspace_id, status__in=[s.value for s in rule.sources]
    ).update(status=rule.target, **values)
    campaign = await get_campaign(workspace_id, campaign_id)
    if not changed:
        raise InvalidTransition(f"Cannot {action} a campaign that is {campaign.status.value}.", ["id"])
    webhooks.campaign_status_changed(workspace_id, campaign.id, C(source).value, rule.target.value)
    return campaign


# ------------------------------------------------------------------ create / update


def _name_errors(name: Any, path: list[str]) -> list[DomainError]:
    errors: list[DomainError] = []
    validation.text(name, path, errors, max_length=MAX_NAME, required=True)
    return errors


async def _identity_errors(workspace_id: int, identity_id: int | None) -> list[DomainError]:
    """identity_id: None = no identity; 0 = an ID that could not be decoded (never a row)."""
    if identity_id is None:
        return []
    if not await Identity.filter(id=identity_id, workspace_id=workspace_id).exists():
        return [NotFound("No such identity.", ["input", "identityId"])]
    return []


async def create_campaign(
    workspace_id: int,
    name: str,
    identity_id: int | None,
    steps: Sequence[Mapping[str, Any]] | None,
    track_clicks: bool = True,
) -> Campaign:
    errors = _name_errors(name, ["input", "name"]) + await _identity_errors(workspace_id, identity_id)
    specs = []
    try:
        specs = parse_steps(steps, ["input", "steps"])
    except DomainErrors as exc:
        errors += exc.errors
    if errors:
        raise DomainErrors(errors)
    async with transaction():
        campaign = await Campaign.create(
            workspace_id=workspace_id, name=name.strip(), identity_id=identity_id, track_clicks=track_clicks
        )
        await write_steps(campaign.id, specs)
    return campaign


async def update_campaign(workspace_id: int, campaign_id: int | None, changes: Mapping[str, Any]) -> Campaign:
    """`changes` holds only what the client gave: name, identity_id, steps, step_updates, track_clicks."""
    async with transaction():
        campaign = await get_campaign(workspace_id, campaign_id, lock=True)
        errors: list[DomainError] = []
        values: dict[str, Any] = {}
        if "name" in changes:
            errors += _name_errors(changes["name"], ["input", "name"])
            values["name"] = (changes["name"] or "").strip()
        if changes.get("track_clicks") is not None:  # null: no change; applies to emails not yet sent
            values["track_clicks"] = bool(changes["track_clicks"])
        # The same sender again is no change (a form may send every field back with its stepUpdates).
        if "identity_id" in changes and changes["identity_id"] != campaign.identity_id:
            if not campaign.can_edit_sequence():
                errors.append(SequenceLocked("The sender cannot change once launched.", ["input", "identityId"]))
            else:
                errors += await _identity_errors(workspace_id, changes["identity_id"])
                values["identity_id"] = changes["identity_id"]
        specs = None
        if "steps" in changes and "step_updates" in changes:
            errors.append(InvalidInput("Give either steps or stepUpdates, not both.", ["input", "stepUpdates"]))
        elif "steps" in changes:
            if not campaign.can_edit_sequence():
                errors.append(SequenceLocked("The sequence cannot change once launched.", ["input", "steps"]))
            else:
                try:
                    specs = parse_steps(changes["steps"], ["input", "steps"])
                except DomainErrors as exc:
                    errors += exc.errors
        elif "step_updates" in changes:
            if campaign.status == CampaignStatus.ARCHIVED:
                errors.append(SequenceLocked("An archived campaign cannot change.", ["input", "stepUpdates"]))
            else:
                try:
                    # Writes only if its own input is valid; any other error below rolls it back.
                    await apply_step_updates(campaign.id, campaign.time_scale, changes["step_updates"] or [])
                except DomainErrors as exc:
                    errors += exc.errors
        if errors:
            raise DomainErrors(errors)
        if values:
            await Campaign.filter(id=campaign.id).update(**values)
        if specs is not None:
            await replace_steps(campaign.id, specs)
        return await get_campaign(workspace_id, campaign.id)


# ------------------------------------------------------------------ the lifecycle


async def launch_campaign(workspace_id: int, campaign_id: int | None) -> Campaign:
    """DRAFT -> ACTIVE. Its NOT_STARTED leads become due now: the engine picks them up."""
    async with transaction():
        now = _now()
        campaign = await transition(workspace_id, campaign_id, "launch", launched_at=now)
        errors: list[DomainError] = []
        if campaign.identity_id is None:
            errors.append(IdentityRequired("Choose a sender (identity) before launching.", ["id"]))
        if not await SequenceStep.filter(campaign_id=campaign.id, type__in=ACTION_TYPES).exists():
            errors.append(EmptySequence("The sequence needs at least one action step.", ["id"]))
        if errors:
            raise DomainErrors(errors)  # rolls the status back too
        await Lead.filter(campaign_id=campaign.id, status=LeadStatus.NOT_STARTED, removed_at=None).update(
            next_action_at=now, state_version=F("state_version") + 1
        )
        return campaign


async def pause_campaign(workspace_id: int, campaign_id: int | None) -> Campaign:
    async with transaction() as conn:
        campaign = await transition(workspace_id, campaign_id, "pause", paused_at=_now())
        await _pause_leads(conn, workspace_id, campaign.id)
        return campaign


async def resume_campaign(workspace_id: int, campaign_id: int | None) -> Campaign:
    async with transaction() as conn:
        campaign = await transition(workspace_id, campaign_id, "resume", paused_at=None)
        await _resume_leads(conn, workspace_id, campaign.id)
        return campaign


async def archive_campaign(workspace_id: int, campaign_id: int | None) -> Campaign:
    """Permanent: nothing of it is scheduled again (leads keep their status, counters do not move)."""
    async with transaction():
        campaign = await transition(workspace_id, campaign_id, "archive", archived_at=_now())
        await Lead.filter(campaign_id=campaign.id, next_action_at__isnull=False).update(
            next_action_at=None, state_version=F("state_version") + 1
        )
        return campaign


async def delete_campaign(workspace_id: int, campaign_id: int | None) -> int:
    """Any status. Steps, leads, activity, tasks and counters go with it (ON DELETE CASCADE)."""
    async with transaction():
        campaign = await get_campaign(workspace_id, campaign_id, lock=True)
        await Campaign.filter(id=campaign.id, workspace_id=workspace_id).delete()
        events.campaign_deleted(workspace_id, campaign.id)  # published after commit: subscriptions end
        return campaign.id


async def duplicate_campaign(
    workspace_id: int, campaign_id: int | None, name: str | None, include_leads: bool
) -> Campaign:
    """A new, independent DRAFT: new step rows, same tree and settings; optionally the live audience."""
    async with transaction():
        # The source's row lock: its sequence and audience do not change while they are copied.
        source = await get_campaign(workspace_id, campaign_id, lock=True)
        if name is not None and _name_errors(name, ["name"]):
            raise DomainErrors(_name_errors(name, ["name"]))
        copy = await Campaign.create(
            workspace_id=workspace_id,
            name=(name.strip() if name else f"{source.name} (copy)")[:MAX_NAME],
            identity_id=source.identity_id,
            time_scale=source.time_scale,
            track_clicks=source.track_clicks,
            duplicated_from_id=source.id,
        )
        await copy_steps(source.id, copy.id)
        if include_leads:
            contact_ids = (
                await Lead.filter(campaign_id=source.id, removed_at=None)
                .order_by("id")
                .values_list("contact_id", flat=True)
            )
            now = _now()
            await Lead.bulk_create(
                [
                    Lead(workspace_id=workspace_id, campaign_id=copy.id, contact_id=cid, added_at=now)
                    for cid in contact_ids
                ],
                batch_size=500,
            )
            await count_leads(workspace_id, copy.id, [{"status": LeadStatus.NOT_STARTED}] * len(contact_ids))
        return copy


# ------------------------------------------------------------------ the pause cascade


async def _lock_and_group(
    conn: BaseDBAsyncClient, campaign_id: int, where: str, values: list[Any], status: str, substatus: str
) -> Counter[tuple[Any, Any]]:
    """Lock (PostgreSQL) the leads a bulk UPDATE with the same WHERE will change; count them by group.

    Locked, they cannot change before the UPDATE, so the counter delta computed from the groups is exact.
    Only the groups travel back, whatever the audience size. SQLite runs one transaction at a time, so the
    read alone is enough there. `status` / `substatus`: the SQL expressions to group by.
    """
    mark = placeholders(conn, 1)[0]
    inner = f"SELECT {status} AS s, {substatus} AS sub FROM lead WHERE campaign_id = {mark} AND {where}"
    if is_postgres(conn):
        inner += " FOR UPDATE"
    rows = await fetch(
        conn, f"SELECT s, sub, COUNT(*) AS n FROM ({inner}) locked GROUP BY s, sub", [campaign_id, *values]
    )
    return Counter({(row["s"], row["sub"]): int(row["n"]) for row in rows})


def _status_delta(before: Counter[tuple[Any, Any]], after: Counter[tuple[Any, Any]]) -> dict[str, int]:
    """Counter delta of leads leaving the (status, substatus) groups `before` for the groups `after`.

    Only status and substatus change in a cascade: current step, started_at and flags stay as they are.
    """
    delta: Counter[str] = Counter()
    for groups, sign in ((before, -1), (after, 1)):
        for (status, substatus), n in groups.items():
            delta[counters.status_key(status)] += sign * n
            if substatus is not None:
                delta[counters.substatus_key(substatus)] += sign * n
    return {k: v for k, v in delta.items() if v}


async def _pause_leads(conn: BaseDBAsyncClient, workspace_id: int, campaign_id: int) -> None:
    """NOT_STARTED / IN_PROGRESS -> PAUSED / CAMPAIGN_PAUSED, remembering status, substatus, next_action_at.

    PAUSED_MANUALLY (and ERROR, FINISHED, REPLIED) leads are left as they are.
    """
    conn = db(conn)
    m = placeholders(conn, 3, start=2)
    where = f"removed_at IS NULL AND status IN ({m[0]}, {m[1]})"
    values = [LeadStatus.NOT_STARTED.value, LeadStatus.IN_PROGRESS.value]
    groups = await _lock_and_group(conn, campaign_id, where, values, "status", "substatus")
    if not groups:
        return
    # The JSON is built from the row itself by the database: one statement for any audience size.
    # (The SET expressions all read the row as it was, so paused_state captures the old status.)
    build = "jsonb_build_object" if is_postgres(conn) else "json_object"
    # Parameters in the order they appear in the text: SQLite's "?" are positional.
    p = placeholders(conn, 5)
    sql = (
        f"UPDATE lead SET paused_state = {build}('status', status, 'substatus', substatus,"
        " 'next_action_at', next_action_at),"
        f" status = {p[0]}, substatus = {p[1]}, next_action_at = NULL, state_version = state_version + 1"
        f" WHERE campaign_id = {p[2]} AND removed_at IS NULL AND status IN ({p[3]}, {p[4]})"
    )
    await execute(conn, sql, [LeadStatus.PAUSED.value, LeadSubstatus.CAMPAIGN_PAUSED.value, campaign_id, *values])
    paused = Counter({(LeadStatus.PAUSED.value, LeadSubstatus.CAMPAIGN_PAUSED.value): groups.total()})
    delta = _status_delta(groups, paused)
    await apply_bulk_delta(workspace_id, campaign_id, delta)


async def _resume_leads(conn: BaseDBAsyncClient, workspace_id: int, campaign_id: int) -> None:
    """PAUSED / CAMPAIGN_PAUSED -> what each was before (a wait that expired meanwhile is due at once)."""
    conn = db(conn)
    m = placeholders(conn, 2, start=2)
    where = f"removed_at IS NULL AND status = {m[0]} AND substatus = {m[1]}"
    values = [LeadStatus.PAUSED.value, LeadSubstatus.CAMPAIGN_PAUSED.value]
    kept = (
        ("paused_state->>'status'", "paused_state->>'substatus'")
        if is_postgres(conn)
        else ("json_extract(paused_state, '$.status')", "json_extract(paused_state, '$.substatus')")
    )
    after = await _lock_and_group(
        conn, campaign_id, where, values, f"COALESCE({kept[0]}, '{LeadStatus.NOT_STARTED.value}')", kept[1]
    )
    if not after:
        return
    before = Counter({(LeadStatus.PAUSED.value, LeadSubstatus.CAMPAIGN_PAUSED.value): after.total()})
    p = placeholders(conn, 4)
    kept_at = (
        "(paused_state->>'next_action_at')::timestamptz"
        if is_postgres(conn)
        else "json_extract(paused_state, '$.next_action_at')"  # the same text SQLite stored it as
    )
    restore = f"status = COALESCE({kept[0]}, {p[0]}), substatus = {kept[1]}, next_action_at = {kept_at}"
    sql = (
        f"UPDATE lead SET {restore}, paused_state = NULL, state_version = state_version + 1"
        f" WHERE campaign_id = {p[1]} AND removed_at IS NULL AND status = {p[2]} AND substatus = {p[3]}"
    )
    await execute(conn, sql, [LeadStatus.NOT_STARTED.value, campaign_id, *values])
    await apply_bulk_delta(workspace_id, campaign_id, _status_delta(before, after))
