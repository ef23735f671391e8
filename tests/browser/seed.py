"""A workspace's scripted campaign, made through the server's own API and left to its engine.

Eight leads: six go through a LinkedIn visit and a first email, then wait three days for the second; two
have no email address and stop in ERROR (MISSING_CONTACT_EMAIL) at the first email.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.browser.conftest import until
from tests.test_live_subscriptions import Server

ALL_DAY = {
    "timezone": "UTC",
    "days": ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"],
    "start": "00:00",
    "end": "23:59",
}
STEPS = [
    {"type": "LINKEDIN_VISIT_PROFILE"},
    {"type": "EMAIL", "subject": "Hi {{firstName}}", "content": "A first hello."},
    {"type": "EMAIL", "subject": "Following up", "content": "A second hello.", "delay": {"days": 3}},
]
PEOPLE = ["Ana", "Ben", "Chloe", "Diego", "Elena", "Farid", "Grace", "Hugo"]
NO_EMAIL = {"Grace", "Hugo"}

STATS = """query Stats($id: ID!) { campaign(id: $id) { status stats {
  version
  allChannels { totalContacts started contacted replied positive }
  linkedin { engaged invited accepted contacted replied positive }
  email { sent clicked replied positive bounced unsubscribed }
  tasks { pending completed }
  statuses { status count }
} } }"""


@dataclass
class Seeded:
    key: str
    campaign_id: str
    step_ids: list[str]
    leads: dict[str, str]  # first name -> lead id

    def lead(self, name: str) -> str:
        return self.leads[name]


async def seed(server: Server, key: str) -> Seeded:
    gql = server.gql
    identity = await gql(
        key,
        "mutation($i: IdentityInput!) { createIdentity(input: $i) { identity { id } errors { message } } }",
        {
            "i": {
                "name": "Sam Sender",
                "linkedinUrl": "https://linkedin.example/in/sam",
                "emailAddress": "sam@outbound.test",
                "workingHours": ALL_DAY,
            }
        },
    )
    contacts = [
        {
            "firstName": name,
            "lastName": "Doe",
            "company": "Acme",
            "linkedinUrl": f"https://linkedin.example/in/{name}",
            "email": None if name in NO_EMAIL else f"{name.lower()}@acme.test",
        }
        for name in PEOPLE
    ]
    imported = await gql(
        key, "mutation($c: [ContactInput!]!) { importContacts(contacts: $c) { contacts { id } } }", {"c": contacts}
    )
    created = await gql(
        key,
        "mutation($i: CreateCampaignInput!) { createCampaign(input: $i) {"
        " campaign { id sequence { id } } errors { message } } }",
        {"i": {"name": "Browser outreach", "identityId": identity["createIdentity"]["identity"]["id"], "steps": STEPS}},
    )
    campaign = created["createCampaign"]["campaign"]
    added = await gql(
        key,
        "mutation($c: ID!, $ids: [ID!]!) { addLeads(campaignId: $c, contactIds: $ids) {"
        " leads { id contact { firstName } } errors { message } } }",
        {"c": campaign["id"], "ids": [c["id"] for c in imported["importContacts"]["contacts"]]},
    )
    launched = await gql(
        key, "mutation($id: ID!) { launchCampaign(id: $id) { errors { message } } }", {"id": campaign["id"]}
    )
    assert not launched["launchCampaign"]["errors"], launched
    seeded = Seeded(
        key,
        campaign["id"],
        [s["id"] for s in campaign["sequence"]],
        {lead["contact"]["firstName"]: lead["id"] for lead in added["addLeads"]["leads"]},
    )

    async def settled() -> bool:
        stats = await stats_of(server, seeded)
        by_status = {s["status"]: s["count"] for s in stats["statuses"]}
        return by_status["ERROR"] == len(NO_EMAIL) and stats["email"]["sent"] == len(PEOPLE) - len(NO_EMAIL)

    await until(settled, 30, "the seeded campaign to send its first emails")
    return seeded


async def stats_of(server: Server, seeded: Seeded) -> dict[str, Any]:
    return (await server.gql(seeded.key, STATS, {"id": seeded.campaign_id}))["campaign"]["stats"]


async def reply(server: Server, seeded: Seeded, name: str) -> None:
    data = await server.gql(
        seeded.key,
        "mutation($l: ID!) { recordLeadEvent(input: {leadId: $l, kind: REPLY_RECEIVED, positive: true, channel: EMAIL,"
        ' message: "Sounds good"}) { errors { code message } } }',
        {"l": seeded.lead(name)},
    )
    assert not data["recordLeadEvent"]["errors"], data
