"""Campaign.funnel and Campaign.series after a scripted run of the engine, recounted from the tables.

The run: 12 leads through visit -> email -> email (a day later) -> task (a day later), with replies, clicks
and a bounce recorded through the API between the steps, one lead without an address (an error at the
first email), one removed after it clicked, and one task completed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.ids import to_global_id
from models import Activity, Lead, SequenceStep, Task
from models.enums import ActivityKind, StepType
from tests.conftest import GraphQLClient
from tests.engine_helpers import Pump, add_leads, make_campaign, make_identity, person, step

K = ActivityKind
ACTIONS = {
    K.PROFILE_VISITED,
    K.POST_LIKED,
    K.INVITATION_SENT,
    K.LINKEDIN_MESSAGE_SENT,
    K.INMAIL_SENT,
    K.EMAIL_SENT,
    K.TASK_CREATED,
}
POINT_KINDS = {
    "profileVisits": {K.PROFILE_VISITED},
    "invitationsSent": {K.INVITATION_SENT},
    "invitationsAccepted": {K.INVITATION_ACCEPTED},
    "linkedinMessagesSent": {K.LINKEDIN_MESSAGE_SENT, K.INMAIL_SENT},
    "emailsSent": {K.EMAIL_SENT},
    "emailsClicked": {K.EMAIL_CLICKED},
    "emailsBounced": {K.EMAIL_BOUNCED},
    "replies": {K.REPLY_RECEIVED},
    "tasksCompleted": {K.TASK_COMPLETED},
    "errors": {K.LEAD_ERROR},
}
OVERVIEW = """query($id: ID!, $tz: String, $bucket: SeriesBucket) { campaign(id: $id) {
  funnel { step { id type position } performed replied positive clicked bounced replyRate }
  series(bucket: $bucket, timezone: $tz) { start profileVisits invitationsSent invitationsAccepted
    linkedinMessagesSent emailsSent emailsClicked emailsBounced replies positiveReplies unsubscribes
    tasksCompleted errors } } }"""
EVENT = "mutation($input: LeadEventInput!) { recordLeadEvent(input: $input) { errors { code message } } }"


async def event(gql: GraphQLClient, lead: Lead, kind: str, **fields: Any) -> None:
    data = await gql(EVENT, {"input": {"leadId": to_global_id("Lead", lead.id), "kind": kind, **fields}})
    assert data["recordLeadEvent"]["errors"] == []


async def scripted_run(gql: GraphQLClient, workspace: Any, frozen: Any, pump: Pump) -> tuple[Any, list[Lead]]:
    ws, _ = workspace
    identity = await make_identity(ws)
    campaign, _ = await make_campaign(
        ws,
        identity,
        [
            step(StepType.LINKEDIN_VISIT_PROFILE),
            step(StepType.EMAIL, subject="Hello {{firstName}}", content="Hi"),
            step(StepType.EMAIL, delay=86400, subject="Again", content="Hi again"),
            step(StepType.TASK, delay=86400, title="Call {{firstName}}"),
        ],
    )
    leads = await add_leads(ws, campaign, [person(i, email=None) if i == 11 else person(i) for i in range(12)])
    await pump.run()  # visit + first email (lead 11: no address, an error)
    await event(gql, leads[0], "REPLY_RECEIVED", positive=True, message="Yes")
    await event(gql, leads[1], "REPLY_RECEIVED", message="No thanks")
    await event(gql, leads[2], "EMAIL_CLICKED")
    await event(gql, leads[3], "EMAIL_BOUNCED")
    await event(gql, leads[4], "EMAIL_CLICKED", message="first link")
    frozen.advance(hours=3)
    await event(gql, leads[4], "EMAIL_CLICKED", message="second link")
    frozen.advance(days=1)
    await pump.run()  # the second email
    frozen.advance(hours=2)
    await event(gql, leads[5], "REPLY_RECEIVED", positive=True, message="Let's talk")
    await event(gql, leads[6], "EMAIL_CLICKED")
    await event(gql, leads[2], "EMAIL_CLICKED", message="again")
    await event(gql, leads[7], "EMAIL_CLICKED")
    removed = await gql(
        "mutation($c: ID!, $l: [ID!]!) { removeLeads(campaignId: $c, leadIds: $l) { errors { message } } }",
        {"c": to_global_id("Campaign", campaign.id), "l": [to_global_id("Lead", leads[7].id)]},
    )
    assert removed["removeLeads"]["errors"] == []
    frozen.advance(days=1)
    await pump.run()  # the tasks
    task = await Task.get(lead_id=leads[8].id)
    done = await gql(
        "mutation($id: ID!) { completeTask(id: $id) { errors { message } } }", {"id": to_global_id("Task", task.id)}
    )
    assert done["completeTask"]["errors"] == []
    await pump.run()
    frozen.advance(minutes=30)
    await event(gql, leads[9], "REPLY_RECEIVED", message="Call me")
    return campaign, leads


def _order(a: Activity) -> tuple:
    return (a.occurred_at, a.id)


async def funnel_from_tables(campaign: Any) -> list[dict[str, Any]]:
    """The funnel counted the slow way: lead by lead, from their activities."""
    steps = await SequenceStep.filter(campaign_id=campaign.id).order_by("position")
    leads = {lead.id: lead for lead in await Lead.filter(campaign_id=campaign.id, removed_at=None)}
    history: dict[int, list[Activity]] = defaultdict(list)
    for a in await Activity.filter(campaign_id=campaign.id):
        if a.lead_id in leads:
            history[a.lead_id].append(a)
    sets: dict[tuple[int, str], set[int]] = defaultdict(set)
    for lead_id, acts in history.items():
        acts.sort(key=_order)
        for a in acts:
            if a.kind in ACTIONS:
                sets[(a.step_id, "performed")].add(lead_id)
            if a.kind in (K.EMAIL_CLICKED, K.EMAIL_BOUNCED):
                sent = [s for s in acts if s.kind == K.EMAIL_SENT and _order(s) <= _order(a)]
                own = [s for s in sent if s.step_id == a.step_id]
                email = (own or sent)[-1].step_id if sent else None
                sets[(email, "clicked" if a.kind == K.EMAIL_CLICKED else "bounced")].add(lead_id)
        replies = [a for a in acts if a.kind == K.REPLY_RECEIVED]
        if replies:
            before = [a for a in acts if a.kind in ACTIONS and _order(a) < _order(replies[0])]
            if before:
                sets[(before[-1].step_id, "replied")].add(lead_id)
                if leads[lead_id].positive:
                    sets[(before[-1].step_id, "positive")].add(lead_id)
    rows = []
    for s in steps:
        if not StepType(s.type).is_action:
            continue
        n = {what: len(sets[(s.id, what)]) for what in ("performed", "replied", "positive", "clicked", "bounced")}
        if s.type != StepType.EMAIL:
            n["clicked"] = n["bounced"] = 0
        n["replyRate"] = n["replied"] / n["performed"] if n["performed"] else 0.0
        rows.append(
            {"step": {"id": to_global_id("SequenceStep", s.id), "type": s.type.value, "position": s.position}, **n}
        )
    return rows


async def series_from_tables(campaign: Any, starts: list[str], tz: ZoneInfo, bucket: str) -> list[dict[str, Any]]:
    def key(at: Any) -> Any:
        local = at.astimezone(tz)
        return local.date() if bucket == "DAY" else (local.replace(minute=0, second=0, microsecond=0), local.fold)

    counts: dict[Any, Counter[str]] = defaultdict(Counter)
    for a in await Activity.filter(campaign_id=campaign.id):
        for name, kinds in POINT_KINDS.items():
            if a.kind in kinds:
                counts[key(a.occurred_at)][name] += 1
        if a.kind == K.REPLY_RECEIVED and (a.detail or "").startswith(("(positive)", "(simulated, positive)")):
            counts[key(a.occurred_at)]["positiveReplies"] += 1
    names = [*POINT_KINDS, "positiveReplies", "unsubscribes"]
    return [{"start": s, **{n: counts[key(datetime.fromisoformat(s))][n] for n in names}} for s in starts]


async def test_funnel_and_series_equal_a_recount_after_a_scripted_run(
    gql: GraphQLClient, workspace: Any, frozen: Any, pump: Pump
) -> None:
    campaign, _ = await scripted_run(gql, workspace, frozen, pump)
    cid = to_global_id("Campaign", campaign.id)

    data = (await gql(OVERVIEW, {"id": cid, "tz": "Europe/Madrid"}))["campaign"]
    hourly = (await gql(OVERVIEW, {"id": cid, "tz": "Asia/Kolkata", "bucket": "HOUR"}))["campaign"]["series"]

    # the funnel, as a person reading the script would count it
    visit, first, second, task = data["funnel"]
    assert [e["step"]["type"] for e in data["funnel"]] == ["LINKEDIN_VISIT_PROFILE", "EMAIL", "EMAIL", "TASK"]
    assert (visit["performed"], visit["replied"]) == (11, 0)  # 12 visited, one removed since
    assert {k: first[k] for k in ("performed", "replied", "positive", "clicked", "bounced")} == {
        "performed": 10,
        "replied": 2,
        "positive": 1,
        "clicked": 2,
        "bounced": 1,
    }
    assert first["replyRate"] == 0.2
    assert {k: second[k] for k in ("performed", "replied", "positive", "clicked", "bounced")} == {
        "performed": 7,
        "replied": 1,
        "positive": 1,
        "clicked": 2,
        "bounced": 0,
    }
    assert (task["performed"], task["replied"], task["positive"], task["clicked"]) == (6, 1, 0, 0)
    # and exactly what the tables say
    assert data["funnel"] == await funnel_from_tables(campaign)

    # the series: every activity of the run (the removed lead's included) in its local day and hour
    days = data["series"]
    assert len(days) == 30
    assert days == await series_from_tables(campaign, [p["start"] for p in days], ZoneInfo("Europe/Madrid"), "DAY")
    assert sum(p["emailsSent"] for p in days) == 11 + 8  # the removed lead's emails included
    assert sum(p["replies"] for p in days) == 4 and sum(p["positiveReplies"] for p in days) == 2
    assert sum(p["tasksCompleted"] for p in days) == 1 and sum(p["errors"] for p in days) == 1
    assert len(hourly) == 48
    assert hourly == await series_from_tables(campaign, [p["start"] for p in hourly], ZoneInfo("Asia/Kolkata"), "HOUR")
    assert sum(p["tasksCompleted"] for p in hourly) == 1


async def test_a_campaign_without_steps_or_activity(gql: GraphQLClient, workspace: Any, frozen: Any) -> None:
    ws, _ = workspace
    empty, _ = await make_campaign(ws, None, [])
    quiet, _ = await make_campaign(ws, None, [step(StepType.EMAIL, subject="s", content="c"), step(StepType.END)])

    data = await gql(
        "query($a: ID!, $b: ID!) { a: campaign(id: $a) { funnel { performed } series { emailsSent } }"
        " b: campaign(id: $b) { funnel { step { type } performed replyRate } } }",
        {"a": to_global_id("Campaign", empty.id), "b": to_global_id("Campaign", quiet.id)},
    )

    assert data["a"]["funnel"] == []
    assert len(data["a"]["series"]) == 30 and all(p["emailsSent"] == 0 for p in data["a"]["series"])
    assert data["b"]["funnel"] == [{"step": {"type": "EMAIL"}, "performed": 0, "replyRate": 0.0}]
