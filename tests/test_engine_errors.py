"""ERROR substatuses where they arise, retryLead, provider failures, and exactly-once under redelivery."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from domain.errors import InvalidTransition
from engine import channels, placement, runner, send
from engine.retry import retry_lead
from models import Activity, Contact, Identity, IdentityUsage
from models.enums import ActivityKind, LeadStatus, LeadSubstatus, StepType
from tests.engine_helpers import (
    T0,
    Pump,
    activity_kinds,
    add_leads,
    assert_counters_match,
    make_campaign,
    make_identity,
    person,
    reload,
    step,
)

S = LeadSubstatus
EMAIL = step(StepType.EMAIL, subject="Hi {{firstName}}", content="Body")
INMAIL = step(StepType.LINKEDIN_INMAIL, subject="Hi", content="Body")
VISIT = step(StepType.LINKEDIN_VISIT_PROFILE)


# (substatus, step, identity fields, contact fields, the fix applied before retrying)
ERROR_CASES = [
    (S.LINKEDIN_DISCONNECTED, VISIT, {"linkedin_connected": False}, {}, ("identity", {"linkedin_connected": True})),
    (S.IDENTITY_MISCONFIGURATION, VISIT, {"timezone": "Mars/Base"}, {}, ("identity", {"timezone": "UTC"})),
    (S.LEAD_NOT_SCRAPED, VISIT, {}, {"linkedin_url": None}, ("contact", {"linkedin_url": "https://li.test/x"})),
    (S.MISSING_EMAIL, EMAIL, {"email_address": None}, {}, ("identity", {"email_address": "a@b.test"})),
    (S.INVALID_IDENTITY_EMAIL, EMAIL, {"email_address": "nope"}, {}, ("identity", {"email_address": "a@b.test"})),
    (S.EMAIL_DISCONNECTED, EMAIL, {"email_connected": False}, {}, ("identity", {"email_connected": True})),
    (S.MISSING_CONTACT_EMAIL, EMAIL, {}, {"email": None}, ("contact", {"email": "x@y.test"})),
    (S.MISSING_EMAIL_SUBJECT, step(StepType.EMAIL, content="B"), {}, {}, None),
    (S.MISSING_INMAIL_SUBJECT, step(StepType.LINKEDIN_INMAIL, content="B"), {}, {}, None),
    (S.INMAIL_CREDITS_LIMIT, INMAIL, {"inmail_credits": 0}, {}, ("identity", {"inmail_credits": 5})),
    (S.MESSAGE_TOO_LONG, step(StepType.LINKEDIN_CONNECTION, content="{{company}}" + "x" * 295), {}, {}, None),
]


@pytest.mark.parametrize(("substatus", "spec", "identity_fields", "contact_fields", "fix"), ERROR_CASES,
                         ids=[c[0].value for c in ERROR_CASES])  # fmt: skip
async def test_error_substatus_then_retry(
    workspace: Any,
    frozen: Any,
    pump: Pump,
    substatus: S,
    spec: Any,
    identity_fields: Any,
    contact_fields: Any,
    fix: Any,
) -> None:
    ws, _ = workspace
    identity = await make_identity(ws, **identity_fields)
    campaign, steps = await make_campaign(ws, identity, [spec, step(StepType.LINKEDIN_LIKE_LAST_POST)])
    broken, fine = await add_leads(ws, campaign, [person(1, **contact_fields), person(2)])
    await pump.run()

    lead = await reload(broken)
    assert (lead.status, lead.substatus, lead.current_step_id) == (LeadStatus.ERROR, substatus, steps[0].id)
    assert lead.error_message and lead.error_hint and lead.error_at == T0 and lead.next_action_at is None
    assert await activity_kinds(lead) == ["LEAD_ERROR"]
    if contact_fields:  # an error of one lead never blocks the others
        assert (await reload(fine)).status == LeadStatus.FINISHED
    await assert_counters_match(campaign.id)

    if fix is None:
        return
    kind, changes = fix
    if kind == "identity":
        await Identity.filter(id=identity.id).update(**changes)
    else:
        await Contact.filter(id=lead.contact_id).update(**changes)
    lead = await retry_lead(ws.id, lead.id)
    assert (lead.status, lead.substatus, lead.attempt, lead.error_message) == (
        LeadStatus.IN_PROGRESS,
        S.SCHEDULED,
        1,
        None,
    )
    await pump.run()
    lead = await reload(lead)
    assert (lead.status, lead.substatus) == (LeadStatus.FINISHED, S.COMPLETED)
    assert (await Activity.filter(lead_id=lead.id, kind=ActivityKind.LEAD_ERROR).count()) == 1
    await assert_counters_match(campaign.id)


async def test_retry_only_from_error(workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    campaign, _ = await make_campaign(ws, await make_identity(ws), [VISIT])
    (lead,) = await add_leads(ws, campaign, [person(1)])
    with pytest.raises(InvalidTransition):
        await retry_lead(ws.id, lead.id)


async def test_provider_failure_after_retries_is_system_error_and_retry_sends_once(
    workspace: Any, frozen: Any, pump: Pump, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(send, "SEND_BACKOFF", 0.0)
    ws, _ = workspace
    identity = await make_identity(ws, daily_emails=5)
    campaign, steps = await make_campaign(ws, identity, [EMAIL])
    (lead,) = await add_leads(ws, campaign, [person(1)])
    channels.email_sandbox.fail_next(send.SEND_ATTEMPTS)
    await pump.run()

    lead = await reload(lead)
    assert (lead.status, lead.substatus) == (LeadStatus.ERROR, S.SYSTEM_ERROR)
    assert "simulated provider failure" in lead.error_message
    assert await activity_kinds(lead) == ["LEAD_ERROR"]  # the claimed EMAIL_SENT was taken back
    assert await IdentityUsage.filter(identity_id=identity.id, kind="email").values_list("used", flat=True) == [0]
    assert not lead.em_sent

    await retry_lead(ws.id, lead.id)
    await pump.run()
    lead = await reload(lead)
    assert (lead.status, lead.em_sent) == (LeadStatus.FINISHED, True)
    assert list(channels.email_sandbox.actions) == [f"{lead.id}:{steps[0].id}:1"]
    assert await IdentityUsage.filter(identity_id=identity.id, kind="email").values_list("used", flat=True) == [1]
    await assert_counters_match(campaign.id)


async def test_concurrent_deliveries_send_once(workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    campaign, _ = await make_campaign(ws, await make_identity(ws), [EMAIL, VISIT])
    leads = await add_leads(ws, campaign, [person(i) for i in range(10)])
    # Every lead delivered three times at once (a redelivery racing the original and a re-claim).
    results = await asyncio.gather(*(runner.run_step(lead.id, lead.state_version) for lead in leads for _ in range(3)))
    assert results.count("done") == 10
    await pump.run()
    assert len(channels.email_sandbox.actions) == 10
    for lead in leads:
        assert await activity_kinds(lead) == ["EMAIL_SENT", "PROFILE_VISITED"]
        assert (await reload(lead)).status == LeadStatus.FINISHED
    await assert_counters_match(campaign.id)


async def test_crash_after_send_before_advance_does_not_send_again(
    workspace: Any, frozen: Any, pump: Pump, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws, _ = workspace
    campaign, _ = await make_campaign(ws, await make_identity(ws), [EMAIL])
    (lead,) = await add_leads(ws, campaign, [person(1)])
    original = placement.after_action

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("worker died")

    monkeypatch.setattr(placement, "after_action", crash)
    with pytest.raises(RuntimeError):
        await runner.run_step(lead.id)
    assert len(channels.email_sandbox.actions) == 1
    assert (await reload(lead)).status == LeadStatus.IN_PROGRESS  # claimed, not advanced

    monkeypatch.setattr(placement, "after_action", original)
    frozen.advance(minutes=5)  # the lease passes: the scheduler claims it again
    await pump.run()
    lead = await reload(lead)
    assert (lead.status, lead.em_sent) == (LeadStatus.FINISHED, True)
    assert len(channels.email_sandbox.actions) == 1
    assert await activity_kinds(lead) == ["EMAIL_SENT"]
    await assert_counters_match(campaign.id)


async def test_retry_while_paused_waits_for_resume_and_not_when_archived(
    workspace: Any, frozen: Any, pump: Pump
) -> None:
    from domain.lifecycle import archive_campaign, pause_campaign, resume_campaign

    ws, _ = workspace
    identity = await make_identity(ws, linkedin_connected=False)
    campaign, _ = await make_campaign(ws, identity, [VISIT])
    (lead,) = await add_leads(ws, campaign, [person(1)])
    await pump.run()
    await pause_campaign(ws.id, campaign.id)
    await Identity.filter(id=identity.id).update(linkedin_connected=True)
    lead = await retry_lead(ws.id, lead.id)
    assert (lead.status, lead.substatus, lead.attempt) == (LeadStatus.PAUSED, S.CAMPAIGN_PAUSED, 1)
    await pump.run()
    assert await activity_kinds(lead) == ["LEAD_ERROR"]
    await resume_campaign(ws.id, campaign.id)
    await pump.run()
    assert (await reload(lead)).status == LeadStatus.FINISHED
    await assert_counters_match(campaign.id)

    other, _ = await make_campaign(ws, await make_identity(ws, linkedin_connected=False), [VISIT])
    (stuck,) = await add_leads(ws, other, [person(2)])
    await pump.run()
    await archive_campaign(ws.id, other.id)
    with pytest.raises(InvalidTransition):
        await retry_lead(ws.id, stuck.id)
