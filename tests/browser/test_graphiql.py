"""GraphiQL at /graphql with every non-local request blocked: it loads from this server, fetches the schema
with the key it asked for, and runs a query (HTTP) and a subscription (websocket) with that key."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from tests.browser.conftest import until
from tests.browser.seed import Seeded, reply, seed
from tests.test_live_subscriptions import Server

EDITOR = ".graphiql-query-editor .CodeMirror"
RESPONSE = ".graphiql-response .CodeMirror"


async def test_graphiql_works_offline_with_the_key(page: Any, server: Server, workspace: Any) -> None:
    seeded: Seeded = await seed(server, workspace[1])
    blocked: list[str] = []
    graphql_posts: list[dict[str, Any]] = []
    frames: list[str] = []

    async def only_local(route: Any) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            await route.continue_()
        else:
            blocked.append(route.request.url)
            await route.abort()

    await page.route("**/*", only_local)

    def on_request(request: Any) -> None:
        if request.method == "POST" and request.url.endswith("/graphql"):
            graphql_posts.append({"auth": request.headers.get("authorization"), "body": request.post_data or ""})

    page.on("request", on_request)
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: frames.append(str(payload))))

    await page.goto(server.base + "/graphql")
    # the key is asked for before anything is fetched
    assert not graphql_posts
    await page.locator('input[name="apiKey"]').fill("ob_wrong")
    await page.get_by_role("button", name="Use key").click()
    await page.get_by_text("That key was not accepted.").wait_for()
    assert await page.locator(EDITOR).count() == 0 and not await page.evaluate("sessionStorage.length")
    assert all("__schema" not in p["body"] for p in graphql_posts)

    await page.locator('input[name="apiKey"]').fill(seeded.key)
    await page.get_by_role("button", name="Use key").click()
    await page.locator(EDITOR).wait_for()
    await until(lambda: _introspected(graphql_posts), what="the schema fetch")
    schema_fetches = [p for p in graphql_posts if "__schema" in p["body"]]
    assert [p["auth"] for p in schema_fetches] == [f"Bearer {seeded.key}"]  # once, and with the key
    assert await page.get_by_text("Workspace: Acme").count() == 1

    # a query over HTTP
    await _run(page, "{ campaigns { nodes { id name status } } }")
    result = await until(lambda: _response_json(page, "campaigns"), what="the query's response")
    assert result["data"]["campaigns"]["nodes"][0]["name"] == "Browser outreach"

    # a subscription over the websocket, authenticated in connection_init
    await _run(
        page,
        f'subscription {{ campaignStats(campaignId: "{seeded.campaign_id}") {{ version allChannels {{ replied }} }} }}',
    )
    first = await until(lambda: _response_json(page, "campaignStats"), what="the first snapshot")
    replied = first["data"]["campaignStats"]["allChannels"]["replied"]
    await reply(server, seeded, "Ana")

    async def moved() -> bool:
        got = await _response_json(page, "campaignStats")
        return bool(got) and got["data"]["campaignStats"]["allChannels"]["replied"] == replied + 1

    await until(moved, 10, "the pushed snapshot")
    init = [json.loads(f) for f in frames if '"connection_init"' in f]
    assert init and init[0]["payload"] == {"Authorization": f"Bearer {seeded.key}"}

    assert blocked == []  # nothing was even attempted beyond this server
    assert seeded.key not in await page.evaluate("JSON.stringify(localStorage)")
    assert await page.evaluate("sessionStorage.getItem('outbound.apiKey')") == seeded.key


async def _introspected(posts: list[dict[str, Any]]) -> bool:
    return any("__schema" in p["body"] for p in posts)


async def _run(page: Any, query: str) -> None:
    await page.evaluate("([sel, q]) => document.querySelector(sel).CodeMirror.setValue(q)", [EDITOR, query])
    # GraphiQL takes the editor's text into its state after a short debounce; run before it, it would run
    # the previous text (the two-operation example, which asks which one to run)
    await page.wait_for_timeout(500)
    await page.locator(".graphiql-execute-button").click()


async def _response_json(page: Any, field: str) -> dict[str, Any] | None:
    text = await page.evaluate("sel => document.querySelector(sel)?.CodeMirror.getValue() ?? ''", RESPONSE)
    try:
        body = json.loads(text)
    except ValueError:
        return None
    return body if field in (body.get("data") or {}) else None
