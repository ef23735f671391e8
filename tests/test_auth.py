"""Auth: every request carries a workspace's key; GraphiQL loads without one."""

from __future__ import annotations

from typing import Any

from tests.conftest import GraphQLClient


async def test_viewer_is_the_keys_workspace(gql: GraphQLClient, workspace: Any) -> None:
    data = await gql("{ viewer { id name } }")
    assert data["viewer"]["name"] == "Acme"


async def test_missing_key_is_401_with_a_graphql_error(gql: GraphQLClient) -> None:
    response = await gql.post("{ viewer { id } }", key=None)
    assert response.status_code == 401
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "Authorization: Bearer" in body["errors"][0]["message"]


async def test_wrong_key_is_401(gql: GraphQLClient) -> None:
    response = await gql.post("{ viewer { id } }", key="ob_not-a-real-key")
    assert response.status_code == 401
    assert "data" not in response.json()


async def test_graphiql_page_loads_without_a_key(http: Any) -> None:
    response = await http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_each_key_sees_its_own_workspace(gql: GraphQLClient, other_workspace: Any) -> None:
    data = await gql.as_key(other_workspace[1])("{ viewer { name } }")
    assert data["viewer"]["name"] == "Globex"
