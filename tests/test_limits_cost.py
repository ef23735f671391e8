"""A query is measured before it runs: the Campaign View and GraphiQL pass, expensive shapes are refused at once.

README.md, "Limits". Each refusal is a top-level QUERY_TOO_COMPLEX error naming the setting and its value.
"""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

from graphql import get_introspection_query

from bench.queries import ACTIVITY, AUDIENCE, OVERVIEW, SIDE_PANEL
from config import Settings
from schema.build import build_schema
from tests import factories
from tests.conftest import GraphQLClient

NESTED = "{ campaign(id: $id) { audience { nodes { campaign { audience { nodes { campaign { audience { nodes { id } } } } } } } } } }"  # noqa: E501


async def _refusal(gql: GraphQLClient, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    started = time.monotonic()
    response = await gql.post(query, variables)
    elapsed = time.monotonic() - started
    body = response.json()
    assert body.get("data") is None, body  # refused before anything ran
    [error] = [e for e in body["errors"] if e["extensions"]["code"] == "QUERY_TOO_COMPLEX"][:1]
    assert elapsed < 2, f"refusing took {elapsed:.1f}s"
    return error


async def test_the_campaign_view_and_graphiql_introspection_pass(gql: GraphQLClient, workspace: Any) -> None:
    campaign, _ = await factories.campaign(workspace[0])
    cid = factories.gid(campaign)
    for document in (OVERVIEW, AUDIENCE, ACTIVITY):
        await gql(document, {"id": cid})
    response = await gql.post(SIDE_PANEL, {"id": "TGVhZDox"})
    assert not response.json().get("errors")
    # What GraphiQL 3+ sends, with every option on.
    introspection = get_introspection_query(
        descriptions=True, specified_by_url=True, directive_is_repeatable=True, schema_description=True,
        input_value_deprecation=True,
    )  # fmt: skip
    data = await gql(introspection)
    assert data["__schema"]["queryType"]["name"] == "Query"


async def test_nested_connections_are_refused_naming_the_limit(gql: GraphQLClient, workspace: Any) -> None:
    campaign, _ = await factories.campaign(workspace[0])
    cid = factories.gid(campaign)
    error = await _refusal(gql, "query Q($id: ID!) " + NESTED, {"id": cid})
    assert error["extensions"]["limit"] == "MAX_QUERY_DEPTH" and error["extensions"]["maximum"] == 6
    assert "MAX_QUERY_DEPTH=6" in error["message"]
    # Shallow enough, but 100 x 100 leads: the object estimate multiplies through nested lists.
    wide = """query Q($id: ID!) { campaign(id: $id) { audience(first: 100) { nodes {
      campaign { audience(first: 100) { nodes { id } } } } } } }"""
    error = await _refusal(gql, wide, {"id": cid})
    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "limit": "MAX_QUERY_OBJECTS", "maximum": 5000}
    assert "10,302 objects" in error["message"], error["message"]
    # A variable `first` without a default counts as the maximum, 100.
    variable = """query Q($id: ID!, $n: Int) { campaign(id: $id) { audience(first: $n) { nodes {
      campaign { audience(first: $n) { nodes { id } } } } } } }"""
    error = await _refusal(gql, variable, {"id": cid, "n": 1})
    assert error["extensions"]["limit"] == "MAX_QUERY_OBJECTS"
    # Fragments count like the fields they hold.
    spread = """query Q($id: ID!) { campaign(id: $id) { ...A } }
      fragment A on Campaign { audience(first: 100) { nodes { campaign { ...B } } } }
      fragment B on Campaign { audience(first: 100) { nodes { id } } }"""
    assert (await _refusal(gql, spread, {"id": cid}))["extensions"]["limit"] == "MAX_QUERY_OBJECTS"


async def test_aliases_and_tokens_are_refused_at_once(gql: GraphQLClient, workspace: Any) -> None:
    campaign, _ = await factories.campaign(workspace[0])
    cid = factories.gid(campaign)
    aliases = " ".join(f"a{i}: activity(first: 100) {{ totalCount }}" for i in range(60))
    error = await _refusal(gql, "query Q($id: ID!) { campaign(id: $id) { " + aliases + " } }", {"id": cid})
    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "limit": "MAX_QUERY_ALIASES", "maximum": 50}
    thousand = " ".join(f"a{i}: activity(first: 100) {{ totalCount }}" for i in range(1000))
    error = await _refusal(gql, "query Q($id: ID!) { campaign(id: $id) { " + thousand + " } }", {"id": cid})
    assert error["extensions"]["limit"] == "MAX_QUERY_TOKENS"
    error = await _refusal(gql, "{ " + "__typename " * 50_000 + "}")
    assert error["extensions"] == {"code": "QUERY_TOO_COMPLEX", "limit": "MAX_QUERY_TOKENS", "maximum": 5000}
    assert "5000 tokens" in error["message"]
    # 100,000 of them are 1.1 MB: over the body limit, refused before the document is even read whole.
    response = await gql.post("{ " + "__typename " * 100_000 + "}")
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_the_limits_are_settings(settings: Settings) -> None:
    strict = build_schema(settings=settings.model_copy(update={"max_query_depth": 2, "max_query_objects": 10}))
    result = await strict.execute("{ campaigns { nodes { id } } }")
    [error] = result.errors or []
    assert error.extensions == {"code": "QUERY_TOO_COMPLEX", "limit": "MAX_QUERY_OBJECTS", "maximum": 10}
    result = await strict.execute("{ campaigns(first: 5) { nodes { stats { allChannels { started } } } } }")
    assert result.errors and result.errors[0].extensions["limit"] == "MAX_QUERY_DEPTH"  # type: ignore[index]


async def test_big_documents_do_not_stay_in_the_caches(settings: Settings) -> None:
    """Six distinct 1 MB queries once grew the process by 400 MB for good: now they are parsed and dropped."""
    schema = build_schema(settings=settings)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for i in range(6):
            query = '{ contacts(search: "%s") { totalCount } }' % (str(i) * 1_000_000)
            result = await schema.execute(query)
            assert result.errors is None or "contacts" not in str(result.data)
            del result, query
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 20_000_000, f"grew by {(after - before) / 1e6:.0f} MB"
