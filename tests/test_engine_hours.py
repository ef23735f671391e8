"""Working hours and usage periods in the identity's time zone, across DST changes (pure, no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from engine import hours
from engine.decide import IdentityView, LeadView, Wait, decide
from engine.sequence import Sequence, StepView
from models.enums import LeadStatus, LeadSubstatus, StepType

MADRID = hours.WorkingHours("Europe/Madrid", 0b0011111, "09:00", "18:00")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # Friday evening before the autumn change (CEST, UTC+2) -> Monday 09:00 CET (UTC+1) = 08:00 UTC.
        (utc(2026, 10, 23, 17, 0), utc(2026, 10, 26, 8, 0)),
        # Friday evening before the spring change (CET, UTC+1) -> Monday 09:00 CEST (UTC+2) = 07:00 UTC.
        (utc(2026, 3, 27, 18, 0), utc(2026, 3, 30, 7, 0)),
        # Inside the window: now.
        (utc(2026, 10, 26, 8, 30), utc(2026, 10, 26, 8, 30)),
        # Before the window on a working day: today's start.
        (utc(2026, 10, 27, 6, 0), utc(2026, 10, 27, 8, 0)),
    ],
)
def test_next_window_start_is_dst_correct(now: datetime, expected: datetime) -> None:
    assert hours.next_window_start(now, MADRID) == expected


def test_window_end_is_local() -> None:
    # 16:30 UTC is 18:30 CEST in summer (closed) but 17:30 CET in winter (open).
    assert not hours.in_window(utc(2026, 7, 1, 16, 30), MADRID)
    assert hours.in_window(utc(2026, 1, 7, 16, 30), MADRID)


def test_daily_period_and_next_day_follow_the_local_calendar_over_dst() -> None:
    zone = ZoneInfo("Europe/Madrid")
    # 23:30 UTC on 24 Oct is already Sunday 25 Oct 01:30 in Madrid: the day that has 25 hours.
    assert hours.day_period(utc(2026, 10, 24, 23, 30), zone) == "2026-10-25"
    assert hours.next_day_start(utc(2026, 10, 24, 23, 30), zone) == utc(2026, 10, 25, 23, 0)
    assert hours.next_month_start(utc(2026, 10, 31, 23, 30), zone) == utc(2026, 11, 30, 23, 0)
    assert hours.month_period(utc(2026, 10, 31, 23, 30), zone) == "2026-11"


def test_a_wait_over_the_dst_change_shows_outside_working_hours() -> None:
    step = StepView(1, 1, StepType.LINKEDIN_VISIT_PROFILE)
    lead = LeadView(LeadStatus.IN_PROGRESS, LeadSubstatus.SCHEDULED, 1, linkedin_url="https://linkedin.com/in/x")
    identity = IdentityView(linkedin_url="https://linkedin.com/in/me", linkedin_connected=True, working_hours=MADRID)
    assert decide(lead, Sequence([step]), identity, utc(2026, 10, 24, 12, 0)) == Wait(
        step, utc(2026, 10, 26, 8, 0), LeadSubstatus.OUTSIDE_WORKING_HOURS
    )


@pytest.mark.parametrize("bad", [hours.WorkingHours("Nowhere/City"), hours.WorkingHours(start="18:00", end="09:00"),
                                 hours.WorkingHours(days_mask=0), hours.WorkingHours(start="9am")])  # fmt: skip
def test_invalid_working_hours_are_refused(bad: hours.WorkingHours) -> None:
    with pytest.raises(hours.InvalidWorkingHours):
        bad.validate()
