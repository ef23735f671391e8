"""Every change of status a user would ask "why?" about leaves an activity that says why (issue 11, point 3).

Seen as a user sees it: the lead's side panel (`lead.timeline`) and the campaign's Activity log, over
GraphQL, after the engine ran.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from domain.ids import to_global_id
from engine import channels, send
from models import Lead, SequenceStep
from models.enums import StepType
from tests import factories as f
from tests.conftest import GraphQLClient
from tests.engine_helpers import Pump, add_leads, make_campaign, make_identity, person, step

TRACE = """query($campaign: ID!, $lead: ID!) {
  lead(id: $lead) { status substatus timeline { id kind detail step { id } } }
  campaign(id: $campaign) { activity { nodes { id kind detail lead { id } } } }
}"""


async def trace(gql: GraphQLClient, lead: Lead) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the lead with its timeline, the campaign's Activity log entries of this lead)."""
    data = await gql(TRACE, {"campaign": to_global_id("Campaign", lead.campaign_id), "lead": f.gid(lead)})
    log = [n for n in data["campaign"]["activity"]["nodes"] if n["lead"]["id"] == f.gid(lead)]
    return data["lead"], log


def last(lead: dict[str, Any], log: list[dict[str, Any]]) -> dict[str, Any]:
    """The lead's newest entry, checked to be the same in its timeline (oldest first) and the log (newest first)."""
    assert lead["timeline"] and log
    newest = lead["timeline"][-1]
    assert {k: log[0][k] for k in ("id", "kind", "detail")} == {k: newest[k] for k in ("id", "kind", "detail")}
    return newest


async def test_finishing_not_connected_says_why(gql: GraphQLClient, workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    campaign, (message,) = await make_campaign(
        ws, await make_identity(ws), [step(StepType.LINKEDIN_MESSAGE, content="Hi")]
    )
    (lead,) = await add_leads(ws, campaign, [person(1)])
    await pump.run()

    panel, log = await trace(gql, lead)
    assert (panel["status"], panel["substatus"]) == ("FINISHED", "NOT_CONNECTED")
    entry = last(panel, log)
    assert entry["kind"] == "LEAD_FINISHED"
    assert entry["step"] == {"id": f.gid(message)}
    assert entry["detail"].startswith("NOT_CONNECTED: ") and "no invitation was accepted" in entry["detail"]
    assert len(panel["timeline"]) == 1  # once, however often the step is delivered
    await pump.run()
    assert len((await trace(gql, lead))[0]["timeline"]) == 1


async def test_an_error_says_why(gql: GraphQLClient, workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    email = step(StepType.EMAIL, subject="Hi", content="Body")
    campaign, _ = await make_campaign(ws, await make_identity(ws), [email])
    (lead,) = await add_leads(ws, campaign, [person(1, email=None)])
    await pump.run()

    panel, log = await trace(gql, lead)
    assert (panel["status"], panel["substatus"]) == ("ERROR", "MISSING_CONTACT_EMAIL")
    entry = last(panel, log)
    assert entry["kind"] == "LEAD_ERROR"
    assert entry["detail"] == "MISSING_CONTACT_EMAIL: The contact has no email address."


async def test_a_provider_failure_says_why(
    gql: GraphQLClient, workspace: Any, frozen: Any, pump: Pump, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(send, "SEND_BACKOFF", 0.0)
    ws, _ = workspace
    campaign, _ = await make_campaign(ws, await make_identity(ws), [step(StepType.EMAIL, subject="Hi", content="B")])
    (lead,) = await add_leads(ws, campaign, [person(1)])
    channels.email_sandbox.fail_next(send.SEND_ATTEMPTS)
    await pump.run()

    panel, log = await trace(gql, lead)
    assert (panel["status"], panel["substatus"]) == ("ERROR", "SYSTEM_ERROR")
    entry = last(panel, log)
    assert entry["kind"] == "LEAD_ERROR" and entry["detail"].startswith("SYSTEM_ERROR: The provider failed")
    assert "simulated provider failure" in entry["detail"]


async def test_a_withdrawal_says_why(gql: GraphQLClient, workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    invite = step(StepType.LINKEDIN_CONNECTION, wait_for_acceptance_days=7)
    campaign, _ = await make_campaign(ws, await make_identity(ws), [invite, step(StepType.LINKEDIN_VISIT_PROFILE)])
    (lead,) = await add_leads(ws, campaign, [person(1)])
    await pump.run()
    frozen.advance(timedelta(days=7))
    await pump.run()

    panel, _ = await trace(gql, lead)
    assert (panel["status"], panel["substatus"]) == ("FINISHED", "COMPLETED")
    kinds = [e["kind"] for e in panel["timeline"]]
    assert kinds == ["INVITATION_SENT", "INVITATION_WITHDRAWN", "PROFILE_VISITED"]
    withdrawn = panel["timeline"][1]
    assert withdrawn["detail"] == "Not accepted within 7 days: withdrawn; on to the not-accepted branch."
    first = await SequenceStep.filter(campaign_id=campaign.id).order_by("position").first()
    assert first is not None and withdrawn["step"] == {"id": f.gid(first)}
