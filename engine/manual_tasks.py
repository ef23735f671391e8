"""completeTask: a person did the work a TASK step asked for; the lead waiting on it moves on."""

from __future__ import annotations

from typing import Any

from domain import counters, events
from domain.activity import record_activity
from domain.errors import InvalidTransition, NotFound
from domain.leads import update_lead
from domain.steps import stamp
from domain.tx import transaction
from engine import clock, placement
from engine.snapshot import load_sequence
from models import Campaign, Lead, Task
from models.enums import ActivityKind, Channel, LeadStatus, LeadSubstatus, TaskStatus

CAS_ATTEMPTS = 5


async def complete_task(workspace_id: int, task_id: int) -> Task:
    task = await Task.get_or_none(id=task_id, workspace_id=workspace_id)
    if task is None:
        raise NotFound("No such task.", ["id"])
    now = clock.now()
    async with transaction():
        # The conditional UPDATE is the guard: a double click completes it once.
        changed = await Task.filter(id=task.id, status=TaskStatus.PENDING).update(
            status=TaskStatus.COMPLETED, completed_at=now
        )
        if not changed:
            raise InvalidTransition("The task is already completed.", ["id"])
        task.status, task.completed_at = TaskStatus.COMPLETED, now
        lead = await _move_lead_on(task, now)
        if lead.removed_at is None:  # tasks of removed leads are not counted
            delta = {counters.task_key(TaskStatus.PENDING): -1, counters.task_key(TaskStatus.COMPLETED): 1}
            if await counters.apply(task.campaign_id, delta, shard=lead.id):
                events.stats_changed(task.workspace_id, task.campaign_id)
        await record_activity(
            lead,
            ActivityKind.TASK_COMPLETED,
            channel=Channel.TASK,
            step_id=task.step_id,
            detail=task.title,
            dedupe_key=f"task:{task.id}:completed",
            occurred_at=now,
        )
    return task


async def _move_lead_on(task: Task, now: Any) -> Lead:
    for _ in range(CAS_ATTEMPTS):
        lead = await Lead.get(id=task.lead_id)
        changes = await _changes(lead, task, now)
        if not changes or await update_lead(lead, **changes):
            return lead
    raise InvalidTransition("The lead is changing too fast; try again.", ["id"])


async def _changes(lead: Lead, task: Task, now: Any) -> dict[str, Any]:
    if lead.current_step_id != task.step_id or lead.removed_at is not None:
        return {}
    if lead.status == LeadStatus.IN_PROGRESS and lead.substatus == LeadSubstatus.WAITING_FOR_TASK:
        campaign = await Campaign.get(id=lead.campaign_id)
        sequence = await load_sequence(campaign)
        step = sequence.get(task.step_id)
        to = sequence.successor(step) if step is not None else None
        return placement.move_to(lead, sequence, to, now) | {"last_action_at": now}
    paused = lead.paused_state or {}
    if lead.status == LeadStatus.PAUSED and paused.get("substatus") == LeadSubstatus.WAITING_FOR_TASK.value:
        # Paused meanwhile: on resume it runs its TASK step again, finds the task done, and moves on.
        return {
            "paused_state": {
                **paused,
                "substatus": LeadSubstatus.SCHEDULED.value,
                "next_action_at": stamp(now),
            }
        }
    return {}
