"""The demo that `make run` seeds: a running campaign with leads in every status, counted right."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from domain import counters
from domain.demo import DEMO_WORKSPACE, ensure_demo
from domain.ids import to_global_id
from models import Activity, Campaign, Workspace
from models.enums import CampaignStatus, LeadStatus
from tests.conftest import GraphQLClient


async def test_first_start_seeds_every_status_and_later_starts_print_the_same_key(
    settings: Any, database: None, http: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    # given a fresh database, when the server starts twice
    monkeypatch.chdir(tmp_path)
    key = await ensure_demo(settings)
    again = await ensure_demo(settings)

    # then one demo workspace exists, the banner printed the same key twice, and that key reads it
    assert again == key and await Workspace.filter(name=DEMO_WORKSPACE).count() == 1
    assert capsys.readouterr().out.count(f"Demo API key: {key}") == 2
    campaign = await Campaign.get(status=CampaignStatus.ACTIVE, workspace__name=DEMO_WORKSPACE)
    data = await GraphQLClient(http, key)(
        "query($id: ID!) { campaign(id: $id) { stats { statuses { status count } } sequence { type } } }",
        {"id": to_global_id("Campaign", campaign.id)},
    )
    counts = {s["status"]: s["count"] for s in data["campaign"]["stats"]["statuses"]}
    assert all(counts[status.value] > 0 for status in LeadStatus), counts
    assert {"CONDITION", "LINKEDIN_CONNECTION", "EMAIL", "TASK"} <= {s["type"] for s in data["campaign"]["sequence"]}
    # and the counters are exactly what the leads say, with a history behind the seeded states
    numbers, _, _ = await counters.read(campaign.id)
    assert numbers == await counters.recompute(campaign.id)
    assert await Activity.filter(campaign=campaign).count() > 100
