"""Which documents the shared-render path serves, and that a render is shared by concurrent subscribers."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from live.reads import Snapshot
from schema import live_render as fastpath
from schema.build import build_schema

SCHEMA = build_schema()._schema


@pytest.mark.parametrize(
    ("query", "served"),
    [
        ("subscription($id: ID!) { campaignStats(campaignId: $id) { version } }", True),
        ('subscription { campaignActivity(campaignId: "x") { id kind } }', True),
        ("subscription($id: ID!) { s: campaignStats(campaignId: $id) { v: version } }", True),
        (
            "subscription($id: ID!) { ...F } fragment F on Subscription { campaignStats(campaignId: $id) { version } }",
            False,
        ),
        ("subscription($id: ID!) { campaignStats(campaignId: $id) { nope } }", False),  # invalid: Strawberry says why
        ("query { viewer { id } }", False),
        ("subscription($id: ID!) { campaignStats(campaignId: $id) { version", False),
    ],
)
def test_plan_for_serves_only_our_single_field_subscriptions(query: str, served: bool) -> None:
    assert (fastpath.plan_for(SCHEMA, query, None) is not None) is served


async def test_one_render_per_snapshot_and_document_whatever_the_number_of_subscribers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = 0

    def fake_render(schema: Any, plan: Any, variables: Any, workspace: Any, item: Any) -> Any:
        nonlocal calls
        calls += 1

        async def finish() -> str:  # an asynchronous render (like an activity entry's): others await it
            await asyncio.sleep(0.01)
            return '{"data":{}}'

        return finish()

    monkeypatch.setattr(fastpath, "render", fake_render)
    plan = fastpath.plan_for(SCHEMA, "subscription($id: ID!) { campaignStats(campaignId: $id) { version } }", None)
    assert plan is not None
    snapshot = Snapshot(1, object())
    results = await asyncio.gather(
        *(fastpath.shared_render(SCHEMA, plan, {"id": "c"}, None, snapshot) for _ in range(100))
    )
    assert set(results) == {'{"data":{}}'} and calls == 1
    await fastpath.shared_render(SCHEMA, plan, {"id": "other"}, None, snapshot)
    assert calls == 2  # other variables, other render


async def test_a_synchronous_render_is_cached_as_the_string_itself() -> None:
    plan = fastpath.plan_for(SCHEMA, "subscription($id: ID!) { campaignStats(campaignId: $id) { version } }", None)
    assert plan is not None
    snapshot = Snapshot(3, SimpleNamespace(version=3))
    payload = await fastpath.shared_render(SCHEMA, plan, {"id": "c"}, None, snapshot)
    assert payload == '{"data":{"campaignStats":{"version":3}}}'
    assert list(snapshot.renders.values()) == [payload]
