"""Bad input gets a GraphQL error that says what was wrong, never a stack trace; a fault is masked."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from domain.ids import to_global_id
from models.enums import CampaignStatus, StepType
from tests import factories as f
from tests.conftest import GraphQLClient


@pytest.fixture
async def campaign_id(workspace: Any) -> str:
    campaign, _ = await f.campaign(workspace[0], "Errors", CampaignStatus.ACTIVE, [StepType.EMAIL])
    return f.gid(campaign)


def assert_clean(body: dict[str, Any], *says: str) -> str:
    """One error, whose message says each of `says`, with no trace of the server's insides."""
    assert body.get("errors"), body
    message = body["errors"][0]["message"]
    for part in says:
        assert part in message, message
    text = repr(body)
    for leak in ("Traceback", 'File "', ".py", "stacktrace", "Internal server error"):
        assert leak not in text, text
    return message


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("{ viewer { ", ["Syntax Error", "Expected Name"]),
        ("{ viewer { id }", ["Syntax Error"]),
        ("query { viewer { id } } query { viewer { id } }", ["anonymous operation must be the only defined operation"]),
        ("{ viewer { nope } }", ["Cannot query field 'nope' on type 'Workspace'"]),
        ("{ nothing }", ["Cannot query field 'nothing' on type 'Query'"]),
        ("{ campaigns(bogus: 1) { totalCount } }", ["Unknown argument 'bogus'"]),
        ('{ campaigns(first: "ten") { totalCount } }', ["Int cannot represent non-integer value"]),
        ("{ campaigns(first: 1.5) { totalCount } }", ["Int cannot represent non-integer value"]),
        ("{ campaign { id } }", ["'Query.campaign(id:)'", "is required"]),
        ("{ campaigns(filter: {statuses: [SOON]}) { totalCount } }", ["'SOON'", "CampaignStatus"]),
        ("{ contacts(search: 5) { totalCount } }", ["String cannot represent a non string value"]),
        ("{ campaigns { nodes } }", ["Field 'nodes' of type '[Campaign!]!' must have a selection"]),
    ],
)
async def test_malformed_and_invalid_queries_say_what_is_wrong(gql: GraphQLClient, query: str, says: list[str]) -> None:
    response = await gql.post(query)
    assert_clean(response.json(), *says)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("yesterday", ["'yesterday' is not an ISO-8601 date-time"]),
        ("2026-11-26T09:30:00", ["has no UTC offset"]),
        ("2026-13-01T00:00:00+00:00", ["is not an ISO-8601 date-time"]),
        (20261126, ["DateTime must be an ISO-8601 string"]),
    ],
)
async def test_bad_datetime_values_are_explained(
    gql: GraphQLClient, campaign_id: str, value: Any, says: list[str]
) -> None:
    # as a variable
    query = """query($id: ID!, $from: DateTime) { campaign(id: $id) {
        activity(filter: {from: $from}) { totalCount } } }"""
    body = (await gql.post(query, {"id": campaign_id, "from": value})).json()
    assert_clean(body, "$from", *says)
    # and written into the query
    literal = value if isinstance(value, int) else f'"{value}"'
    inline = f"query($id: ID!) {{ campaign(id: $id) {{ activity(filter: {{to: {literal}}}) {{ totalCount }} }} }}"
    body = (await gql.post(inline, {"id": campaign_id})).json()
    assert_clean(body, "DateTime", *says)


async def test_wrong_variable_types_are_explained(gql: GraphQLClient, campaign_id: str) -> None:
    query = "query($first: Int) { campaigns(first: $first) { totalCount } }"
    assert_clean((await gql.post(query, {"first": "x"})).json(), "Variable '$first'", "Int cannot represent")
    query = "query($id: ID!) { campaign(id: $id) { id } }"
    assert_clean((await gql.post(query, {})).json(), "Variable '$id'", "non-null type 'ID!' to be provided")
    query = 'query($f: AudienceFilter) { campaign(id: "x") { audience(filter: $f) { totalCount } } }'
    assert_clean((await gql.post(query, {"f": {"status": "LOST"}})).json(), "Variable '$f'", "'LOST'")
    assert_clean((await gql.post(query, {"f": {"colour": "red"}})).json(), "Variable '$f'", "'colour'")


async def test_bad_ids_are_simply_not_found(gql: GraphQLClient, campaign_id: str) -> None:
    for bad in ["", "x", "!!!", "Q2FtcGFpZ246", to_global_id("Campaign", 999_999), to_global_id("Nope", 1), "A" * 500]:
        body = (await gql.post("query($id: ID!) { campaign(id: $id) { id } node(id: $id) { id } }", {"id": bad})).json()
        assert body == {"data": {"campaign": None, "node": None}}, bad


async def test_bad_pagination_arguments_are_explained(gql: GraphQLClient, campaign_id: str) -> None:
    query = """query($id: ID!, $first: Int, $after: String) { campaign(id: $id) {
        audience(first: $first, after: $after) { totalCount } } }"""
    message = assert_clean((await gql.post(query, {"id": campaign_id, "first": 1000})).json(), "`first`")
    assert "at most 100" in message and "1000" in message
    assert_clean((await gql.post(query, {"id": campaign_id, "first": -5})).json(), "`first` must be 0 or more")
    assert_clean((await gql.post(query, {"id": campaign_id, "after": "bm9wZQ"})).json(), "not a valid cursor")


async def test_an_internal_fault_is_masked_with_an_error_id(
    gql: GraphQLClient, campaign_id: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # given a resolver that hits an unexpected fault with something secret in its message
    from resolvers import reads

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("connection to db.internal:5432 failed, password=hunter2")

    monkeypatch.setattr(reads, "campaign_audience", broken)
    # when a client asks for it next to a field that works
    with caplog.at_level(logging.ERROR, logger="outbound.errors"):
        response = await gql.post(
            "query($id: ID!) { viewer { name } campaign(id: $id) { audience { totalCount } } }", {"id": campaign_id}
        )
    body = response.json()
    # then the client sees a generic message with an error id, the rest of the answer, and no secret
    assert response.status_code == 200
    assert body["data"] == {"viewer": {"name": "Acme"}, "campaign": None}
    (error,) = body["errors"]
    error_id = error["extensions"]["errorId"]
    assert error["message"] == f"Internal server error (error id {error_id})."
    assert error["extensions"]["code"] == "INTERNAL_SERVER_ERROR"
    assert error["path"] == ["campaign", "audience"]
    assert "hunter2" not in response.text and "RuntimeError" not in response.text and "Traceback" not in response.text
    # and the server's log has the id with the real cause, so the two can be matched
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged and logged[0].exc_info and "hunter2" in str(logged[0].exc_info[1])


async def test_a_request_without_a_query_is_refused_clearly(gql: GraphQLClient) -> None:
    response = await gql.http.post("/graphql", json={"variables": {}}, headers={"Authorization": f"Bearer {gql.key}"})
    assert response.status_code == 400
    assert "Traceback" not in response.text and "query" in response.text.lower()
