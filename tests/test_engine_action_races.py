"""An action in flight when an archive or a pause commits: the lead stays where that left it, but its flags
and the counters follow the Activity log (issue 16 point 1: an email that went out counts as sent)."""

from __future__ import annotations

from typing import Any

import pytest

from domain.lifecycle import archive_campaign, pause_campaign
from engine import runner, send
from models import Activity, Lead
from models.enums import ActivityKind, StepType
from tests.engine_helpers import add_leads, assert_counters_match, make_campaign, make_identity, person, step


@pytest.mark.parametrize("race", [archive_campaign, pause_campaign], ids=["archive", "pause"])
async def test_an_email_sent_while_the_campaign_changed_still_counts_as_sent(
    workspace: Any, frozen: Any, monkeypatch: pytest.MonkeyPatch, race: Any
) -> None:
    ws, _ = workspace
    campaign, _ = await make_campaign(ws, await make_identity(ws), [step(StepType.EMAIL, subject="Hi", content="Yo")])
    (lead,) = await add_leads(ws, campaign, [person(1)])
    real_deliver = send.deliver

    async def deliver_while_it_changes(*args: Any) -> str | None:
        failure = await real_deliver(*args)  # the email goes out...
        await race(ws.id, campaign.id)  # ...and the archive (or pause) commits before the advance
        return failure

    monkeypatch.setattr(send, "deliver", deliver_while_it_changes)
    assert (await runner.step(lead.id)).what == "moved"

    after = await Lead.get(id=lead.id)
    assert await Activity.filter(lead_id=lead.id, kind=ActivityKind.EMAIL_SENT).count() == 1
    assert after.em_sent and after.contacted
    await assert_counters_match(campaign.id)
