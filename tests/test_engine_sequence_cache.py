"""Workers keep the Sequence they built per campaign (engine/snapshot.py): a change to the steps is seen at once."""

from __future__ import annotations

from typing import Any

from models import Activity, SequenceStep
from models.enums import ActivityKind, StepType
from tests.engine_helpers import Pump, add_leads, make_campaign, make_identity, person, step


async def _subjects(campaign_id: int) -> list[str]:
    rows = await Activity.filter(campaign_id=campaign_id, kind=ActivityKind.EMAIL_SENT).order_by("id")
    return [row.detail or "" for row in rows]


async def test_a_step_text_changed_on_a_running_campaign_is_used_by_the_next_send(
    workspace: Any, frozen: Any, pump: Pump
) -> None:
    ws, _ = workspace
    identity = await make_identity(ws)
    campaign, steps = await make_campaign(
        ws, identity, [step(StepType.EMAIL, subject="Old {{firstName}}", content="Hello {{firstName}}")]
    )
    await add_leads(ws, campaign, [person(1)])
    await pump.run()
    assert await _subjects(campaign.id) == ["Subject: Old First1"]

    # What stepUpdates writes (domain/step_updates.apply_step_updates), committed by another process.
    await SequenceStep.filter(id=steps[0].id).update(subject="New {{firstName}}")
    await add_leads(ws, campaign, [person(2)])
    await pump.run()
    assert await _subjects(campaign.id) == ["Subject: Old First1", "Subject: New First2"]
