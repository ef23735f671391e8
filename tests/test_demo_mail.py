"""The demo's simulated email answers are real messages through the inbox's own path (issue 13.7):
mail.classify and engine.inbox.apply_inbound, as a connected mailbox's messages are."""

from __future__ import annotations

from typing import Any

from domain.ids import to_global_id
from engine import channels, simulator
from models import Activity, Campaign, InboundMessage, Lead, Suppression
from models.enums import ActivityKind, Channel, LeadStatus, LeadSubstatus, StepType
from tests.conftest import GraphQLClient
from tests.engine_helpers import Pump, add_leads, assert_counters_match, make_campaign, make_identity, person, step


async def test_the_demo_answers_emails_through_the_classifier(workspace: Any, frozen: Any, pump: Pump) -> None:
    ws, _ = workspace
    identity = await make_identity(ws, email_address="sam@outbound.example")
    campaign, _ = await make_campaign(
        ws,
        identity,
        [
            step(StepType.EMAIL, subject="Hello {{firstName}}", content="Hi {{firstName}}"),
            step(StepType.EMAIL, delay=30 * 86400, subject="Again", content="Following up."),
        ],
        time_scale=1440,  # a day in a minute
    )
    leads = await add_leads(ws, campaign, [person(i) for i in range(60)])
    await pump.run()
    sent = {m["Message-ID"] for m in channels.email_sandbox.messages.values()}
    assert len(sent) == 60 and all(m.startswith("<") and m.endswith("@outbound.example>") for m in sent)
    for _ in range(6):  # six demo days, a (real) minute each
        frozen.advance(minutes=1)
        await simulator.simulate(frozen.now())
        await pump.run()

    inbound = {row["lead_id"]: row for row in await InboundMessage.filter(identity_id=identity.id).values()}
    replies = await Activity.filter(campaign_id=campaign.id, kind=ActivityKind.REPLY_RECEIVED)
    bounced = await Lead.filter(campaign_id=campaign.id, substatus=LeadSubstatus.BOUNCED)
    assert replies and bounced
    for reply in replies:
        assert reply.channel == Channel.EMAIL and "simulated" in (reply.detail or "")
        assert "wrote:" not in (reply.detail or "")  # the quoted history was stripped by the classifier
        assert inbound[reply.lead_id]["kind"] == "REPLY" and inbound[reply.lead_id]["outcome"] == "applied"
    for lead in bounced:
        assert inbound[lead.id]["kind"] == "BOUNCED" and lead.em_bounced
    positive = {
        lead.id: lead.positive for lead in await Lead.filter(campaign_id=campaign.id, status=LeadStatus.REPLIED)
    }
    assert positive and all(positive[lead_id] == (simulator._roll(lead_id, 2) % 2 == 0) for lead_id in positive)
    assert {lead.id for lead in leads} >= set(inbound)
    await assert_counters_match(campaign.id)


def readers(leads: list[Lead]) -> set[int]:
    """The leads whose email the simulator does not bounce."""
    return {lead.id for lead in leads if not simulator._bounces(lead.id)}


def clickers(leads: list[Lead]) -> set[int]:
    return {i for i in readers(leads) if simulator._chance(i, "click") < simulator.CLICK_PERCENT}


def unsubscribers(leads: list[Lead]) -> set[int]:
    """Who may unsubscribe: a reader the roll picks (unless a reply came first)."""
    return {i for i in readers(leads) if simulator._chance(i, "unsubscribe") < simulator.UNSUBSCRIBE_PERCENT}


def sure_unsubscribers(leads: list[Lead]) -> set[int]:
    """Who must unsubscribe: picked, and never replies."""
    return {i for i in unsubscribers(leads) if simulator._roll(i, 2) >= simulator.REPLY_PERCENT}


CLICK_STATS = "query($id: ID!) { campaign(id: $id) { stats { email { sent clicked unsubscribed } } } }"


async def test_the_demo_clicks_links_and_unsubscribes_as_readers_do(
    gql: GraphQLClient, workspace: Any, frozen: Any, pump: Pump
) -> None:
    # given an accelerated campaign whose email has a link, and one that does not track clicks
    ws, _ = workspace
    identity = await make_identity(ws, email_address="sam@outbound.example")
    content = "Hi {{firstName}}, our prices: https://example.com/pricing. Talk soon?"
    sequence = [  # the leads wait for the follow-up meanwhile, as the demo's do
        step(StepType.EMAIL, subject="Hello", content=content),
        step(StepType.EMAIL, delay=30 * 86400, subject="Again", content="Following up."),
    ]
    campaign, _ = await make_campaign(ws, identity, sequence, time_scale=1440)
    untracked, _ = await make_campaign(ws, identity, sequence, time_scale=1440, name="Untracked")
    await Campaign.filter(id=untracked.id).update(track_clicks=False)
    # Leads come in batches until the simulator's rolls (a hash of the lead's id: ids differ from run to run)
    # pick some to click and one that surely unsubscribes (it never replies), so the test never holds vacuously.
    leads: list[Lead] = []
    while len(leads) < 150 or len(clickers(leads)) < 3 or not sure_unsubscribers(leads):
        assert len(leads) < 1000, "the simulator's rates picked nobody in 1000 leads"
        leads += await add_leads(ws, campaign, [person(i) for i in range(len(leads), len(leads) + 25)])
    await add_leads(ws, untracked, [person(i, email=f"other{i}@example.test") for i in range(40)])
    await pump.run()

    # when three demo days pass
    for _ in range(3):
        frozen.advance(minutes=1)
        await simulator.simulate(frozen.now())
        await pump.run()

    # then the readers the simulator picks clicked the email's link once each, through the tracker's path
    clicking = clickers(leads)
    clicks = await Activity.filter(campaign_id=campaign.id, kind=ActivityKind.EMAIL_CLICKED)
    assert {c.lead_id for c in clicks} == clicking and len(clicks) == len(clicking)
    assert all(c.detail == "https://example.com/pricing" and c.channel == Channel.EMAIL for c in clicks)
    assert not await Activity.filter(campaign_id=untracked.id, kind=ActivityKind.EMAIL_CLICKED).exists()

    # and a few unsubscribed, as the one-click POST does: finished, their address on the suppression list
    gone = await Lead.filter(campaign_id=campaign.id, substatus=LeadSubstatus.UNSUBSCRIBED).prefetch_related("contact")
    assert all(lead.em_unsubscribed and lead.status == LeadStatus.FINISHED for lead in gone)
    assert sure_unsubscribers(leads) <= {lead.id for lead in gone} <= unsubscribers(leads)
    listed = set(await Suppression.filter(workspace_id=ws.id).values_list("value", flat=True))
    assert {lead.contact.email for lead in gone} <= listed
    assert len(gone) <= len(leads) // 10  # a low rate, not a stampede

    # and the dashboard's numbers show both
    data = await gql(CLICK_STATS, {"id": to_global_id("Campaign", campaign.id)})
    shown = {"sent": len(leads), "clicked": len(clicking), "unsubscribed": len(gone)}
    assert data["campaign"]["stats"]["email"] == shown
    await assert_counters_match(campaign.id)
    await assert_counters_match(untracked.id)
