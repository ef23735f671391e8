"""Campaign.series: the Activity log per local bucket (domain.md, "The Overview over time and per step")."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from models.enums import ActivityKind, CampaignStatus, StepType
from tests import factories as f
from tests.conftest import GraphQLClient

SERIES = """query($id: ID!, $bucket: SeriesBucket, $from: DateTime, $to: DateTime, $tz: String) {
  campaign(id: $id) { series(bucket: $bucket, from: $from, to: $to, timezone: $tz) {
    start profileVisits invitationsSent invitationsAccepted linkedinMessagesSent emailsSent emailsClicked
    emailsBounced replies positiveReplies unsubscribes tasksCompleted errors } } }"""


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


async def series(gql: GraphQLClient, campaign: Any, **args: Any) -> list[dict[str, Any]]:
    data = await gql(SERIES, {"id": f.gid(campaign), **args})
    return data["campaign"]["series"]


async def series_error(gql: GraphQLClient, campaign: Any, **args: Any) -> dict[str, Any]:
    response = await gql.post(SERIES, {"id": f.gid(campaign), **args})
    assert response.status_code == 200
    body = response.json()
    assert body.get("errors"), body
    assert body["data"] is None or body["data"]["campaign"] is None
    return body["errors"][0]


async def one_lead(workspace: Any) -> tuple[Any, Any, list[Any]]:
    ws, _ = workspace
    campaign, steps = await f.campaign(ws, "Series", CampaignStatus.ACTIVE, [StepType.EMAIL])
    (lead,) = await f.leads(campaign, [await f.contact(ws, email="ana@example.com")])
    return campaign, lead, steps


def hours(points: list[dict[str, Any]], end: str) -> list[float]:
    starts = [at(p["start"]) for p in points] + [at(end)]
    return [(b - a).total_seconds() / 3600 for a, b in itertools.pairwise(starts)]


async def test_madrid_days_are_23_and_25_hours_long_across_dst(gql: GraphQLClient, workspace: Any) -> None:
    # given emails sent just after local midnight on the two DST Sundays of 2026 and just before
    campaign, lead, (email,) = await one_lead(workspace)
    sent = ActivityKind.EMAIL_SENT
    for instant in (
        "2026-03-28T22:59:00+00:00",  # 23:59 CET, Saturday 28 March
        "2026-03-28T23:00:00+00:00",  # 00:00 CET, Sunday 29 March (the 23-hour day)
        "2026-03-29T21:59:00+00:00",  # 23:59 CEST, still Sunday 29 March
        "2026-10-24T22:00:00+00:00",  # 00:00 CEST, Sunday 25 October (the 25-hour day)
        "2026-10-25T22:59:00+00:00",  # 23:59 CET, still Sunday 25 October
        "2026-10-25T23:00:00+00:00",  # 00:00 CET, Monday 26 October
    ):
        await f.activity(lead, sent, at(instant), step=email)

    # when the days around each change are asked for in Madrid's time
    march = await series(
        gql, campaign, **{"from": "2026-03-28T00:00:00+01:00", "to": "2026-03-31T00:00:00+02:00"}, tz="Europe/Madrid"
    )
    october = await series(
        gql, campaign, **{"from": "2026-10-24T00:00:00+02:00", "to": "2026-10-27T00:00:00+01:00"}, tz="Europe/Madrid"
    )

    # then each day runs from local midnight to local midnight, and counts what happened in it
    assert [p["start"] for p in march] == [
        "2026-03-27T23:00:00+00:00",
        "2026-03-28T23:00:00+00:00",
        "2026-03-29T22:00:00+00:00",
    ]
    assert hours(march, "2026-03-30T22:00:00+00:00") == [24, 23, 24]
    assert [p["emailsSent"] for p in march] == [1, 2, 0]
    assert [p["start"] for p in october] == [
        "2026-10-23T22:00:00+00:00",
        "2026-10-24T22:00:00+00:00",
        "2026-10-25T23:00:00+00:00",
    ]
    assert hours(october, "2026-10-26T23:00:00+00:00") == [24, 25, 24]
    assert [p["emailsSent"] for p in october] == [0, 2, 1]


async def test_madrid_hours_repeat_02_00_when_dst_ends(gql: GraphQLClient, workspace: Any) -> None:
    # given one email in each of the two 02:00 hours of 25 October (CEST, then CET)
    campaign, lead, (email,) = await one_lead(workspace)
    await f.activity(lead, ActivityKind.EMAIL_SENT, at("2026-10-25T02:30:00+02:00"), step=email)
    await f.activity(lead, ActivityKind.EMAIL_SENT, at("2026-10-25T02:30:00+01:00"), step=email)
    await f.activity(lead, ActivityKind.EMAIL_SENT, at("2026-10-25T02:45:00+01:00"), step=email)

    points = await series(
        gql,
        campaign,
        bucket="HOUR",
        tz="Europe/Madrid",
        **{"from": "2026-10-25T01:00:00+02:00", "to": "2026-10-25T04:00:00+01:00"},
    )

    madrid = ZoneInfo("Europe/Madrid")
    assert [at(p["start"]).astimezone(madrid).isoformat() for p in points] == [
        "2026-10-25T01:00:00+02:00",
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T03:00:00+01:00",
    ]
    assert [p["emailsSent"] for p in points] == [0, 1, 2, 0]

    # and in March the skipped 02:00 hour is not a bucket
    spring = await series(
        gql,
        campaign,
        bucket="HOUR",
        tz="Europe/Madrid",
        **{"from": "2026-03-29T01:00:00+01:00", "to": "2026-03-29T05:00:00+02:00"},
    )
    assert [at(p["start"]).astimezone(madrid).strftime("%H:%M%z") for p in spring] == [
        "01:00+0100",
        "03:00+0200",
        "04:00+0200",
    ]


async def test_new_york_days_follow_its_own_dst_dates(gql: GraphQLClient, workspace: Any) -> None:
    campaign, lead, (email,) = await one_lead(workspace)
    await f.activity(lead, ActivityKind.EMAIL_SENT, at("2026-03-08T04:30:00+00:00"), step=email)  # 23:30 EST, 7th
    await f.activity(lead, ActivityKind.EMAIL_SENT, at("2026-11-01T04:30:00+00:00"), step=email)  # 00:30 EDT, 1st

    march = await series(
        gql, campaign, tz="America/New_York", **{"from": "2026-03-07T00:00:00-05:00", "to": "2026-03-10T00:00:00-04:00"}
    )
    november = await series(
        gql, campaign, tz="America/New_York", **{"from": "2026-10-31T00:00:00-04:00", "to": "2026-11-03T00:00:00-05:00"}
    )

    assert hours(march, "2026-03-10T04:00:00+00:00") == [24, 23, 24]
    assert [p["emailsSent"] for p in march] == [1, 0, 0]
    assert hours(november, "2026-11-03T05:00:00+00:00") == [24, 25, 24]
    assert [p["emailsSent"] for p in november] == [0, 1, 0]


async def test_half_hour_and_quarter_hour_zones(gql: GraphQLClient, workspace: Any) -> None:
    # given visits a minute either side of Kolkata's midnight (18:30 UTC) and of a Kathmandu hour (XX:15 UTC)
    campaign, lead, (_email,) = await one_lead(workspace)
    visit = ActivityKind.PROFILE_VISITED
    for instant in (
        "2026-06-01T18:29:00+00:00",
        "2026-06-01T18:31:00+00:00",
        "2026-06-01T19:14:00+00:00",
        "2026-06-01T19:16:00+00:00",
    ):
        await f.activity(lead, visit, at(instant))
    window = {"from": "2026-06-01T00:00:00+05:30", "to": "2026-06-03T00:00:00+05:30"}

    days = await series(gql, campaign, tz="Asia/Kolkata", **window)
    kolkata_hours = await series(
        gql,
        campaign,
        bucket="HOUR",
        tz="Asia/Kolkata",
        **{"from": "2026-06-01T17:30:00Z", "to": "2026-06-01T20:30:00Z"},
    )
    kathmandu_hours = await series(
        gql,
        campaign,
        bucket="HOUR",
        tz="Asia/Kathmandu",
        **{"from": "2026-06-01T18:15:00Z", "to": "2026-06-01T20:15:00Z"},
    )

    assert [(p["start"], p["profileVisits"]) for p in days] == [
        ("2026-05-31T18:30:00+00:00", 1),
        ("2026-06-01T18:30:00+00:00", 3),
    ]
    assert [(p["start"], p["profileVisits"]) for p in kolkata_hours] == [
        ("2026-06-01T17:30:00+00:00", 1),
        ("2026-06-01T18:30:00+00:00", 3),
        ("2026-06-01T19:30:00+00:00", 0),
    ]
    assert [(p["start"], p["profileVisits"]) for p in kathmandu_hours] == [
        ("2026-06-01T18:15:00+00:00", 3),
        ("2026-06-01T19:15:00+00:00", 1),
    ]


async def test_each_field_counts_its_kinds_and_positive_replies_are_the_marked_ones(
    gql: GraphQLClient, workspace: Any
) -> None:
    campaign, lead, (_email,) = await one_lead(workspace)
    day = at("2026-06-10T12:00:00+00:00")
    K = ActivityKind
    for kind, n in [
        (K.PROFILE_VISITED, 1),
        (K.POST_LIKED, 1),
        (K.INVITATION_SENT, 2),
        (K.INVITATION_ACCEPTED, 1),
        (K.INVITATION_WITHDRAWN, 1),
        (K.LINKEDIN_MESSAGE_SENT, 2),
        (K.INMAIL_SENT, 1),
        (K.EMAIL_SENT, 3),
        (K.EMAIL_CLICKED, 1),
        (K.EMAIL_BOUNCED, 1),
        (K.TASK_CREATED, 2),
        (K.TASK_COMPLETED, 1),
        (K.LEAD_ERROR, 2),
    ]:
        for _ in range(n):
            await f.activity(lead, kind, day)
    # replies as recordLeadEvent labels them: positive, simulated positive, plain, and a message that only
    # looks like a label
    for detail in (
        "(positive)",
        "(simulated, positive) Let's talk",
        None,
        "(simulated) ok",
        "(positive)ly not interested",
        "positive, but later",
    ):
        await f.activity(lead, K.REPLY_RECEIVED, day, detail=detail)

    (point,) = await series(gql, campaign, **{"from": "2026-06-10T00:00:00Z", "to": "2026-06-11T00:00:00Z"})

    assert point == {
        "start": "2026-06-10T00:00:00+00:00",
        "profileVisits": 1,
        "invitationsSent": 2,
        "invitationsAccepted": 1,
        "linkedinMessagesSent": 3,
        "emailsSent": 3,
        "emailsClicked": 1,
        "emailsBounced": 1,
        "replies": 6,
        "positiveReplies": 2,
        "unsubscribes": 0,
        "tasksCompleted": 1,
        "errors": 2,
    }


async def test_a_positive_reply_through_the_api_counts_as_positive(gql: GraphQLClient, workspace: Any) -> None:
    campaign, lead, _ = await one_lead(workspace)
    mutation = """mutation($input: LeadEventInput!) { recordLeadEvent(input: $input) { errors { message } } }"""
    event = {
        "leadId": f.gid(lead),
        "kind": "REPLY_RECEIVED",
        "positive": True,
        "channel": "EMAIL",  # nothing was sent to this lead: a reply must say its channel
        "message": "Yes please",
        "occurredAt": "2026-06-10T12:00:00Z",
    }
    assert (await gql(mutation, {"input": event}))["recordLeadEvent"]["errors"] == []

    (point,) = await series(gql, campaign, **{"from": "2026-06-10T00:00:00Z", "to": "2026-06-11T00:00:00Z"})

    assert (point["replies"], point["positiveReplies"]) == (1, 1)


async def test_defaults_are_the_last_30_days_48_hours_12_weeks(gql: GraphQLClient, workspace: Any, frozen: Any) -> None:
    # given "now" on Wednesday 2026-03-04 14:20 UTC (15:20 in Madrid)
    frozen.set(at("2026-03-04T14:20:00+00:00"))
    campaign, lead, (email,) = await one_lead(workspace)
    await f.activity(lead, ActivityKind.EMAIL_SENT, at("2026-03-04T14:00:00+00:00"), step=email)
    await f.activity(lead, ActivityKind.EMAIL_SENT, at("2026-02-02T23:30:00+00:00"), step=email)  # 31 days ago

    days = await series(gql, campaign, tz="Europe/Madrid")
    hours_ = await series(gql, campaign, bucket="HOUR")
    weeks = await series(gql, campaign, bucket="WEEK", tz="Europe/Madrid")
    explicit_nulls = await series(gql, campaign, bucket=None, tz=None)

    assert len(days) == 30
    assert (days[0]["start"], days[-1]["start"]) == ("2026-02-02T23:00:00+00:00", "2026-03-03T23:00:00+00:00")
    assert days[-1]["emailsSent"] == 1 and days[0]["emailsSent"] == 1
    assert sum(p["emailsSent"] for p in days) == 2
    assert len(hours_) == 48
    assert (hours_[0]["start"], hours_[-1]["start"]) == ("2026-03-02T15:00:00+00:00", "2026-03-04T14:00:00+00:00")
    assert [p["emailsSent"] for p in hours_[-1:]] == [1]
    assert len(weeks) == 12
    madrid = ZoneInfo("Europe/Madrid")
    assert all(at(p["start"]).astimezone(madrid).strftime("%a %H:%M") == "Mon 00:00" for p in weeks)
    assert weeks[-1]["start"] == "2026-03-01T23:00:00+00:00"
    assert len(explicit_nulls) == 30 and explicit_nulls[-1]["start"] == "2026-03-04T00:00:00+00:00"

    # one end given: 30 days from `from`, or up to `to`
    from_only = await series(gql, campaign, **{"from": "2026-01-10T08:00:00Z"})
    to_only = await series(gql, campaign, to="2026-01-10T00:00:00Z")
    assert (from_only[0]["start"], from_only[-1]["start"], len(from_only)) == (
        "2026-01-10T00:00:00+00:00",
        "2026-02-08T00:00:00+00:00",
        30,
    )
    assert (to_only[0]["start"], to_only[-1]["start"], len(to_only)) == (
        "2025-12-11T00:00:00+00:00",
        "2026-01-09T00:00:00+00:00",
        30,
    )


async def test_at_most_1000_buckets(gql: GraphQLClient, workspace: Any) -> None:
    campaign, _, _ = await one_lead(workspace)
    start = at("2026-01-01T00:00:00Z")

    thousand = await series(
        gql, campaign, bucket="HOUR", **{"from": start.isoformat(), "to": (start + timedelta(hours=1000)).isoformat()}
    )
    error = await series_error(
        gql, campaign, bucket="HOUR", **{"from": start.isoformat(), "to": (start + timedelta(hours=1001)).isoformat()}
    )

    assert len(thousand) == 1000 and all(p["emailsSent"] == 0 for p in thousand)
    assert error["extensions"]["code"] == "INVALID_INPUT"
    assert "1,000" in error["message"]


async def test_bad_arguments_are_clear_errors(gql: GraphQLClient, workspace: Any) -> None:
    campaign, _, _ = await one_lead(workspace)

    unknown = await series_error(gql, campaign, tz="Mars/Olympus_Mons")
    traversal = await series_error(gql, campaign, tz="../../etc/passwd")
    backwards = await series_error(gql, campaign, **{"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"})
    empty = await series_error(gql, campaign, **{"from": "2026-02-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"})
    too_early = await series_error(gql, campaign, **{"from": "1969-12-01T00:00:00Z", "to": "1970-01-02T00:00:00Z"})

    assert unknown["extensions"] == {"code": "INVALID_INPUT", "argument": "timezone"}
    assert "Mars/Olympus_Mons" in unknown["message"]
    assert traversal["extensions"]["argument"] == "timezone"
    assert backwards["extensions"] == {"code": "INVALID_INPUT", "argument": "from"}
    assert empty["extensions"]["argument"] == "from"
    assert too_early["extensions"]["code"] == "INVALID_INPUT"


async def test_another_workspaces_activity_is_not_counted(
    gql: GraphQLClient, workspace: Any, other_workspace: Any
) -> None:
    campaign, lead, (email,) = await one_lead(workspace)
    other, _ = other_workspace
    theirs, (their_email,) = await f.campaign(other, "Theirs", CampaignStatus.ACTIVE, [StepType.EMAIL])
    (their_lead,) = await f.leads(theirs, [await f.contact(other)])
    day = at("2026-06-10T12:00:00+00:00")
    await f.activity(lead, ActivityKind.EMAIL_SENT, day, step=email)
    await f.activity(their_lead, ActivityKind.EMAIL_SENT, day, step=their_email)

    (point,) = await series(gql, campaign, **{"from": "2026-06-10T00:00:00Z", "to": "2026-06-11T00:00:00Z"})
    foreign = await gql("query($id: ID!) { campaign(id: $id) { series { start } } }", {"id": f.gid(theirs)})

    assert point["emailsSent"] == 1
    assert foreign["campaign"] is None
