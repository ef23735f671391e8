"""The sequence: the step tree as rows, validation with full paths, the lock, and stepUpdates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.ids import decode_id
from domain.leads import update_lead
from domain.steps import unstamp
from domain.tx import transaction
from models import Campaign, Lead, SequenceStep
from models.enums import LeadStatus, LeadSubstatus
from tests.factories_mutations import (
    CAMPAIGN_FIELDS,
    ERRORS,
    campaign_action,
    campaign_with_leads,
    codes,
    counters_match_recount,  # noqa: F401  (autouse: counters equal a recount after each test)
    create_campaign,
    create_identity,
    get_campaign,
    mutate,
)

CREATE = (
    "mutation($i: CreateCampaignInput!) { createCampaign(input: $i) {"
    f" campaign {{ {CAMPAIGN_FIELDS} }} {ERRORS} }} }}"
)
UPDATE = (
    "mutation($id: ID!, $i: UpdateCampaignInput!) { updateCampaign(id: $id, input: $i) {"
    f" campaign {{ {CAMPAIGN_FIELDS} }} {ERRORS} }} }}"
)

TREE = [
    {"type": "LINKEDIN_VISIT_PROFILE"},
    {
        "type": "CONDITION",
        "condition": "HAS_EMAIL",
        "onTrue": [
            {"type": "EMAIL", "subject": "Hi {{firstName}}", "content": "Body {{company}}"},
            {"type": "EMAIL", "content": "Follow-up (same thread: no subject needed)", "delay": {"days": 3}},
        ],
        "onFalse": [
            {
                "type": "LINKEDIN_CONNECTION",
                "waitForAcceptanceDays": 5,
                "onAccepted": [
                    {
                        "type": "LINKEDIN_MESSAGE",
                        "content": "Thanks {{ai.opener}}",
                        "aiVariables": [{"name": "opener", "prompt": "Greet {firstName}"}],
                    }
                ],
                "onNotAccepted": [{"type": "END"}],
            }
        ],
    },
    {"type": "TASK", "taskType": "CALL", "title": "Call {{firstName}}", "delay": {"hours": 4, "minutes": 30}},
]


async def test_tree_is_written_depth_first_with_parents_and_branches(gql: Any) -> None:
    campaign = await create_campaign(gql, steps=TREE)
    seq = campaign["sequence"]
    by_id = {s["id"]: s for s in seq}
    got = [
        (s["position"], s["type"], by_id[s["parentStepId"]]["position"] if s["parentStepId"] else None, s["branch"])
        for s in seq
    ]
    assert got == [
        (1, "LINKEDIN_VISIT_PROFILE", None, "MAIN"),
        (2, "CONDITION", None, "MAIN"),
        (3, "EMAIL", 2, "ON_TRUE"),
        (4, "EMAIL", 2, "ON_TRUE"),
        (5, "LINKEDIN_CONNECTION", 2, "ON_FALSE"),
        (6, "LINKEDIN_MESSAGE", 5, "ACCEPTED"),
        (7, "END", 5, "NOT_ACCEPTED"),
        (8, "TASK", None, "MAIN"),
    ]
    assert seq[7]["delay"] == {"days": 0, "hours": 4, "minutes": 30, "totalSeconds": 4 * 3600 + 1800}
    assert seq[7]["taskType"] == "CALL" and seq[7]["title"] == "Call {{firstName}}"
    assert seq[5]["aiVariables"] == [{"name": "opener", "prompt": "Greet {firstName}"}]
    assert seq[4]["waitForAcceptanceDays"] == 5 and seq[1]["condition"] == "HAS_EMAIL"
    assert seq[0]["channel"] == "LINKEDIN" and seq[1]["channel"] is None and seq[7]["channel"] == "TASK"
    # Stats list one entry per step, in position order.
    assert len(campaign["stats"]["statuses"]) == 6


BAD_TREE = [
    {"type": "EMAIL", "content": "no subject {{nickname}}", "delay": {"days": -1}},  # 0
    {
        "type": "CONDITION",  # 1: no condition
        "onTrue": [
            {"type": "TASK"},  # no taskType, no title
            {"type": "LINKEDIN_CONNECTION", "content": "x" * 301},  # no wait, note too long
        ],
        "onAccepted": [{"type": "END"}],  # wrong branch for a CONDITION
    },
    {"type": "LINKEDIN_MESSAGE", "content": "y" * 8001, "onTrue": [{"type": "END"}]},  # 2
    {
        "type": "LINKEDIN_INMAIL",
        "subject": "z" * 201,
        "content": "{{ai.x}}",
        "aiVariables": [{"name": "1bad", "prompt": "p"}, {"name": "x", "prompt": ""}],
    },  # 3
    {"type": "END"},  # 4: steps after it
    {"type": "LINKEDIN_VISIT_PROFILE"},  # 5
]


async def test_validation_reports_every_problem_with_its_path(gql: Any) -> None:
    payload = await mutate(gql, CREATE, {"i": {"name": "Bad", "steps": BAD_TREE}})
    assert payload["campaign"] is None
    assert set(codes(payload)) == {"INVALID_INPUT"}
    fields = sorted(tuple(e["field"]) for e in payload["errors"])
    s = ("input", "steps")
    assert fields == sorted(
        [
            (*s, "0", "delay", "days"),
            (*s, "0", "subject"),
            (*s, "0", "content"),
            (*s, "1", "condition"),
            (*s, "1", "onAccepted"),
            (*s, "1", "onTrue", "0", "taskType"),
            (*s, "1", "onTrue", "0", "title"),
            (*s, "1", "onTrue", "1", "waitForAcceptanceDays"),
            (*s, "1", "onTrue", "1", "content"),
            (*s, "2", "content"),
            (*s, "2", "onTrue"),
            (*s, "3", "subject"),
            (*s, "3", "aiVariables", "0", "name"),
            (*s, "3", "aiVariables", "1", "prompt"),
            (*s, "4"),
        ]
    )
    assert await SequenceStep.all().count() == 0


async def test_first_email_on_each_path_needs_a_subject(gql: Any) -> None:
    steps = [
        {
            "type": "CONDITION",
            "condition": "HAS_EMAIL",
            "onTrue": [{"type": "EMAIL", "subject": "Hi", "content": "a"}],
            "onFalse": [{"type": "LINKEDIN_VISIT_PROFILE"}],
        },
        # The ON_FALSE path reaches this one with no email sent yet: it starts a thread.
        {"type": "EMAIL", "content": "b"},
    ]
    payload = await mutate(gql, CREATE, {"i": {"name": "X", "steps": steps}})
    assert [e["field"] for e in payload["errors"]] == [["input", "steps", "1", "subject"]]
    steps[0]["onFalse"] = [{"type": "EMAIL", "subject": "Hey", "content": "c"}]
    assert (await mutate(gql, CREATE, {"i": {"name": "X", "steps": steps}}))["errors"] == []


async def test_update_steps_on_draft_replaces_the_sequence(gql: Any) -> None:
    campaign = await create_campaign(gql, steps=TREE)
    payload = await mutate(gql, UPDATE, {"id": campaign["id"], "i": {"steps": [{"type": "LINKEDIN_VISIT_PROFILE"}]}})
    assert payload["errors"] == []
    assert [s["type"] for s in payload["campaign"]["sequence"]] == ["LINKEDIN_VISIT_PROFILE"]
    assert await SequenceStep.filter(campaign_id=decode_id(campaign["id"], "Campaign")).count() == 1
    bad = await mutate(gql, UPDATE, {"id": campaign["id"], "i": {"name": "New", "steps": [{"type": "TASK"}]}})
    assert bad["campaign"] is None and {tuple(e["field"]) for e in bad["errors"]} == {
        ("input", "steps", "0", "taskType"),
        ("input", "steps", "0", "title"),
    }
    after = await get_campaign(gql, campaign["id"])
    assert after["name"] == "Q4" and len(after["sequence"]) == 1  # nothing changed


@pytest.mark.parametrize("status_path", [["launchCampaign"], ["launchCampaign", "pauseCampaign"], ["archiveCampaign"]])
async def test_sequence_is_locked_once_launched(gql: Any, status_path: list[str]) -> None:
    campaign = await create_campaign(gql, steps=TREE)
    for action in status_path:
        assert (await campaign_action(gql, action, campaign["id"]))["errors"] == []
    before = await get_campaign(gql, campaign["id"])
    payload = await mutate(
        gql, UPDATE, {"id": campaign["id"], "i": {"name": "Renamed", "steps": [{"type": "LINKEDIN_VISIT_PROFILE"}]}}
    )
    assert payload["campaign"] is None
    assert payload["errors"] == [
        {"code": "SEQUENCE_LOCKED", "message": "The sequence cannot change once launched.", "field": ["input", "steps"]}
    ]
    assert await get_campaign(gql, campaign["id"]) == before
    other = await create_identity(gql, name="Bo")
    locked = await mutate(gql, UPDATE, {"id": campaign["id"], "i": {"identityId": other}})
    assert codes(locked) == ["SEQUENCE_LOCKED"]
    # Sending the current sender back is no change, so it is not refused.
    same = await mutate(gql, UPDATE, {"id": campaign["id"], "i": {"identityId": before["identity"]["id"]}})
    assert same["errors"] == []
    # A rename alone is fine in any status.
    renamed = await mutate(gql, UPDATE, {"id": campaign["id"], "i": {"name": "Renamed"}})
    assert renamed["errors"] == [] and renamed["campaign"]["name"] == "Renamed"


async def test_update_name_and_identity_on_draft(gql: Any) -> None:
    campaign = await create_campaign(gql, identity=False)
    identity = await create_identity(gql)
    payload = await mutate(gql, UPDATE, {"id": campaign["id"], "i": {"name": "  Nov  ", "identityId": identity}})
    assert payload["errors"] == [] and payload["campaign"]["name"] == "Nov"
    assert payload["campaign"]["identity"]["id"] == identity
    cleared = await mutate(gql, UPDATE, {"id": campaign["id"], "i": {"identityId": None}})
    assert cleared["campaign"]["identity"] is None
    bad = await mutate(gql, UPDATE, {"id": campaign["id"], "i": {"identityId": "garbage", "name": ""}})
    assert sorted(tuple(e["field"]) for e in bad["errors"]) == [("input", "identityId"), ("input", "name")]


# ------------------------------------------------------------------ stepUpdates


async def _leads_waiting(gql: Any, status_path: list[str]) -> tuple[dict[str, Any], list[Lead], list[dict]]:
    campaign, lead_ids = await campaign_with_leads(gql, 3)
    for action in status_path[:1]:
        await campaign_action(gql, action, campaign["id"])
    steps = campaign["sequence"]
    email_step = decode_id(steps[1]["id"], "SequenceStep")
    last = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    leads = []
    for i, lead_id in enumerate(lead_ids):
        lead = await Lead.get(id=decode_id(lead_id, "Lead"))
        substatus = LeadSubstatus.SCHEDULED if i < 2 else LeadSubstatus.OUTSIDE_WORKING_HOURS
        async with transaction():
            assert await update_lead(
                lead,
                status=LeadStatus.IN_PROGRESS,
                substatus=substatus,
                current_step_id=email_step,
                started_at=last,
                last_action_at=last,
                next_action_at=last + timedelta(days=1),
            )
        leads.append(lead)
    for action in status_path[1:]:
        await campaign_action(gql, action, campaign["id"])
    return campaign, leads, steps


@pytest.mark.parametrize("status_path", [["launchCampaign"], ["launchCampaign", "pauseCampaign"]])
async def test_step_updates_reschedule_waiting_leads(gql: Any, status_path: list[str]) -> None:
    campaign, leads, steps = await _leads_waiting(gql, status_path)
    last = leads[0].last_action_at
    payload = await mutate(
        gql,
        UPDATE,
        {
            "id": campaign["id"],
            "i": {
                "stepUpdates": [
                    {
                        "stepId": steps[1]["id"],
                        "delay": {"hours": 2},
                        "subject": "New {{lastName}}",
                        "content": "Hi {{ai.p}}",
                        "aiVariables": [{"name": "p", "prompt": "q"}],
                    }
                ]
            },
        },
    )
    assert payload["errors"] == []
    step = payload["campaign"]["sequence"][1]
    assert step["delay"]["totalSeconds"] == 7200 and step["subject"] == "New {{lastName}}"
    assert step["aiVariables"] == [{"name": "p", "prompt": "q"}]
    rows = [await Lead.get(id=lead.id) for lead in leads]
    if status_path[-1] == "pauseCampaign":
        assert [unstamp(r.paused_state["next_action_at"]) for r in rows[:2]] == [last + timedelta(hours=2)] * 2
        assert unstamp(rows[2].paused_state["next_action_at"]) == last + timedelta(days=1)  # not SCHEDULED
        await campaign_action(gql, "resumeCampaign", campaign["id"])
        rows = [await Lead.get(id=lead.id) for lead in leads]
    assert [r.next_action_at for r in rows] == [last + timedelta(hours=2)] * 2 + [last + timedelta(days=1)]


async def test_step_updates_are_validated_and_change_nothing_when_refused(gql: Any) -> None:
    campaign, _leads, steps = await _leads_waiting(gql, ["launchCampaign"])
    before = await get_campaign(gql, campaign["id"])
    payload = await mutate(
        gql,
        UPDATE,
        {
            "id": campaign["id"],
            "i": {
                "name": "Changed",
                "stepUpdates": [
                    {"stepId": steps[0]["id"], "delay": {"days": 5}},  # valid on its own
                    {"stepId": steps[1]["id"], "subject": "", "content": "{{unknown}}"},
                    {"stepId": "U2VxdWVuY2VTdGVwOjk5OTk5", "content": "x"},
                    {"stepId": steps[1]["id"], "delay": {"minutes": -5}},
                ],
            },
        },
    )
    assert payload["campaign"] is None
    assert sorted((e["code"], tuple(e["field"])) for e in payload["errors"]) == sorted(
        [
            ("NOT_FOUND", ("input", "stepUpdates", "2", "stepId")),
            ("INVALID_INPUT", ("input", "stepUpdates", "3", "delay", "minutes")),
            # the first EMAIL lost its subject; its content names an unknown placeholder
            ("INVALID_INPUT", ("input", "stepUpdates", "1", "subject")),
            ("INVALID_INPUT", ("input", "stepUpdates", "1", "content")),
        ]
    )
    assert await get_campaign(gql, campaign["id"]) == before


async def test_step_updates_cannot_reach_another_campaigns_steps(gql: Any) -> None:
    mine = await create_campaign(gql)
    other = await create_campaign(gql, name="Other")
    payload = await mutate(
        gql, UPDATE, {"id": mine["id"], "i": {"stepUpdates": [{"stepId": other["sequence"][0]["id"], "content": "x"}]}}
    )
    assert codes(payload) == ["NOT_FOUND"]
    assert await get_campaign(gql, other["id"]) == other


async def test_rescheduling_follows_the_campaigns_time_scale(gql: Any) -> None:
    campaign, leads, steps = await _leads_waiting(gql, ["launchCampaign"])
    await Campaign.filter(id=decode_id(campaign["id"], "Campaign")).update(time_scale=1440.0)
    payload = await mutate(
        gql, UPDATE, {"id": campaign["id"], "i": {"stepUpdates": [{"stepId": steps[1]["id"], "delay": {"days": 1}}]}}
    )
    assert payload["errors"] == []
    row = await Lead.get(id=leads[0].id)
    assert row.next_action_at == leads[0].last_action_at + timedelta(minutes=1)  # a day passes in a minute
