"""Outbound's API server: the app factory, its lifespan, and a small CLI.

python server.py                          serve (the dashboard at http://127.0.0.1:8000/, GraphiQL at /graphql)
python server.py create-workspace NAME    create a workspace; its API key is the last line printed
python server.py reconcile                recompute every lead's flags from the activity log, then every
                                          campaign's counters and series slots from the tables; report drift
python server.py demo [--reset]           seed the demo (if missing) and print its key; --reset starts it over
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypedDict

import orjson
import strawberry
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry import UNSET
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

import logs
from config import Settings, get_settings
from domain.auth import KeyCache, authenticate, key_cache_of, parse_bearer
from engine.scheduler import Scheduler
from export import ROUTES as EXPORT_ROUTES
from live import runtime as live_runtime
from live.bus import Bus
from live.hub import Hub
from live.keys import KeyWatch
from models.db import close_db, database_unavailable, init_db
from ops import ROUTES as OPS_ROUTES
from ops import process_exiting
from resolvers.context import Context, Loaders
from schema.build import build_schema
from schema.masking import REQUEST_ERRORS
from schema.transport import LiveTransportWSHandler
from server_http import uvicorn_options
from server_limits import BodyLimit, CancelOnDisconnect, RateLimit, RateLimiter
from tasks import runtime as engine_runtime
from tasks.runtime import Runtime
from tracking import ROUTES as TRACKING_ROUTES

log = logging.getLogger("outbound.server")
WEB = Path(__file__).resolve().parent / "web"  # the dashboard and GraphiQL pages; web/static is served at /assets

UNAUTHORIZED = {
    "errors": [
        {
            "message": "Missing or invalid API key: send the header `Authorization: Bearer <key>`.",
            "extensions": {"code": "UNAUTHENTICATED"},
        }
    ]
}

#: During a database outage (models/db.database_unavailable): a GraphQL-shaped 503, not a plain-text 500.
UNAVAILABLE = {
    "errors": [
        {
            "message": "The service is unavailable (its database cannot be reached); try again shortly.",
            "extensions": {"code": "SERVICE_UNAVAILABLE"},
        }
    ]
}
RETRY_AFTER = "5"

WEBSOCKET_HINT = " (queries and mutations: POST; subscriptions: a websocket at /graphql, graphql-transport-ws)"


class OutboundGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI app with our context, websocket authentication, orjson and JSON error bodies."""

    # Our two subscriptions are rendered once per change and shared by all their subscribers (schema/transport.py).
    graphql_transport_ws_handler_class = LiveTransportWSHandler

    def encode_json(self, data: object) -> str:
        # orjson encodes a 50-row page several times faster than `json.dumps`. A `str`, not bytes: the
        # websocket adapter sends bytes as binary frames, and graphql-transport-ws clients expect text.
        return orjson.dumps(data).decode()

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)  # orjson.JSONDecodeError is a json.JSONDecodeError: a 400 as before

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        """Strawberry's run; a request it refuses (bad JSON, no query, unknown operationName, a mutation over
        GET...) is answered as a GraphQL error with a code (README.md, "Errors"), not as Strawberry's text."""
        try:
            return await super().run(request, context, root_value)
        except HTTPException as error:
            cause = error.__cause__
            code = next((code for kind, code in REQUEST_ERRORS if isinstance(cause, kind)), None)
            code = code or ("NOT_FOUND" if error.status_code == 404 else "BAD_REQUEST")
            message = error.reason + (WEBSOCKET_HINT if isinstance(cause, InvalidOperationTypeError) else "")
            if isinstance(cause, orjson.JSONDecodeError) and "depth" in str(cause):
                message = "The request body's JSON is nested too deeply (more than 1024 levels)."
            body = {"errors": [{"message": message, "extensions": {"code": code}}]}
            return JSONResponse(body, status_code=error.status_code)

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        # Our page, not Strawberry's: its assets come from this server (no CDN), and it asks for the key first.
        return HTMLResponse((WEB / "graphiql.html").read_text())

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response = super().create_response(response_data, sub_response)
        # A database outage met while executing (schema/masking.py gives it its code): 503, as in RequireApiKey.
        errors = response_data.get("errors") if isinstance(response_data, dict) else None
        if errors and any((e.get("extensions") or {}).get("code") == "SERVICE_UNAVAILABLE" for e in errors):
            response.status_code = 503
            response.headers["Retry-After"] = RETRY_AFTER
        return response

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket | None = None) -> Context:
        workspace = request.scope.get("outbound.workspace")
        loaders = Loaders(workspace.id) if workspace is not None else None
        state = request.scope.get("state") or {}  # the lifespan's AppState (absent when no lifespan ran)
        return Context(
            workspace=workspace,
            loaders=loaders,
            request=request,
            response=response,
            hub=state.get("hub"),
            keys=state.get("keys"),
            api_key_id=request.scope.get("outbound.api_key_id"),
        )

    async def on_ws_connect(self, context: Context) -> Any:
        params = context.connection_params or {}
        raw = params.get("Authorization") or params.get("authorization")
        try:
            key = parse_bearer(raw) if isinstance(raw, str) else None
            found = await authenticate(key, key_cache_of(context.request.scope if context.request else {}))
        except Exception as error:
            if not database_unavailable(error):
                raise
            log.warning("websocket refused: the database is unavailable (%s)", type(error).__name__)
            found = None
        if found is None:
            raise ConnectionRejectionError({"message": "Missing or invalid API key in connection_init."})
        context.workspace = found.workspace
        context.api_key_id = found.key_id  # schema/transport.py closes the socket (4403) if it is revoked
        context.loaders = Loaders(found.workspace.id)
        return None  # plain connection_ack


class RequireApiKey:
    """Every GraphQL HTTP request carries a valid key (401 otherwise); GraphiQL's page loads without one.

    Websockets authenticate in `connection_init` instead (OutboundGraphQL.on_ws_connect).
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not _is_graphiql_page(scope):
            headers = dict(scope.get("headers") or [])
            raw = parse_bearer(headers.get(b"authorization", b"").decode("latin-1"))
            try:
                found = await authenticate(raw, key_cache_of(scope))
            except Exception as error:
                if not database_unavailable(error):
                    raise
                log.warning("request refused: the database is unavailable (%s)", type(error).__name__)
                response = JSONResponse(UNAVAILABLE, status_code=503, headers={"Retry-After": RETRY_AFTER})
                await response(scope, receive, send)
                return
            if found is None:
                response = JSONResponse(UNAUTHORIZED, status_code=401, headers={"WWW-Authenticate": "Bearer"})
                await response(scope, receive, send)
                return
            scope["outbound.workspace"] = found.workspace
            scope["outbound.api_key_id"] = found.key_id
        await self.app(scope, receive, send)


def _is_graphiql_page(scope: Scope) -> bool:
    if scope["method"] != "GET" or b"query=" in scope.get("query_string", b""):
        return False
    accept = dict(scope.get("headers") or []).get(b"accept", b"")
    return b"text/html" in accept


class AppState(TypedDict):
    """What the lifespan makes for one app (Starlette hands it to every request as `request.state`)."""

    settings: Settings
    schema: strawberry.Schema
    bus: Bus
    hub: Hub
    keys: KeyWatch
    #: The keys requests authenticated with lately (domain/auth.py); `keys` evicts the revoked ones.
    key_cache: KeyCache
    engine: Runtime
    #: The demo's simulated replies and acceptances: only when DEMO is on, never in the scheduler's tick.
    simulator: Scheduler | None
    #: Each API key's request budget (in Redis when configured) and open websockets (server_limits.py).
    limiter: RateLimiter


def _start_simulator() -> Scheduler:
    from engine import clock, simulator

    demo = Scheduler(work=lambda: simulator.simulate(clock.now()))
    demo.start()
    return demo


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    schema = build_schema(lean=settings.lean_executor, settings=settings)
    graphql_app = OutboundGraphQL(
        schema,
        graphql_ide="graphiql",
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        connection_init_wait_timeout=timedelta(seconds=3),
    )
    # HTTP requests need an API key; websockets pass straight through (they authenticate in connection_init).
    graphql = RequireApiKey(graphql_app)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[AppState]:
        await init_db(settings.database_url)
        if settings.demo:
            from domain.demo import ensure_demo

            await ensure_demo(settings)
        live = await live_runtime.start(settings)
        engine = await engine_runtime.start(settings)
        simulator = _start_simulator() if settings.demo else None
        # Everything loaded so far lives as long as the process: keep it out of the collector's full
        # passes, which otherwise pause the loop for 100+ ms once thousands of sockets are open.
        gc.collect()
        gc.freeze()
        log.info("Outbound ready: GraphiQL at http://%s:%s/graphql", settings.host, settings.port)
        try:
            yield AppState(
                settings=settings,
                schema=schema,
                bus=live.bus,
                hub=live.hub,
                keys=live.keys,
                key_cache=live.keys.cache,
                engine=engine,
                simulator=simulator,
                limiter=RateLimiter.start(settings),
            )
        finally:
            if simulator is not None:
                await simulator.stop()
            await engine.stop()
            await live.stop()  # open subscriptions complete before the database goes away
            await close_db()
            process_exiting()

    async def home(request: Request) -> Response:
        return FileResponse(WEB / "index.html")

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/healthz", health),
            *OPS_ROUTES,  # /readyz, /metrics (ops.py)
            Route("/graphql", graphql),  # any method: Strawberry refuses the others, in JSON (OutboundGraphQL.run)
            WebSocketRoute("/graphql", graphql_app),  # authenticates in connection_init
            *EXPORT_ROUTES,  # /export/audience.csv, /export/activity.csv (export.py): the Bearer key, as /graphql
            *TRACKING_ROUTES,  # /t/{token} clicks, /u/{token} unsubscribe (tracking.py): the token is the key
            Mount("/assets", StaticFiles(directory=WEB / "static"), name="assets"),
        ],
        lifespan=lifespan,
        # Outermost first: a request whose client left is cancelled; a body over the limit is refused while it
        # streams; a key over its rate is refused before anything else runs (README.md, "Limits").
        middleware=[
            Middleware(CancelOnDisconnect),
            Middleware(BodyLimit, max_bytes=settings.max_body_bytes),
            Middleware(RateLimit),
        ],
    )
    app.state.schema = schema
    return app


# ---------------------------------------------------------------------------------------------- CLI


async def _create_workspace(settings: Settings, name: str) -> str:
    from domain.auth import create_workspace

    await init_db(settings.database_url)
    try:
        workspace, key = await create_workspace(name)
        print(f"Workspace {workspace.name!r} created (id {workspace.id}). Its API key, shown only once:")
        return key
    finally:
        await close_db()


async def _reconcile(settings: Settings) -> int:
    """Each campaign's lead flags from the Activity log (engine/recount.py), then its counters, series slots
    and reply steps from the tables (domain/rebuild.py, in one transaction): in that order, so the counters'
    recount sees the repaired flags. Returns how many campaigns had any drift (the exit status)."""
    from domain.rebuild import rebuild
    from domain.tx import transaction
    from engine.recount import reconcile_flags
    from models import Campaign

    await init_db(settings.database_url)
    try:
        drifted = 0
        for campaign_id in await Campaign.all().order_by("id").values_list("id", flat=True):
            # A flat values_list yields the values; Tortoise's annotation says tuples.
            flags = await reconcile_flags(campaign_id)  # type: ignore[arg-type]
            if flags:
                print(f"campaign {campaign_id}: repaired lead flags {json.dumps(flags, sort_keys=True)}")
            # The series slots and reply steps are rewritten too (domain/rebuild.py), in one transaction.
            async with transaction():
                drift = await rebuild(campaign_id)  # type: ignore[arg-type]
            if drift:
                print(f"campaign {campaign_id}: repaired drift {json.dumps(drift, sort_keys=True)}")
            drifted += bool(flags or drift)
        print(f"reconciled: {drifted} campaign(s) had drift" if drifted else "reconciled: no drift")
        return drifted
    finally:
        await close_db()


async def _demo(settings: Settings, reset: bool) -> int:
    from domain.demo import ensure_demo, reset_demo

    if not settings.demo:
        print("DEMO is off for this database (the default with PostgreSQL): set DEMO=true to have a demo here.")
        return 1
    await init_db(settings.database_url)
    try:
        await (reset_demo(settings) if reset else ensure_demo(settings, serving=False))
        return 0
    finally:
        await close_db()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="server.py", description="Outbound API server")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the API server (default)")
    serve.add_argument("--workers", type=int, default=1)
    create = sub.add_parser("create-workspace", help="create a workspace and print its API key")
    create.add_argument("name")
    sub.add_parser(
        "reconcile", help="recompute lead flags from the activity log, then counters from the leads; report drift"
    )
    demo = sub.add_parser("demo", help="seed the demo workspace if missing and print its API key")
    demo.add_argument("--reset", action="store_true", help="delete the demo workspace (only it) and seed a fresh one")
    args = parser.parse_args(argv)
    settings = get_settings()
    logs.configure(settings.log_level, settings.log_format)

    if args.command == "create-workspace":
        print(asyncio.run(_create_workspace(settings, args.name)))
        return 0
    if args.command == "reconcile":
        return 1 if asyncio.run(_reconcile(settings)) else 0
    if args.command == "demo":
        return asyncio.run(_demo(settings, args.reset))

    import uvicorn

    workers = getattr(args, "workers", 1)
    uvicorn.run(
        "server:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level=settings.log_level.lower(),
        # Applied here and in each --workers child, which otherwise logged without timestamps or levels.
        log_config=logs.uvicorn_config(settings.log_level, settings.log_format),
        ws="websockets-sansio",
        # Snapshots are small JSON: compression saves little and costs ~35 KB of zlib state per socket
        # (and a compression per send, where the live hub otherwise sends the same bytes to everyone).
        ws_per_message_deflate=False,
        # Header and idle timeouts, a connection cap, header and websocket message sizes (server_http.py).
        **uvicorn_options(settings),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
