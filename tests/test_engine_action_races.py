"""Races of issue 16 point 1. An action in flight when an archive or a pause commits: the lead stays where
that left it, but its flags and the counters follow the Activity log (an email that went out counts as sent).
An email interrupted by a crash: never counted as sent, never sent again by itself, shown as such (ERROR),
sent again by Retry. A lease that runs out while the lead's message still waits in the queue:
tests/test_engine_leases.py."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from domain.lifecycle import archive_campaign, pause_campaign
from engine import channels, claims, runner, scheduler, send
from engine.queue import LEASE_SECONDS
from models import Activity, Lead
from models.enums import ActivityKind, LeadStatus, StepType
from tests.engine_helpers import add_leads, assert_counters_match, make_campaign, make_identity, person, step
from tests.factories import gid

AUDIENCE = """query($id: ID!) { campaign(id: $id) {
    audience { nodes { id status error { substatus message hint } } } } }"""


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


async def test_an_email_interrupted_by_a_crash_is_not_counted_as_sent_and_retry_sends_it_once(
    workspace: Any, gql: Any, frozen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, _ = workspace
    campaign, _ = await make_campaign(ws, await make_identity(ws), [step(StepType.EMAIL, subject="Hi", content="Yo")])
    (lead,) = await add_leads(ws, campaign, [person(1)])

    async def killed_mid_send(*args: Any) -> str | None:
        raise KeyboardInterrupt  # what a SIGKILL leaves: the step stops here, nothing after it runs

    monkeypatch.setattr(send, "deliver", killed_mid_send)
    with pytest.raises(KeyboardInterrupt):
        await runner.step(lead.id)
    monkeypatch.undo()
    # Once no send can still be running, the next delivery says what happened (the scheduler hands it out).
    frozen.advance(send.interrupted_after() + timedelta(seconds=1))
    assert (await runner.step(lead.id)).what == "interrupted"
    assert not channels.email_sandbox.actions  # nothing was ever sent...
    after = await Lead.get(id=lead.id)
    assert not after.em_sent and not after.contacted  # ...so nothing counts as sent
    assert await Activity.filter(lead_id=lead.id, kind=ActivityKind.EMAIL_SENT).count() == 0
    await assert_counters_match(campaign.id)
    assert (await runner.step(lead.id)).what == "not-due"  # and nothing sends it by itself

    # The audience shows it in ERROR, saying plainly what happened and what Retry does.
    data = await gql(AUDIENCE, {"id": gid(campaign)})
    (node,) = data["campaign"]["audience"]["nodes"]
    assert (node["status"], node["error"]["substatus"]) == ("ERROR", "SYSTEM_ERROR")
    assert node["error"]["message"] == claims.interrupted_message(ActivityKind.EMAIL_SENT)
    assert "may not have gone out and is not counted as sent. Retry sends it again." in node["error"]["message"]

    # Retry sends it exactly once more.
    retried = await gql("mutation($id: ID!) { retryLead(id: $id) { errors { code } } }", {"id": node["id"]})
    assert retried["retryLead"]["errors"] == []
    assert (await runner.step(lead.id)).what == "done"
    frozen.advance(timedelta(minutes=10))
    assert (await runner.step(lead.id)).what in ("not-due", "gone")
    assert len(channels.email_sandbox.actions) == 1
    assert (await Lead.get(id=lead.id)).em_sent
    assert await Activity.filter(lead_id=lead.id, kind=ActivityKind.EMAIL_SENT).count() == 1
    await assert_counters_match(campaign.id)


class _HeldSend:
    """The first delivery's send, held open until `release`: a slow SMTP server, as a redelivery sees it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started, self.go = asyncio.Event(), asyncio.Event()
        real = send.deliver

        async def held(*args: Any) -> Any:
            self.started.set()
            await self.go.wait()
            return await real(*args)

        monkeypatch.setattr(send, "deliver", held)

    async def first(self, lead_id: int) -> asyncio.Task[Any]:
        task = asyncio.create_task(runner.step(lead_id))
        await asyncio.wait_for(self.started.wait(), 10)
        return task

    async def release(self, task: asyncio.Task[Any]) -> str:
        self.go.set()
        return (await asyncio.wait_for(task, 10)).what


async def test_a_redelivery_while_the_first_send_is_in_progress_sends_nothing_and_changes_nothing(
    workspace: Any, frozen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, _ = workspace
    campaign, _ = await make_campaign(ws, await make_identity(ws), [step(StepType.EMAIL, subject="Hi", content="Yo")])
    (lead,) = await add_leads(ws, campaign, [person(1)])
    held = _HeldSend(monkeypatch)
    first = await held.first(lead.id)
    before = await Lead.get(id=lead.id)

    # The lease ran out while the server is slow: the scheduler hands the lead out again.
    later = frozen.now() + timedelta(seconds=LEASE_SECONDS + 1)
    assert (await runner.step(lead.id, now=later)).what == "in-flight"
    during = await Lead.get(id=lead.id)
    assert (during.status, during.substatus, during.state_version) == (
        before.status,
        before.substatus,
        before.state_version,
    )
    assert not during.em_sent and not channels.email_sandbox.actions
    assert await Activity.filter(lead_id=lead.id).count() == 0
    # It does not come back at every tick meanwhile: the lead is held until the send could be interrupted.
    assert await scheduler.claim_due_leads(later + timedelta(seconds=LEASE_SECONDS + 1)) == []

    assert await held.release(first) == "done"  # the first send finishes: it wins, once
    after = await Lead.get(id=lead.id)
    assert after.em_sent and len(channels.email_sandbox.actions) == 1
    assert await Activity.filter(lead_id=lead.id, kind=ActivityKind.EMAIL_SENT).count() == 1
    await assert_counters_match(campaign.id)


async def test_a_send_that_finishes_after_it_was_called_interrupted_does_not_overwrite_the_error(
    workspace: Any, frozen: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The order the claim's compare-and-set decides: the interruption committed first, so it stands (the
    log never says both). Only a commit later than the send's deadline plus a whole attempt gets here."""
    ws, _ = workspace
    campaign, _ = await make_campaign(ws, await make_identity(ws), [step(StepType.EMAIL, subject="Hi", content="Yo")])
    (lead,) = await add_leads(ws, campaign, [person(1)])
    held = _HeldSend(monkeypatch)
    first = await held.first(lead.id)

    late = frozen.now() + send.interrupted_after() + timedelta(seconds=1)
    assert (await runner.step(lead.id, now=late)).what == "interrupted"
    assert await held.release(first) == "interrupted-late"
    after = await Lead.get(id=lead.id)
    assert (after.status, after.em_sent) == (LeadStatus.ERROR, False)
    assert await Activity.filter(lead_id=lead.id, kind=ActivityKind.EMAIL_SENT).count() == 0
    await assert_counters_match(campaign.id)
