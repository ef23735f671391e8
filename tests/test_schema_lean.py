"""The lean executor on the Campaign View's own documents (bench/queries.py): it answers each of them, and
answers exactly what graphql-core answers with the same resolvers.

bench/executor.py measures what it saves; these tests make sure that what is measured is what is served: a
change that makes a page abandon the lean path (or answer differently) fails here, not only in a benchmark.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import strawberry

from bench import queries
from models.enums import ActivityKind, CampaignStatus, Channel, LeadStatus, LeadSubstatus, StepType
from resolvers.context import Context, Loaders
from schema.build import build_schema
from tests import factories as f
from tests.metrics import sample

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def outcome(name: str) -> float:
    return sample("outbound_lean_executor_total", outcome=name)


@pytest.fixture(scope="module")
def schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    return build_schema(lean=False), build_schema(lean=True)


@pytest.fixture
async def view(workspace: Any) -> dict[str, Any]:
    """A running campaign as the Campaign View shows it: leads at several steps, activity, one timeline."""
    ws, _ = workspace
    campaign, steps = await f.campaign(
        ws, "View", CampaignStatus.ACTIVE, [StepType.LINKEDIN_VISIT_PROFILE, StepType.EMAIL, StepType.TASK]
    )
    people = await f.contacts(ws, 8, "Viewer")
    leads = await f.leads(campaign, people)
    for i, lead in enumerate(leads[:6]):
        leads[i] = await f.change(
            lead, status=LeadStatus.IN_PROGRESS, substatus=LeadSubstatus.SCHEDULED, current_step_id=steps[i % 3].id
        )
    for i, lead in enumerate(leads[:4]):
        await f.activity(
            lead, ActivityKind.PROFILE_VISITED, T0 + timedelta(minutes=i), step=steps[0], channel=Channel.LINKEDIN
        )
        await f.activity(
            lead, ActivityKind.EMAIL_SENT, T0 + timedelta(hours=i), step=steps[1], channel=Channel.EMAIL, detail="Hi"
        )
    await f.task(leads[0], steps[2])
    status, substatus = queries.AUDIENCE_STATUS
    return {
        "workspace": ws,
        "documents": {
            "overview": (queries.OVERVIEW, {"id": f.gid(campaign)}),
            "audience": (queries.AUDIENCE, {"id": f.gid(campaign), "status": status, "substatus": substatus}),
            "activity": (queries.ACTIVITY, {"id": f.gid(campaign)}),
            "side panel": (queries.SIDE_PANEL, {"id": f.gid(leads[0])}),
        },
    }


async def run(schema: strawberry.Schema, ws: Any, text: str, variables: dict[str, Any]) -> Any:
    result = await schema.execute(text, variable_values=variables, context_value=Context(ws, Loaders(ws.id)))
    assert not result.errors, result.errors
    return result.data


@pytest.mark.parametrize("document", ["overview", "audience", "activity", "side panel"])
async def test_the_lean_executor_answers_each_campaign_view_document_as_graphql_core_does(
    schemas: tuple[strawberry.Schema, strawberry.Schema], view: dict[str, Any], document: str
) -> None:
    core, lean = schemas
    ws = view["workspace"]
    text, variables = view["documents"][document]
    expected = await run(core, ws, text, variables)
    # non-trivial answers: a page with rows, a panel with a timeline
    assert expected and str(expected).count("'id'") >= 3

    answered, abandoned = outcome("answered"), outcome("abandoned")
    got = await run(lean, ws, text, variables)

    assert got == expected
    assert outcome("answered") == answered + 1, "the lean executor did not answer this document"
    assert outcome("abandoned") == abandoned


async def test_an_abandon_is_counted_and_logged_and_graphql_core_answers(
    schemas: tuple[strawberry.Schema, strawberry.Schema],
    view: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given a query whose answer has an error (a negative page size is a located error on `audience`)
    _, lean = schemas
    ws = view["workspace"]
    abandoned = outcome("abandoned")
    with caplog.at_level(logging.DEBUG, logger="outbound.schema.lean"):
        result = await lean.execute(
            "query Broken($id: ID!) { campaign(id: $id) { audience(first: -1) { totalCount } } }",
            variable_values=view["documents"]["overview"][1],
            context_value=Context(ws, Loaders(ws.id)),
        )
    # then graphql-core's answer comes back, and the fallback shows in the metric and the log
    assert result.errors and result.errors[0].path == ["campaign", "audience"]
    assert outcome("abandoned") == abandoned + 1
    # (at DEBUG: a client's mistake is logged once, at INFO, by the rerun: tests/test_logs.py)
    assert any("abandoned query Broken" in r.getMessage() and r.levelno == logging.DEBUG for r in caplog.records)


async def test_lean_executor_false_serves_graphql_core_alone(view: dict[str, Any]) -> None:
    from schema.execution import ExecutionContext

    assert build_schema(lean=False).execution_context_class is not ExecutionContext
    answered = outcome("answered")
    text, variables = view["documents"]["audience"]
    await run(build_schema(lean=False), view["workspace"], text, variables)
    assert outcome("answered") == answered
