"""Every top-level error carries `extensions.code`, over HTTP (as JSON, whatever went wrong) and over a websocket.

The codes are listed in README.md, "Errors".
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import orjson
import pytest

from domain.ids import to_global_id
from models.enums import CampaignStatus, StepType
from tests import factories as f
from tests.conftest import GraphQLClient
from tests.test_live_subscriptions import STATS, Client, Server, clients, open_client, server  # noqa: F401

AUDIENCE = """query($id: ID!, $first: Int, $after: String) { campaign(id: $id) {
    audience(first: $first, after: $after) { totalCount } } }"""


@pytest.fixture
async def campaign_id(workspace: Any) -> str:
    campaign, _ = await f.campaign(workspace[0], "Codes", CampaignStatus.ACTIVE, [StepType.EMAIL])
    return f.gid(campaign)


def codes(body: dict[str, Any]) -> list[str | None]:
    assert body.get("errors"), body
    return [(error.get("extensions") or {}).get("code") for error in body["errors"]]


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{ viewer { ", {}, "GRAPHQL_PARSE_FAILED"),
        ("{ viewer { nope } }", {}, "GRAPHQL_VALIDATION_FAILED"),
        ("{ campaigns(bogus: 1) { totalCount } }", {}, "GRAPHQL_VALIDATION_FAILED"),
        ('{ campaigns(first: "ten") { totalCount } }', {}, "GRAPHQL_VALIDATION_FAILED"),
        ("query($first: Int) { campaigns(first: $first) { totalCount } }", {"first": "x"}, "BAD_USER_INPUT"),
        ("query($id: ID!) { campaign(id: $id) { id } }", {}, "BAD_USER_INPUT"),
        (
            'query($from: DateTime) { campaign(id: "x") { activity(filter: {from: $from}) { totalCount } } }',
            {"from": "yesterday"},
            "BAD_USER_INPUT",
        ),
    ],
)
async def test_request_errors_have_codes(gql: GraphQLClient, query: str, variables: dict[str, Any], code: str) -> None:
    response = await gql.post(query, variables)
    assert codes(response.json()) == [code]


async def test_pagination_and_cursor_errors_are_bad_user_input(gql: GraphQLClient, campaign_id: str) -> None:
    for variables in ({"first": 101}, {"first": -1}, {"after": "bm9wZQ"}, {"after": "!!"}):
        body = (await gql.post(AUDIENCE, {"id": campaign_id, **variables})).json()
        assert codes(body) == ["BAD_USER_INPUT"], variables
        assert body["errors"][0]["path"] == ["campaign", "audience"]


async def test_a_masked_fault_is_internal_server_error(
    gql: GraphQLClient, campaign_id: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from resolvers import reads

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(reads, "campaign_audience", broken)
    with caplog.at_level(logging.CRITICAL, logger="outbound.errors"):
        body = (await gql.post(AUDIENCE, {"id": campaign_id})).json()
    assert codes(body) == ["INTERNAL_SERVER_ERROR"] and body["errors"][0]["extensions"]["errorId"]


def _post(gql: GraphQLClient, **kw: Any) -> Any:
    return gql.http.post("/graphql", headers={"Authorization": f"Bearer {gql.key}", **kw.pop("headers", {})}, **kw)


async def _json_error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert codes(body) == [code] and set(body) == {"errors"}, body
    return body["errors"][0]["message"]


async def test_http_errors_are_graphql_shaped_json(gql: GraphQLClient) -> None:
    two = "query A { viewer { id } } query B { viewer { name } }"
    auth = {"Authorization": f"Bearer {gql.key}"}
    message = await _json_error(
        await _post(gql, json={"query": two, "operationName": "C"}), 400, "OPERATION_RESOLUTION_FAILURE"
    )
    assert '"C"' in message
    message = await _json_error(
        await _post(gql, content=b"{not json", headers={"Content-Type": "application/json"}), 400, "BAD_REQUEST"
    )
    assert "JSON" in message
    message = await _json_error(await _post(gql, json={"variables": {}}), 400, "BAD_REQUEST")
    assert "query" in message.lower()
    await _json_error(await _post(gql, json={"query": 5}), 400, "BAD_REQUEST")
    await _json_error(await _post(gql, json={"query": "{ viewer { id } }", "variables": []}), 400, "BAD_REQUEST")
    await _json_error(await _post(gql, json=[{"query": "{ viewer { id } }"}]), 400, "BAD_REQUEST")
    await _json_error(
        await _post(gql, content=b"{ viewer { id } }", headers={"Content-Type": "text/plain"}), 400, "BAD_REQUEST"
    )
    get_mutation = await gql.http.get(
        "/graphql",
        params={"query": 'mutation { createCampaign(input: {name: "x"}) { errors { code } } }'},
        headers=auth,
    )
    await _json_error(get_mutation, 400, "BAD_REQUEST")
    await _json_error(
        await gql.http.put("/graphql", json={"query": "{ viewer { id } }"}, headers=auth), 405, "BAD_REQUEST"
    )
    for field, leaf in (("campaignStats", "version"), ("campaignActivity", "id")):
        query = f'subscription {{ {field}(campaignId: "x") {{ {leaf} }} }}'
        subscription = await _post(gql, json={"query": query})
        assert "websocket" in await _json_error(subscription, 400, "BAD_REQUEST")
    # and what works still works
    response = await _post(gql, json={"query": two, "operationName": "B"})
    assert response.json() == {"data": {"viewer": {"name": "Acme"}}}


async def test_unauthenticated_is_json_with_its_code(gql: GraphQLClient) -> None:
    response = await gql.http.post("/graphql", json={"query": "{ viewer { id } }"})
    await _json_error(response, 401, "UNAUTHENTICATED")


# ------------------------------------------------------------------------------------------ websocket


async def _ws_error(client: Client, op: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    await client.conn.send(orjson.dumps({"id": op, "type": "subscribe", "payload": payload}).decode())
    message = await client.next(op)
    assert message["type"] in ("error", "next"), message
    errors = message["payload"] if message["type"] == "error" else message["payload"].get("errors")
    assert errors, message
    return errors


async def test_websocket_errors_have_codes(server: Server, workspace: Any, clients: list[Client]) -> None:  # noqa: F811
    client = await open_client(clients, server.ws_url, workspace[1])
    unknown = {"query": STATS, "variables": {"id": to_global_id("Campaign", 987654)}}
    invalid = 'subscription { campaignStats(campaignId: "x") { nope } }'
    cases = {
        "not-found": (unknown, "NOT_FOUND"),
        "malformed-id": ({"query": STATS, "variables": {"id": "nope"}}, "NOT_FOUND"),
        "literal-id": ({"query": STATS.replace("$id", '"nope"').replace('("nope": ID!)', "")}, "NOT_FOUND"),
        "validation": ({"query": invalid}, "GRAPHQL_VALIDATION_FAILED"),
        "variables": ({"query": STATS, "variables": {}}, "BAD_USER_INPUT"),
    }
    for op, (payload, code) in cases.items():
        errors = await _ws_error(client, op, payload)
        assert [(e.get("extensions") or {}).get("code") for e in errors] == [code], (op, errors)
    # the socket is still open for the next subscription
    await client.subscribe("fine", STATS, to_global_id("Campaign", 987654))
    assert (await client.next("fine"))["type"] == "error"


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        ({"query": "subscription { campaignStats("}, "Syntax Error"),
        ({"query": STATS, "variables": {"id": "x"}, "operationName": "Nope"}, 'Unknown operation named "Nope"'),
    ],
)
async def test_websocket_documents_without_an_operation_close_the_socket_4400(
    server: Server,  # noqa: F811
    workspace: Any,
    clients: list[Client],  # noqa: F811
    payload: dict[str, Any],
    says: str,
) -> None:
    # graphql-transport-ws as Strawberry speaks it: nothing to run is a protocol error, closed with a reason.
    client = await open_client(clients, server.ws_url, workspace[1])
    await client.conn.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": payload}).decode())
    await asyncio.wait_for(client.reader, 5)
    assert client.conn.close_code == 4400 and says in (client.conn.close_reason or ""), client.conn.close_reason
