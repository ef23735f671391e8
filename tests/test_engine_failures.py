"""No endless failures: a step that raises the same way a few times moves its lead to ERROR / SYSTEM_ERROR."""

from __future__ import annotations

from typing import Any

import pytest

from engine import chain, failures
from engine.retry import retry_lead
from engine.scheduler import Scheduler
from models import Activity, Lead, SequenceStep
from models.enums import ActivityKind, LeadStatus, LeadSubstatus, StepType
from tests.engine_helpers import (
    activity_kinds,
    add_leads,
    assert_counters_match,
    make_campaign,
    make_identity,
    person,
    reload,
    step,
    wait_for,
)
from tests.smtp_sink import SmtpSink
from tests.test_engine_campaign import (  # noqa: F401  (fixtures: the engine in this process, or on Redis)
    _start_worker,
    _stop,
    embedded_engine,
    real_broker,
)


async def _overflowing_lead(workspace: Any) -> tuple[Lead, SequenceStep]:
    """A lead whose first step holds a value the input layer now refuses (waitForAcceptanceDays past 365),
    written straight into the row as an older version of the API let it be: the engine's date arithmetic
    overflows on it (OverflowError) every time the step runs."""
    identity = await make_identity(workspace)
    campaign, steps = await make_campaign(
        workspace,
        identity,
        [step(StepType.LINKEDIN_CONNECTION, wait_for_acceptance_days=2_147_483_647), step(StepType.END)],
    )
    (lead,) = await add_leads(workspace, campaign, [person(1)])
    return lead, steps[0]


async def _run_as_the_broker_would(lead: Lead, times: int) -> list[str]:
    """The actor's body (engine/chain.py), delivered `times` times as the broker's retries and the
    scheduler's re-claims deliver it: each failure raised to the broker is one more retry."""
    outcomes: list[str] = []
    for _ in range(times):
        current = await Lead.get(id=lead.id)
        try:
            outcomes += await chain.run_chain(lead.id, current.state_version)
        except OverflowError:
            outcomes.append("raised")
    return outcomes


async def test_a_step_that_keeps_failing_ends_in_error(workspace: Any, frozen: Any, caplog: Any) -> None:
    ws, _ = workspace
    lead, connection = await _overflowing_lead(ws)

    outcomes = await _run_as_the_broker_would(lead, failures.FAILURE_LIMIT + 3)

    # Retried as usual below the limit, stopped at it, and never run again after.
    assert outcomes[: failures.FAILURE_LIMIT - 1] == ["raised"] * (failures.FAILURE_LIMIT - 1)
    assert outcomes[failures.FAILURE_LIMIT - 1] == "error"
    assert "raised" not in outcomes[failures.FAILURE_LIMIT :]
    lead = await reload(lead)
    assert (lead.status, lead.substatus) == (LeadStatus.ERROR, LeadSubstatus.SYSTEM_ERROR)
    assert lead.current_step_id == connection.id
    assert f"failed {failures.FAILURE_LIMIT} times (OverflowError)" in (lead.error_message or "")
    assert "retry the lead" in (lead.error_hint or "")
    assert lead.next_action_at is None and lead.claimed_until is None
    assert (await activity_kinds(lead)).count(ActivityKind.LEAD_ERROR.value) == 1
    error = await Activity.get(lead_id=lead.id, kind=ActivityKind.LEAD_ERROR)
    assert error.step_id == connection.id and "SYSTEM_ERROR" in (error.detail or "")
    await assert_counters_match(lead.campaign_id)
    # Logged as an error once (the retries before it are warnings, without a traceback).
    stopped = [r for r in caplog.records if r.levelname == "ERROR" and "now in ERROR" in r.getMessage()]
    assert len(stopped) == 1 and stopped[0].exc_info is not None


async def test_retry_after_the_fix_runs_the_step_again(workspace: Any, frozen: Any) -> None:
    ws, _ = workspace
    lead, connection = await _overflowing_lead(ws)
    await _run_as_the_broker_would(lead, failures.FAILURE_LIMIT)
    assert (await reload(lead)).status == LeadStatus.ERROR

    await SequenceStep.filter(id=connection.id).update(wait_for_acceptance_days=7)  # the cause, fixed
    await retry_lead(ws.id, lead.id)
    assert await _run_as_the_broker_would(lead, 1) != ["raised"]
    lead = await reload(lead)
    assert lead.status == LeadStatus.IN_PROGRESS
    assert lead.step_failures == 0
    assert ActivityKind.INVITATION_SENT.value in await activity_kinds(lead)


@pytest.mark.parametrize("failures_before", [1, failures.FAILURE_LIMIT - 1])
async def test_failures_count_per_step(workspace: Any, frozen: Any, failures_before: int) -> None:
    """Failures counted at another step (the lead has moved on since) do not add up with this step's."""
    ws, _ = workspace
    lead, connection = await _overflowing_lead(ws)
    await Lead.filter(id=lead.id).update(step_failures=failures_before, failing_step=connection.id + 99)
    assert await _run_as_the_broker_would(lead, 1) == ["raised"]
    lead = await reload(lead)
    assert lead.status != LeadStatus.ERROR
    assert (lead.step_failures, lead.failing_step) == (1, connection.id)


# ------------------------------------------------------------ through the broker, its retries and the scheduler


async def _ends_in_error(lead: Lead) -> bool:
    return (await Lead.get(id=lead.id)).status == LeadStatus.ERROR


@pytest.mark.usefixtures("embedded_engine")
async def test_the_broker_stops_retrying_embedded(workspace: Any) -> None:
    """The in-process broker and scheduler, as `make run` serves: the lead ends in ERROR within the first
    message's retries (1 + ~2 + ~4 s of backoff) and is never run again."""
    ws, _ = workspace
    lead, _ = await _overflowing_lead(ws)
    await wait_for(lambda: _ends_in_error(lead), seconds=60)
    lead = await reload(lead)
    assert lead.substatus == LeadSubstatus.SYSTEM_ERROR
    assert (await activity_kinds(lead)).count(ActivityKind.LEAD_ERROR.value) == 1


@pytest.mark.usefixtures("real_broker")
async def test_the_broker_stops_retrying_in_a_worker_process(workspace: Any, backend: Any) -> None:
    """A `dramatiq tasks` worker process on Redis, with the scheduler re-claiming the lead in this one."""
    scheduler = Scheduler(interval=0.5, lease=3.0)
    scheduler.start()
    with SmtpSink() as sink:
        worker = _start_worker(backend, sink, "failing")
        try:
            ws, _ = workspace
            lead, _ = await _overflowing_lead(ws)
            await wait_for(lambda: _ends_in_error(lead), seconds=90)
        finally:
            _stop(worker)
            await scheduler.stop()
    lead = await reload(lead)
    assert lead.substatus == LeadSubstatus.SYSTEM_ERROR
    assert (await activity_kinds(lead)).count(ActivityKind.LEAD_ERROR.value) == 1
