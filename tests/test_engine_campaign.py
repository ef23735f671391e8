"""A branching campaign of 200 leads from launch to the end, on the backend's real broker and workers.

Embedded: the in-process broker with worker threads on this event loop, and the scheduler in-process.
Real (PostgreSQL + Redis): two `python -m tasks.scheduler` and two `dramatiq tasks` processes on one
campaign; then a worker killed with SIGKILL mid-run while this process schedules.
Emails go through a real SMTP server (aiosmtpd) started by the test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from engine import channels, queue
from engine.scheduler import Scheduler
from models import ActionClaim, Activity, Lead
from models.enums import ActivityKind, ClaimState, ConditionType, LeadStatus, StepType
from tasks import runtime
from tests.engine_helpers import (
    add_leads,
    assert_counters_match,
    make_campaign,
    make_identity,
    person,
    statuses,
    step,
    wait_for,
)
from tests.smtp_sink import SmtpSink

ROOT = Path(__file__).resolve().parent.parent
LEADS = 200
SEQUENCE = [
    step(StepType.LINKEDIN_VISIT_PROFILE),
    step(
        StepType.CONDITION,
        condition=ConditionType.HAS_EMAIL,
        on_true=[step(StepType.EMAIL, subject="Hello {{firstName}}", content="Hi {{firstName}} at {{company}}.")],
        on_false=[
            step(
                StepType.LINKEDIN_CONNECTION,
                content="Hi {{firstName}}",
                wait_for_acceptance_days=0,
                on_accepted=[step(StepType.LINKEDIN_MESSAGE, content="Thanks")],
                on_not_accepted=[step(StepType.END)],
            )
        ],
    ),
    step(StepType.LINKEDIN_LIKE_LAST_POST),
]


def _people() -> list[dict[str, Any]]:
    return [person(i, email=None) if i % 4 == 0 else person(i) for i in range(LEADS)]


async def _launch(workspace: Any) -> tuple[Any, Any]:
    ws, _ = workspace
    identity = await make_identity(ws, daily_emails=1000, daily_connection_requests=1000, monthly_conversations=1000)
    campaign, _ = await make_campaign(ws, identity, SEQUENCE)
    await add_leads(ws, campaign, _people())
    return campaign, identity


async def _all_finished(campaign: Any) -> bool:
    async def finished() -> bool:
        return await Lead.filter(campaign_id=campaign.id, status=LeadStatus.FINISHED).count() == LEADS

    return await finished()


async def _all_settled(campaign: Any) -> bool:
    """Every lead finished, or stopped in ERROR (an action a killed worker cut short)."""
    statuses = (LeadStatus.FINISHED, LeadStatus.ERROR)
    return await Lead.filter(campaign_id=campaign.id, status__in=statuses).count() == LEADS


async def _assert_outcome(
    campaign: Any, sink: SmtpSink, *, lost_allowed: int = 0, interrupted_allowed: int = 0
) -> None:
    """Every lead finished once; one SMTP message per email step per lead; log and counters agree.

    `interrupted_allowed`: a worker was killed; the actions it was handing over leave at most that many
    leads in ERROR / SYSTEM_ERROR, saying the action may not have gone out, with nothing logged as sent
    for it (an email the server accepted just before the kill is in the sink, but not in the log)."""
    found = await statuses(campaign)
    interrupted = found.pop(("ERROR", "SYSTEM_ERROR"), 0)
    assert found == {("FINISHED", "COMPLETED"): LEADS - interrupted} and interrupted <= interrupted_allowed
    leads = {lead.id: lead for lead in await Lead.filter(campaign_id=campaign.id).prefetch_related("contact")}
    activities = await Activity.filter(campaign_id=campaign.id).values("lead_id", "kind", "step_id", "external_id")
    per_lead: dict[int, list[str]] = {lead_id: [] for lead_id in leads}
    for row in activities:
        per_lead[row["lead_id"]].append(getattr(row["kind"], "value", row["kind"]))
    emailed = {lead_id for lead_id, lead in leads.items() if lead.contact.email}
    for lead_id, kinds in per_lead.items():
        if lead_id in emailed:
            path = Counter({"PROFILE_VISITED": 1, "EMAIL_SENT": 1, "POST_LIKED": 1})
        else:
            path = Counter({"PROFILE_VISITED": 1, "INVITATION_SENT": 1, "INVITATION_WITHDRAWN": 1})
        if leads[lead_id].status == LeadStatus.ERROR:
            assert "may not have gone out" in (leads[lead_id].error_message or "")
            done = Counter(kinds) - Counter({"LEAD_ERROR": 1})
            assert kinds.count("LEAD_ERROR") == 1 and done <= path and done != path, kinds
        else:
            assert Counter(kinds) == path, kinds

    by_message_id = {row["external_id"]: row for row in activities if row["kind"] == ActivityKind.EMAIL_SENT}
    cut_short = set(
        await ActionClaim.filter(lead__campaign_id=campaign.id, state=ClaimState.INTERRUPTED).values_list(
            "external_id", flat=True
        )
    )
    received = sink.snapshot()
    counts = Counter(m.message_id for m in received)
    assert max(counts.values()) == 1, "an email was sent twice"
    assert len(received) >= len(emailed) - lost_allowed
    for message in received:
        if message.message_id not in by_message_id:
            assert message.message_id in cut_short, "an email went out that is neither logged nor interrupted"
            continue
        row = by_message_id[message.message_id]
        contact = leads[row["lead_id"]].contact
        assert message.mail_from == "ada@sender.test" and message.rcpt_tos == [contact.email]
        assert message.message["Subject"] == f"Hello {contact.first_name}"
        assert message.body == f"Hi {contact.first_name} at {contact.company}."
    for lead in leads.values():
        logged = set(per_lead[lead.id])
        assert lead.em_sent == ("EMAIL_SENT" in logged)
        assert lead.li_engaged == bool(logged & {"PROFILE_VISITED", "POST_LIKED", "INVITATION_SENT"})
    await assert_counters_match(campaign.id)


def _reconcile(backend: Any) -> None:
    done = subprocess.run(
        [sys.executable, "server.py", "reconcile"], cwd=ROOT, env=backend.env(), capture_output=True, text=True
    )
    assert done.returncode == 0 and "no drift" in done.stdout, done.stdout + done.stderr


@pytest.fixture
async def embedded_engine(settings: Any, backend: Any) -> AsyncIterator[SmtpSink]:
    if backend.real:
        pytest.skip("the embedded broker runs on the embedded backend")
    with SmtpSink() as sink:
        engine = await runtime.start(settings.model_copy(update={"smtp_url": sink.url, "scheduler": True}))
        try:
            yield sink
        finally:
            await engine.stop()
            channels.configure(None)


async def test_branching_campaign_runs_to_the_end_embedded(
    workspace: Any, embedded_engine: SmtpSink, backend: Any
) -> None:
    campaign, _ = await _launch(workspace)
    await wait_for(lambda: _all_finished(campaign), seconds=120)
    await _assert_outcome(campaign, embedded_engine)
    _reconcile(backend)


# ------------------------------------------------------------------------------------------ real backend


def _spawn(backend: Any, sink: SmtpSink, name: str, command: list[str]) -> subprocess.Popen[bytes]:
    # A send's attempt deadline of 2 s: an action a killed worker left being sent is called interrupted
    # after 3 x 2 s + 2 s (engine/send.py interrupted_after), well within a run.
    env = backend.env() | {"SMTP_URL": sink.url, "OUTBOUND_LEASE_SECONDS": "3", "OUTBOUND_SEND_ATTEMPT_SECONDS": "2"}
    log = (backend.tmp / f"{name}.log").open("wb")
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: killed with its forked worker process
    )


def _start_worker(backend: Any, sink: SmtpSink, name: str) -> subprocess.Popen[bytes]:
    return _spawn(backend, sink, name, [str(ROOT / ".venv" / "bin" / "dramatiq"), "tasks", "-p", "1", "-t", "4"])


def _start_scheduler(backend: Any, sink: SmtpSink, name: str) -> subprocess.Popen[bytes]:
    return _spawn(backend, sink, name, [sys.executable, "-m", "tasks.scheduler"])


def _stop(process: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """SIGKILL by default: the run is over, and a graceful dramatiq shutdown takes many seconds."""
    if process.poll() is None:
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture
async def real_broker(settings: Any, backend: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """This process as the API: it enqueues on Redis, workers are separate processes."""
    if not backend.real:
        pytest.skip("worker processes need Redis")
    monkeypatch.setattr(queue, "LEASE_SECONDS", 3.0)
    engine = await runtime.start(settings.model_copy(update={"scheduler": False}))
    try:
        yield
    finally:
        await engine.stop()


async def test_separate_scheduler_and_worker_processes_never_send_twice(
    workspace: Any, real_broker: None, backend: Any
) -> None:
    with SmtpSink() as sink:
        # Two schedulers and two workers, each its own process, on one campaign.
        processes = [_start_scheduler(backend, sink, f"scheduler{i}") for i in range(2)]
        processes += [_start_worker(backend, sink, f"worker{i}") for i in range(2)]
        try:
            campaign, _ = await _launch(workspace)
            await wait_for(lambda: _all_finished(campaign), seconds=120)
        finally:
            for process in processes:
                _stop(process)
        await _assert_outcome(campaign, sink)
    _reconcile(backend)


async def test_a_worker_killed_mid_run_every_lead_still_finishes_once(
    workspace: Any, real_broker: None, backend: Any
) -> None:
    scheduler = Scheduler(interval=0.5, lease=3.0)  # in this process, as in an API with SCHEDULER=true
    scheduler.start()
    with SmtpSink(delay=0.05) as sink:
        doomed = _start_worker(backend, sink, "doomed")
        survivor = None
        try:
            campaign, _ = await _launch(workspace)

            async def some_sent() -> bool:
                return len(sink.snapshot()) >= 20

            await wait_for(some_sent, seconds=60, interval=0.05)
            _stop(doomed)
            survivor = _start_worker(backend, sink, "survivor")
            await wait_for(lambda: _all_settled(campaign), seconds=120)
        finally:
            _stop(doomed)
            if survivor is not None:
                _stop(survivor)
            await scheduler.stop()
        # At most once: an action the killed worker was handing over (4 threads) is not resent, nor counted
        # as done: its lead says so, in ERROR.
        await _assert_outcome(campaign, sink, lost_allowed=4, interrupted_allowed=4)
    _reconcile(backend)
