"""stepUpdates: changing the delays and texts of a campaign's existing steps, launched campaigns too.

The changed sequence is validated as a whole (domain/steps.py), reporting only on the steps being changed;
leads waiting on a step whose delay changed are rescheduled from their previous action, as the engine would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, timedelta
from typing import Any

from domain.errors import DomainError, DomainErrors, NotFound
from domain.steps import StepSpec, delay_errors, delay_seconds, stamp, tree_from_rows, validate_tree
from models import Lead, SequenceStep
from models.enums import LeadStatus, LeadSubstatus
from models.sql import db, placeholders


async def apply_step_updates(campaign_id: int, time_scale: float, updates: Sequence[Mapping[str, Any]]) -> None:
    """Change delays and texts of existing steps; reschedule leads waiting on a step whose delay changed.

    The caller holds the campaign row. `updates[i]` has `step_id` (decoded, None if malformed) and any of
    `delay`, `subject`, `content`, `ai_variables`. Errors point at ["input", "stepUpdates", i, ...].
    """
    rows = await SequenceStep.filter(campaign_id=campaign_id)
    by_id = {row.id: row for row in rows}
    errors: list[DomainError] = []
    changed: dict[int, dict[str, Any]] = {}
    paths: dict[int, dict[str, list[str]]] = {}
    for i, update in enumerate(updates):
        path = ["input", "stepUpdates", str(i)]
        step_id = update.get("step_id")
        if step_id is None or step_id not in by_id:
            errors.append(NotFound("No such step in this campaign.", [*path, "stepId"]))
            continue
        if update.get("delay", ...) is None:
            update = {k: v for k, v in update.items() if k != "delay"}  # a null delay: no change
        errors += delay_errors(update.get("delay"), path)
        values = changed.setdefault(step_id, {})
        step_paths = paths.setdefault(step_id, {})
        step_paths[""] = path
        for key, name in (
            ("delay", "delay"),
            ("subject", "subject"),
            ("content", "content"),
            ("ai_variables", "aiVariables"),
        ):
            if key in update:
                step_paths[name] = path
        if "delay" in update:
            values["delay_seconds"] = max(0, delay_seconds(update["delay"]))
        for key in ("subject", "content"):
            if key in update:
                values[key] = update[key]
        if "ai_variables" in update:
            values["ai_variables"] = [
                {"name": v["name"], "prompt": v["prompt"]} for v in update.get("ai_variables") or []
            ]
    # Validate the sequence as it would be, reporting only on the steps being changed.
    for step_id, values in changed.items():
        for key, value in values.items():
            setattr(by_id[step_id], key, value)
    specs = tree_from_rows(rows)
    _set_paths(specs, paths)
    errors += validate_tree(specs, only=set(changed))
    if errors:
        raise DomainErrors(errors)
    for step_id, values in changed.items():
        if values:
            await SequenceStep.filter(id=step_id).update(**values)
        if "delay_seconds" in values:
            # time_scale divides every delay (the demo runs a day in a minute), as the engine does.
            await _reschedule(campaign_id, step_id, values["delay_seconds"] / (time_scale or 1.0))


def _set_paths(specs: list[StepSpec], paths: dict[int, dict[str, list[str]]]) -> None:
    for spec in specs:
        if spec.id in paths:
            spec.path = paths[spec.id][""]
            spec.field_paths = paths[spec.id]
        for _, children in spec.branches:
            _set_paths(children, paths)


async def _reschedule(campaign_id: int, step_id: int, delay: float) -> None:
    """Leads waiting (SCHEDULED) on this step: due `delay` after their previous action.

    Only next_action_at (or the one kept in a paused lead's paused_state) changes: no counted state, so no
    counter moves. state_version is bumped so a worker holding an older read of the lead re-reads it.
    """
    leads = (
        await Lead.filter(campaign_id=campaign_id, current_step_id=step_id, removed_at=None)
        .filter(status__in=[LeadStatus.IN_PROGRESS, LeadStatus.PAUSED])
        .select_for_update()
    )
    scheduled: list[list[Any]] = []
    for lead in leads:
        # The engine's anchor: the previous action, or (before any) when the lead started.
        anchor = lead.last_action_at or lead.started_at
        if anchor is None:
            continue
        due = (anchor + timedelta(seconds=delay)).astimezone(UTC)
        if lead.status == LeadStatus.IN_PROGRESS and lead.substatus == LeadSubstatus.SCHEDULED:
            scheduled.append([due, lead.id])
        elif (
            lead.status == LeadStatus.PAUSED
            and lead.paused_state
            and lead.paused_state.get("substatus") == LeadSubstatus.SCHEDULED.value
        ):
            await Lead.filter(id=lead.id).update(
                paused_state={**lead.paused_state, "next_action_at": stamp(due)}, state_version=lead.state_version + 1
            )
    if scheduled:
        # The common case, a running campaign: one batched statement for all its waiting leads.
        conn = db()
        a, b = placeholders(conn, 2)
        await conn.execute_many(
            f"UPDATE lead SET next_action_at = {a}, state_version = state_version + 1 WHERE id = {b}", scheduled
        )
