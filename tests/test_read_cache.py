"""The read cache (readcache/): a repeated query is answered from memory, and never with stale data.

Every test asserts what a client sees: the data, and `X-Outbound-Cache` (hit: not executed).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import subprocess
import sys
from typing import Any

import httpx

from domain.tx import transaction
from models import Campaign, Workspace
from tests import factories as f
from tests.conftest import Backend, GraphQLClient
from tests.factories_mutations import add_leads, create_campaign, import_contacts

NAME = "query($id: ID!) { campaign(id: $id) { name } }"
AUDIENCE = "query($id: ID!) { campaign(id: $id) { audience { totalCount nodes { contact { firstName } } } } }"


async def ask(gql: GraphQLClient, query: str, variables: dict[str, Any] | None = None, **kw: Any) -> tuple[Any, str]:
    """(the response's JSON, its cache header: 'hit', 'miss' or '' when the request was not cacheable)."""
    response = await gql.post(query, variables, **kw)
    return response.json(), response.headers.get("x-outbound-cache", "")


async def served_from_cache(
    gql: GraphQLClient, query: str, variables: dict[str, Any] | None = None, warm: dict[str, Any] | None = None
) -> Any:
    """The answer to `query` once a repeat of it (after `warm` variables, by default the same) is a hit.

    On PostgreSQL the data version is the cluster's snapshot: a commit in any database of the cluster (other
    test runs share it) is a new version, so a repeat may miss. It must hit once the cluster is quiet for a
    moment, and must always carry the same data.
    """
    for _ in range(100):
        await ask(gql, query, variables if warm is None else warm)
        body, cache = await ask(gql, query, variables)
        if cache == "hit":
            return body
    raise AssertionError(f"never served from the cache: {query}")


async def name_of(gql: GraphQLClient, campaign_id: str) -> tuple[str, str]:
    body, cache = await ask(gql, NAME, {"id": campaign_id})
    assert "errors" not in body, body
    return body["data"]["campaign"]["name"], cache


async def test_identical_queries_without_a_write_are_hits(gql: GraphQLClient, workspace: Any) -> None:
    row, _ = await f.campaign(workspace[0], "Spring")
    first, cache = await ask(gql, NAME, {"id": f.gid(row)})
    assert cache == "miss"
    assert first == await served_from_cache(gql, NAME, {"id": f.gid(row)}) == {"data": {"campaign": {"name": "Spring"}}}


async def test_a_mutation_through_the_api_is_seen_by_the_next_query(gql: GraphQLClient, workspace: Any) -> None:
    campaign = await create_campaign(gql)
    contacts = await import_contacts(gql, 3)
    await add_leads(gql, campaign["id"], contacts[:1])
    before = await served_from_cache(gql, AUDIENCE, {"id": campaign["id"]})
    assert before["data"]["campaign"]["audience"]["totalCount"] == 1
    # when two more leads are added through the API
    await add_leads(gql, campaign["id"], contacts[1:])
    # then the same query executes again and shows them
    after, cache = await ask(gql, AUDIENCE, {"id": campaign["id"]})
    assert cache == "miss"
    assert after["data"]["campaign"]["audience"]["totalCount"] == 3
    assert len(after["data"]["campaign"]["audience"]["nodes"]) == 3


async def test_mutations_are_never_cached(gql: GraphQLClient, workspace: Any) -> None:
    mutation = 'mutation { createIdentity(input: { name: "S" }) { identity { name } errors { code } } }'
    first, cache1 = await ask(gql, mutation)
    _, cache2 = await ask(gql, mutation)
    assert (cache1, cache2) == ("", "")
    assert first["data"]["createIdentity"]["identity"]["name"] == "S"
    data = await gql("{ identities { name } }")
    assert [i["name"] for i in data["identities"]] == ["S", "S"]  # both executed


async def test_a_direct_model_write_is_seen_by_the_next_query(gql: GraphQLClient, workspace: Any) -> None:
    row, _ = await f.campaign(workspace[0], "Spring")
    assert (await served_from_cache(gql, NAME, {"id": f.gid(row)}))["data"]["campaign"]["name"] == "Spring"
    # a write that bypasses the API and bumps no version of ours
    await Campaign.filter(id=row.id).update(name="Summer")
    assert await name_of(gql, f.gid(row)) == ("Summer", "miss")
    assert (await served_from_cache(gql, NAME, {"id": f.gid(row)}))["data"]["campaign"]["name"] == "Summer"


async def test_a_rolled_back_transaction_never_reaches_the_cache(gql: GraphQLClient, workspace: Any) -> None:
    row, _ = await f.campaign(workspace[0], "Spring")
    await name_of(gql, f.gid(row))

    class Abort(Exception):
        pass

    # given a transaction that writes, with identical queries from other requests issued while it is open
    outside = contextvars.copy_context()  # a request's context: not the transaction's
    pending: list[asyncio.Task[tuple[str, str]]] = []
    try:
        async with transaction():
            await Campaign.filter(id=row.id).update(name="Never")
            for _ in range(3):
                pending.append(asyncio.create_task(name_of(gql, f.gid(row)), context=outside.copy()))
                await asyncio.sleep(0.01)  # let each one get as far as it can
            # a query run inside the transaction's own context sees its rows, and is not cached
            assert (await name_of(gql, f.gid(row))) == ("Never", "")
            raise Abort
    except Abort:
        pass
    # then none of them saw the rolled-back name (on SQLite they waited for the transaction to end)
    assert [name for name, _ in await asyncio.gather(*pending)] == ["Spring"] * 3
    # and neither does any later query, from the cache or not
    assert (await name_of(gql, f.gid(row)))[0] == "Spring"
    assert (await name_of(gql, f.gid(row)))[0] == "Spring"
    # while a committed one is seen at once
    async with transaction():
        await Campaign.filter(id=row.id).update(name="Summer")
    assert await name_of(gql, f.gid(row)) == ("Summer", "miss")


async def test_a_commit_racing_with_reads_is_seen_once_it_is_acknowledged(gql: GraphQLClient, workspace: Any) -> None:
    row, _ = await f.campaign(workspace[0], "Name 0")
    for i in range(1, 6):
        readers = [asyncio.create_task(name_of(gql, f.gid(row))) for _ in range(4)]
        await Campaign.filter(id=row.id).update(name=f"Name {i}")
        await asyncio.gather(*readers)
        # the update is acknowledged: whatever the racing readers stored, the next read shows it
        assert (await name_of(gql, f.gid(row)))[0] == f"Name {i}"


def _write_elsewhere(backend: Backend, campaign_id: int, name: str) -> None:
    """Rename a campaign from another process, with the database's own driver (no Outbound code)."""
    if backend.real:
        script = (
            "import asyncio, asyncpg, sys\n"
            "async def main():\n"
            "    conn = await asyncpg.connect(sys.argv[1])\n"
            "    await conn.execute('UPDATE campaign SET name = $1 WHERE id = $2', sys.argv[3], int(sys.argv[2]))\n"
            "    await conn.close()\n"
            "asyncio.run(main())\n"
        )
        target = backend.database_url
    else:
        script = (
            "import sqlite3, sys\n"
            "conn = sqlite3.connect(sys.argv[1])\n"
            "conn.execute('UPDATE campaign SET name = ? WHERE id = ?', (sys.argv[3], int(sys.argv[2])))\n"
            "conn.commit()\n"
            "conn.close()\n"
        )
        target = backend.database_url.removeprefix("sqlite://")
    subprocess.run([sys.executable, "-c", script, target, str(campaign_id), name], check=True, timeout=60)


async def test_a_write_by_another_process_is_seen_by_the_next_query(
    gql: GraphQLClient, workspace: Any, backend: Backend
) -> None:
    row, _ = await f.campaign(workspace[0], "Spring")
    assert (await served_from_cache(gql, NAME, {"id": f.gid(row)}))["data"]["campaign"]["name"] == "Spring"
    await asyncio.to_thread(_write_elsewhere, backend, row.id, "Autumn")
    assert await name_of(gql, f.gid(row)) == ("Autumn", "miss")


async def test_answers_with_errors_are_never_cached(gql: GraphQLClient, workspace: Any) -> None:
    row, _ = await f.campaign(workspace[0], "Spring")
    query = 'query($id: ID!) { campaign(id: $id) { audience(after: "not-a-cursor") { totalCount } } }'
    first, cache1 = await ask(gql, query, {"id": f.gid(row)})
    second, cache2 = await ask(gql, query, {"id": f.gid(row)})
    assert first["errors"] and second["errors"]
    assert (cache1, cache2) == ("miss", "miss")
    # a document that does not validate executes (and fails) every time
    for _ in range(2):
        bad, cache = await ask(gql, "{ campaign { nope } }")
        assert bad["errors"] and cache == "miss"
    # one that does not even parse is not looked up
    broken, cache = await ask(gql, "{ campaign(")
    assert broken["errors"] and cache == ""


async def test_another_workspace_never_gets_the_first_ones_answer(
    gql: GraphQLClient, workspace: Any, other_workspace: Any
) -> None:
    row, _ = await f.campaign(workspace[0], "Ours")
    other = gql.as_key(other_workspace[1])
    assert (await served_from_cache(gql, "{ viewer { name } }"))["data"]["viewer"]["name"] == "Acme"
    body, _ = await ask(other, "{ viewer { name } }")
    assert body["data"]["viewer"]["name"] == "Globex"
    # the same query and variables: ours is cached, theirs must not see it
    assert (await served_from_cache(gql, NAME, {"id": f.gid(row)}))["data"]["campaign"]["name"] == "Ours"
    body, _ = await ask(other, NAME, {"id": f.gid(row)})
    assert body == {"data": {"campaign": None}}
    # and without a key, no answer at all
    response = await gql.post(NAME, {"id": f.gid(row)}, key=None)
    assert response.status_code == 401 and "x-outbound-cache" not in response.headers


async def test_variables_are_part_of_the_key(gql: GraphQLClient, workspace: Any) -> None:
    a, _ = await f.campaign(workspace[0], "Alpha")
    b, _ = await f.campaign(workspace[0], "Beta")
    assert await name_of(gql, f.gid(a)) == ("Alpha", "miss")
    assert await name_of(gql, f.gid(b)) == ("Beta", "miss")
    assert (await served_from_cache(gql, NAME, {"id": f.gid(a)}))["data"]["campaign"]["name"] == "Alpha"
    assert (await served_from_cache(gql, NAME, {"id": f.gid(b)}))["data"]["campaign"]["name"] == "Beta"
    # each hit right after the other id's answer was stored: both live side by side
    assert (await served_from_cache(gql, NAME, {"id": f.gid(a)}, warm={"id": f.gid(b)}))["data"]["campaign"] == {
        "name": "Alpha"
    }
    # the order of variables in the JSON does not matter, their values do
    query = "query($id: ID!, $first: Int) { campaign(id: $id) { audience(first: $first) { totalCount } } }"
    await served_from_cache(gql, query, {"first": 1, "id": f.gid(a)}, warm={"id": f.gid(a), "first": 1})
    _, cache = await ask(gql, query, {"first": 2, "id": f.gid(a)})
    assert cache == "miss"


async def test_operation_name_selects_what_is_cached(
    gql: GraphQLClient, workspace: Any, http: httpx.AsyncClient
) -> None:
    row, _ = await f.campaign(workspace[0], "Spring")
    document = (
        "query Name($id: ID!) { campaign(id: $id) { name } } "
        'mutation Make { createIdentity(input: { name: "M" }) { identity { name } } }'
    )
    headers = {"Authorization": f"Bearer {workspace[1]}"}

    async def run(operation: str) -> httpx.Response:
        payload = {"query": document, "variables": {"id": f.gid(row)}, "operationName": operation}
        return await http.post(
            "/graphql", content=json.dumps(payload), headers={**headers, "content-type": "application/json"}
        )

    assert (await run("Name")).headers.get("x-outbound-cache") == "miss"
    for _ in range(100):  # a hit once no commit lands in between (see served_from_cache)
        if (await run("Name")).headers.get("x-outbound-cache") == "hit":
            break
    else:
        raise AssertionError("the query operation was never served from the cache")
    made = [await run("Make") for _ in range(2)]
    assert all("x-outbound-cache" not in r.headers for r in made)
    assert [i["name"] for i in (await gql("{ identities { name } }"))["identities"]] == ["M", "M"]


async def test_the_viewer_is_read_fresh_not_from_the_key_cache(gql: GraphQLClient, workspace: Any) -> None:
    # the API-key lookup keeps the workspace for a while; a cached answer must not outlive a rename
    assert (await served_from_cache(gql, "{ viewer { name } }"))["data"]["viewer"]["name"] == "Acme"
    await Workspace.filter(id=workspace[0].id).update(name="Acme Corp")
    body, cache = await ask(gql, "{ viewer { name } }")
    assert (body["data"]["viewer"]["name"], cache) == ("Acme Corp", "miss")


async def test_identical_concurrent_queries_execute_once(gql: GraphQLClient, workspace: Any, backend: Backend) -> None:
    row, _ = await f.campaign(workspace[0], "Spring")
    await Campaign.filter(id=row.id).update(name="Summer")  # a fresh version: nothing cached for it
    answers = await asyncio.gather(*(ask(gql, NAME, {"id": f.gid(row)}) for _ in range(8)))
    assert all(body == {"data": {"campaign": {"name": "Summer"}}} for body, _ in answers)
    caches = sorted(cache for _, cache in answers)
    if not backend.real:  # on PostgreSQL a commit elsewhere in the cluster may split them over two versions
        assert caches == ["hit"] * 7 + ["miss"]
    # an answer with errors is not shared: each request executes (and fails) for itself
    bad = 'query($id: ID!) { campaign(id: $id) { audience(after: "nope") { totalCount } } }'
    failed = await asyncio.gather(*(ask(gql, bad, {"id": f.gid(row)}) for _ in range(4)))
    assert all(body["errors"] and cache == "miss" for body, cache in failed)
