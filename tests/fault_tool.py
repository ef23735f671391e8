"""The fault tests' hands inside the private database, run as a subprocess (`python -m tests.fault_tool`)
so the test process's own Tortoise connection (the shared test database) is left alone.

    setup LEADS [visit]   a workspace, a sender, a one-email campaign with LEADS leads, ACTIVE: prints JSON;
                          `visit`: a LinkedIn profile visit (the sandbox provider) follows the email
    check ID      what happened to campaign ID (statuses, activities, flags, counters): prints JSON
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from typing import Any

import orjson

from config import get_settings
from models.db import close_db, init_db


async def setup(leads: int, visit: bool = False) -> dict[str, Any]:
    from domain.auth import create_workspace
    from domain.ids import to_global_id
    from models.enums import StepType
    from tests.engine_helpers import add_leads, make_campaign, make_identity, person, step

    workspace, key = await create_workspace("Faults")
    identity = await make_identity(workspace, daily_emails=100_000)
    steps = [step(StepType.EMAIL, subject="Hi {{firstName}}", content="Hello {{firstName}}")]
    if visit:
        steps.append(step(StepType.LINKEDIN_VISIT_PROFILE))
    campaign, _ = await make_campaign(workspace, identity, steps)
    await add_leads(workspace, campaign, [person(i) for i in range(leads)])
    return {"key": key, "campaign_pk": campaign.id, "campaign_id": to_global_id("Campaign", campaign.id)}


async def check(campaign_pk: int) -> dict[str, Any]:
    from domain import counters
    from models import Activity, Campaign, Lead
    from models.enums import ActivityKind

    campaign = await Campaign.get(id=campaign_pk)
    leads = await Lead.filter(campaign_id=campaign_pk).values(
        "id", "status", "substatus", "em_sent", "claimed_until", "error_message"
    )
    sent = await Activity.filter(campaign_id=campaign_pk, kind=ActivityKind.EMAIL_SENT).values("lead_id", "external_id")
    visits = await Activity.filter(campaign_id=campaign_pk, kind=ActivityKind.PROFILE_VISITED).values_list(
        "lead_id", flat=True
    )
    per_lead = Counter(row["lead_id"] for row in sent)
    numbers, _, _ = await counters.read(campaign_pk)
    drift = await counters.reconcile(campaign_pk)
    return {
        "campaign_status": getattr(campaign.status, "value", campaign.status),
        "statuses": Counter(f"{_name(r['status'])}/{_name(r['substatus'])}" for r in leads),
        "leads": len(leads),
        "email_activities": len(sent),
        "leads_with_two_email_activities": sorted(lead for lead, n in per_lead.items() if n > 1),
        "sent_but_flag_false": sorted(r["id"] for r in leads if per_lead[r["id"]] and not r["em_sent"]),
        "flag_true_but_no_activity": sorted(r["id"] for r in leads if r["em_sent"] and not per_lead[r["id"]]),
        "message_ids": [row["external_id"] for row in sent],
        "profile_visits": len(visits),
        "leads_visited_twice": sorted(lead for lead, n in Counter(visits).items() if n > 1),
        "error_messages": Counter(r["error_message"] for r in leads if r["error_message"]),
        "counter_email_sent": numbers.get("em_sent", 0),
        "counters": numbers,
        "drift": drift,
    }


def _name(value: Any) -> str:
    return str(getattr(value, "value", value))


async def main(argv: list[str]) -> None:
    await init_db(get_settings().database_url)
    try:
        result = await (setup(int(argv[1]), "visit" in argv[2:]) if argv[0] == "setup" else check(int(argv[1])))
    finally:
        await close_db()
    sys.stdout.write(orjson.dumps(result).decode() + "\n")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
