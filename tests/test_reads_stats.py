"""The Overview's numbers (Campaign.stats), per the metric table of domain.md."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from models.enums import CampaignStatus, LeadStatus, LeadSubstatus, StepType, TaskStatus
from tests import factories as f
from tests.conftest import GraphQLClient

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


async def test_stats_follow_the_metric_table(gql: GraphQLClient, workspace: Any) -> None:
    # given a campaign whose leads reached different points
    ws, _ = workspace
    campaign, (connect, message, email, task_step) = await f.campaign(
        ws,
        "Metrics",
        CampaignStatus.ACTIVE,
        [StepType.LINKEDIN_CONNECTION, StepType.LINKEDIN_MESSAGE, StepType.EMAIL, StepType.TASK],
    )
    people = await f.contacts(ws, 8)
    fresh, invited, li_fan, mailed, clicker, bounced, waiting, removed = await f.leads(campaign, people)
    started = {"started_at": NOW}
    # invited, not yet accepted: engaged + invited, not contacted (an invitation is not a message)
    await f.change(
        invited,
        **started,
        status=LeadStatus.IN_PROGRESS,
        substatus=LeadSubstatus.WAITING_TO_CONNECT,
        current_step_id=connect.id,
        li_engaged=True,
        li_invited=True,
    )
    # accepted, messaged, replied positively on LinkedIn
    await f.change(
        li_fan,
        **started,
        status=LeadStatus.REPLIED,
        positive=True,
        li_engaged=True,
        li_invited=True,
        li_accepted=True,
        li_contacted=True,
        contacted=True,
        li_replied=True,
        replied=True,
        replied_at=NOW,
    )
    # emailed, replied by email, not positive
    await f.change(
        mailed, **started, status=LeadStatus.REPLIED, em_sent=True, contacted=True, em_replied=True, replied=True
    )
    # emailed and clicked, waiting for the next step
    await f.change(
        clicker,
        **started,
        status=LeadStatus.IN_PROGRESS,
        substatus=LeadSubstatus.SCHEDULED,
        current_step_id=message.id,
        em_sent=True,
        contacted=True,
        em_clicked=True,
    )
    # emailed and bounced
    await f.change(
        bounced,
        **started,
        status=LeadStatus.FINISHED,
        substatus=LeadSubstatus.BOUNCED,
        em_sent=True,
        contacted=True,
        em_bounced=True,
    )
    # waiting on a task; one earlier task done
    await f.change(
        waiting,
        **started,
        status=LeadStatus.IN_PROGRESS,
        substatus=LeadSubstatus.WAITING_FOR_TASK,
        current_step_id=task_step.id,
    )
    await f.task(waiting, task_step, TaskStatus.PENDING)
    await f.task(waiting, task_step, TaskStatus.COMPLETED)
    # a lead that did everything, then was removed: it counts nowhere, nor do its tasks
    await f.change(
        removed,
        **started,
        status=LeadStatus.REPLIED,
        positive=True,
        current_step_id=email.id,
        em_sent=True,
        contacted=True,
        em_replied=True,
        replied=True,
    )
    await f.task(removed, task_step)
    await f.remove(removed)

    # when the Overview is read
    stats = (await gql(f.STATS_QUERY, {"id": f.gid(campaign)}))["campaign"]["stats"]

    # then every number is what the metric table says
    assert stats["campaignId"] == f.gid(campaign)
    assert stats["allChannels"] == {"totalContacts": 7, "started": 6, "contacted": 4, "replied": 2, "positive": 1}
    assert stats["linkedin"] == {
        "engaged": 2,
        "invited": 2,
        "accepted": 1,
        "contacted": 1,
        "replied": 1,
        "positive": 1,
    }
    assert stats["email"] == {"sent": 3, "clicked": 1, "replied": 1, "positive": 0, "bounced": 1, "unsubscribed": 0}
    assert stats["tasks"] == {"pending": 1, "completed": 1}
    assert stats["statuses"] == [
        {"status": "NOT_STARTED", "count": 1},
        {"status": "IN_PROGRESS", "count": 3},
        {"status": "PAUSED", "count": 0},
        {"status": "ERROR", "count": 0},
        {"status": "FINISHED", "count": 1},
        {"status": "REPLIED", "count": 2},
    ]
    assert stats["substatuses"] == [
        {"status": "IN_PROGRESS", "substatus": "SCHEDULED", "count": 1},
        {"status": "IN_PROGRESS", "substatus": "WAITING_TO_CONNECT", "count": 1},
        {"status": "IN_PROGRESS", "substatus": "WAITING_FOR_TASK", "count": 1},
        {"status": "FINISHED", "substatus": "BOUNCED", "count": 1},
    ]
    assert stats["steps"] == [
        {"stepId": f.gid(connect), "leadCount": 1},
        {"stepId": f.gid(message), "leadCount": 1},
        {"stepId": f.gid(email), "leadCount": 0},
        {"stepId": f.gid(task_step), "leadCount": 1},
    ]
    # and they equal the same counts computed from the leads themselves
    assert f.without_version(stats) == await f.stats_from_leads(campaign)
    assert fresh.status == LeadStatus.NOT_STARTED


async def test_version_increases_with_every_change(gql: GraphQLClient, workspace: Any) -> None:
    ws, _ = workspace
    campaign, _ = await f.campaign(ws, "Versions", CampaignStatus.ACTIVE, [StepType.EMAIL])
    query = "query($id: ID!) { campaign(id: $id) { stats { version updatedAt allChannels { totalContacts } } } }"
    empty = (await gql(query, {"id": f.gid(campaign)}))["campaign"]["stats"]
    assert empty["allChannels"]["totalContacts"] == 0 and empty["updatedAt"].endswith("+00:00")
    versions = [empty["version"]]
    (lead,) = await f.leads(campaign, [await f.contact(ws)])
    versions.append((await gql(query, {"id": f.gid(campaign)}))["campaign"]["stats"]["version"])
    await f.change(lead, status=LeadStatus.IN_PROGRESS, started_at=NOW)
    versions.append((await gql(query, {"id": f.gid(campaign)}))["campaign"]["stats"]["version"])
    await f.remove(lead)
    last = (await gql(query, {"id": f.gid(campaign)}))["campaign"]["stats"]
    versions.append(last["version"])
    assert versions == sorted(set(versions)), versions
    assert last["allChannels"]["totalContacts"] == 0


async def test_stats_of_many_campaigns_read_counters_once(gql: GraphQLClient, workspace: Any) -> None:
    from tests.test_reads_audience import counting_queries

    ws, _ = workspace
    for i in range(4):
        campaign, _ = await f.campaign(ws, f"C{i}", CampaignStatus.ACTIVE, [StepType.EMAIL, StepType.TASK])
        await f.leads(campaign, await f.contacts(ws, 2, prefix=f"P{i}x"))
    await gql("{ viewer { id } }")
    with counting_queries() as counter:
        data = await gql("{ campaigns { nodes { stats { allChannels { totalContacts } } sequence { leadCount } } } }")
    assert [n["stats"]["allChannels"]["totalContacts"] for n in data["campaigns"]["nodes"]] == [2, 2, 2, 2]
    assert sum("campaign_counter" in s for s in counter.statements) == 1
    assert sum('FROM "lead"' in s for s in counter.statements) == 0  # leads are never counted
