"""The suppression list (issue 13.5, contract r2): suppressions, addSuppressions, removeSuppression, and
addLeads refusing a suppressed contact (SUPPRESSED), by address or by domain."""

from __future__ import annotations

from typing import Any

from domain.suppressions import suppress_address
from models import Suppression, Workspace
from tests.conftest import GraphQLClient
from tests.factories_mutations import (
    ERRORS,
    add_leads,
    codes,
    counters_match_recount,  # noqa: F401
    create_campaign,
    import_contacts,
    mutate,
    ok,
)

ADD = (
    "mutation($v: [String!]!) { addSuppressions(values: $v) {"
    f" suppressions {{ id value reason createdAt }} {ERRORS} }} }}"
)
REMOVE = f"mutation($id: ID!) {{ removeSuppression(id: $id) {{ removedId {ERRORS} }} }}"
LIST = """query($s: String, $f: Int, $a: String) { suppressions(search: $s, first: $f, after: $a) {
  totalCount nodes { value reason } edges { cursor } pageInfo { hasNextPage endCursor } } }"""


async def listed(gql: GraphQLClient, **variables: Any) -> dict[str, Any]:
    return (await gql(LIST, variables))["suppressions"]


async def test_values_are_added_normalized_and_bad_ones_refused_one_by_one(gql: GraphQLClient) -> None:
    payload = await mutate(gql, ADD, {"v": ["Ana@Acme.COM", "not an address", "Spam.Example", "a@b", "x@acme.com"]})
    assert [(s["value"], s["reason"]) for s in payload["suppressions"]] == [
        ("ana@acme.com", "MANUAL"),
        ("spam.example", "MANUAL"),
        ("x@acme.com", "MANUAL"),
    ]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("INVALID_INPUT", ["values", "1"]),
        ("INVALID_INPUT", ["values", "3"]),
    ]
    again = await ok(gql, ADD, {"v": ["ana@acme.com"]})  # already there: a no-op returning the same row
    assert again["suppressions"][0]["id"] == payload["suppressions"][0]["id"]
    page = await listed(gql)
    assert page["totalCount"] == 3
    assert [n["value"] for n in page["nodes"]] == ["x@acme.com", "spam.example", "ana@acme.com"]  # newest first


async def test_more_than_a_thousand_values_change_nothing(gql: GraphQLClient) -> None:
    payload = await mutate(gql, ADD, {"v": [f"p{i}@x.test" for i in range(1001)]})
    assert codes(payload) == ["INVALID_INPUT"] and payload["suppressions"] == []
    assert (await listed(gql))["totalCount"] == 0


async def test_search_and_pages(gql: GraphQLClient) -> None:
    await ok(gql, ADD, {"v": [f"p{i}@x.test" for i in range(5)] + ["other.example"]})
    assert [n["value"] for n in (await listed(gql, s="X.TEST"))["nodes"]] == [f"p{i}@x.test" for i in (4, 3, 2, 1, 0)]
    first = await listed(gql, f=2)
    assert first["pageInfo"]["hasNextPage"] and len(first["nodes"]) == 2
    second = await listed(gql, f=10, a=first["pageInfo"]["endCursor"])
    assert [n["value"] for n in second["nodes"]] == [f"p{i}@x.test" for i in (3, 2, 1, 0)]
    assert not second["pageInfo"]["hasNextPage"]


async def test_remove_takes_a_value_off_and_an_unknown_id_is_not_found(gql: GraphQLClient) -> None:
    made = (await ok(gql, ADD, {"v": ["ana@acme.com"]}))["suppressions"][0]
    assert (await ok(gql, REMOVE, {"id": made["id"]}))["removedId"] == made["id"]
    assert (await listed(gql))["totalCount"] == 0
    again = await mutate(gql, REMOVE, {"id": made["id"]})
    assert again["removedId"] is None and codes(again) == ["NOT_FOUND"]


async def test_another_workspace_does_not_see_or_remove_the_list(gql: GraphQLClient, other_workspace: Any) -> None:
    other_gql = gql.as_key(other_workspace[1])
    made = (await ok(gql, ADD, {"v": ["ana@acme.com"]}))["suppressions"][0]
    assert (await listed(other_gql))["totalCount"] == 0
    assert codes(await mutate(other_gql, REMOVE, {"id": made["id"]})) == ["NOT_FOUND"]
    assert (await listed(gql))["totalCount"] == 1


async def test_add_leads_refuses_a_suppressed_contact_by_address_or_domain(gql: GraphQLClient) -> None:
    campaign = await create_campaign(gql)
    contacts = await import_contacts(gql, 3)  # c0@x.test, c1@x.test, c2@x.test
    await ok(gql, ADD, {"v": ["C1@x.test"]})
    payload = await add_leads(gql, campaign["id"], contacts)
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("SUPPRESSED", ["contactIds", "1"])]
    assert len(payload["leads"]) == 2
    await ok(gql, ADD, {"v": ["x.test"]})
    other = await create_campaign(gql, name="Other")
    payload = await add_leads(gql, other["id"], contacts)
    assert codes(payload) == ["SUPPRESSED"] * 3 and payload["leads"] == []


async def test_suppress_address_lists_a_bounce_once(gql: GraphQLClient, workspace: Any) -> None:
    ws: Workspace = workspace[0]
    await suppress_address(ws.id, "Ana@Acme.com", "BOUNCED")
    await suppress_address(ws.id, "ana@acme.com", "UNSUBSCRIBED")  # kept with its first reason
    rows = await Suppression.filter(workspace_id=ws.id).values_list("value", "reason")
    assert [(v, getattr(r, "value", r)) for v, r in rows] == [("ana@acme.com", "BOUNCED")]
