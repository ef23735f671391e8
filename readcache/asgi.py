"""The response cache in front of GraphQL execution: a `query` whose answer is already known is not executed.

    RequireApiKey(ReadCache(OutboundGraphQL(...)))

Sits after authentication (the workspace is in the scope) and before Strawberry. A POST with a JSON body
whose selected operation is a `query` is looked up under

    (workspace id, sha256 of the query text, operationName, canonical variables JSON, data version)

and, on a hit, answered with the stored bytes. On a miss Strawberry runs as usual; a 200 JSON answer without
`errors` is stored. Mutations, subscriptions, GET, uploads, batches and anything we cannot parse pass through
untouched. The data version (readcache/version.py) is read from the database once per request, before
executing, so an answer is only ever reused while the database holds exactly the commits it was read from.

Responses carry `X-Outbound-Cache: hit | miss` when the request was cacheable (miss: executed).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

import orjson
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tortoise import connections
from tortoise.backends.base.client import TransactionalDBClient

from readcache.store import Entry, Store
from readcache.version import Coalesced, Version, reader_for_default_connection

log = logging.getLogger("outbound.readcache")

HEADER = b"x-outbound-cache"
HIT: list[tuple[bytes, bytes]] = [(HEADER, b"hit")]
MISS: list[tuple[bytes, bytes]] = [(HEADER, b"miss")]
#: A request body larger than this is not looked at (nor cached): real queries are a few KB.
MAX_REQUEST_BYTES = 64 * 1024
#: Longer query texts pass through: `is_query` keeps the texts it saw, this bounds its memory.
MAX_QUERY_CHARS = 16 * 1024


#: Set (see `bypass`) to execute every query: tests that count what executing a query costs.
_bypass: ContextVar[bool] = ContextVar("readcache_bypass", default=False)


@contextmanager
def bypass() -> Iterator[None]:
    """Within this context (and tasks started from it) requests are executed, neither looked up nor stored."""
    token = _bypass.set(True)
    try:
        yield
    finally:
        _bypass.reset(token)


@lru_cache(maxsize=2048)
def is_query(text: str, operation_name: str | None) -> bool:
    """Whether the operation that this document and name select is a `query`. Unparseable or ambiguous
    documents are not (Strawberry answers them with an error, which is never cached anyway)."""
    try:
        document = parse(text, no_location=True)
    except GraphQLError:
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        chosen = operations[0] if len(operations) == 1 else None
    else:
        chosen = next((op for op in operations if op.name is not None and op.name.value == operation_name), None)
    return chosen is not None and chosen.operation == OperationType.QUERY


def _cache_key(workspace_id: int, body: bytes) -> tuple[Hashable, int] | None:
    """(key without the version, its size) for a cacheable request body; None when it must pass through."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(payload, dict):
        return None  # a batch (list) or garbage
    query = payload.get("query")
    name = payload.get("operationName")
    variables = payload.get("variables")
    if not isinstance(query, str) or len(query) > MAX_QUERY_CHARS or not (name is None or isinstance(name, str)):
        return None
    if not (variables is None or isinstance(variables, dict)) or payload.get("extensions"):
        return None
    if not is_query(query, name):
        return None
    canonical = orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256(query.encode()).digest()
    return (workspace_id, digest, name, canonical), len(canonical) + len(name or "")


class ReadCache:
    """ASGI layer: answers repeated `query` operations from a per-process LRU, keyed by the data version."""

    def __init__(
        self,
        app: ASGIApp,
        store: Store | None = None,
        version_reader: Callable[[], Awaitable[Version]] | None = None,
    ) -> None:
        self.app = app
        self.store = store or Store()
        self._explicit_reader = version_reader
        self._versions: Coalesced | None = None
        #: full key -> the answer of the request executing it now (None if that answer is not storable).
        self._inflight: dict[Hashable, asyncio.Future[Entry | None]] = {}

    def _version_source(self) -> Coalesced | None:
        # Chosen on first use: the database is only configured once the app's lifespan (or a test) started it.
        if self._versions is None:
            reader = self._explicit_reader or reader_for_default_connection()
            if reader is None:
                return None
            self._versions = Coalesced(reader)
        return self._versions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        workspace = scope.get("outbound.workspace")
        if scope["type"] != "http" or scope["method"] != "POST" or workspace is None or not _plain_json(scope):
            await self.app(scope, receive, send)
            return
        if _bypass.get() or _inside_transaction():
            # Only reachable in-process (a test, a script): the answer may hold uncommitted rows.
            await self.app(scope, receive, send)
            return
        body, more, receive = await _read_body(receive)
        key = None if more else _cache_key(workspace.id, body)
        versions = self._version_source() if key is not None else None
        if key is None or versions is None:
            await self.app(scope, receive, send)
            return
        try:
            version = await versions.current()
        except Exception:
            log.exception("reading the data version failed: answering without the cache")
            await self.app(scope, receive, send)
            return
        self.store.observe(version)
        full_key = (*key[0], version)
        entry = self.store.get(full_key)
        if entry is None:
            leader = self._inflight.get(full_key)
            if leader is not None:
                # The same query at the same version is executing: its answer is this one's answer too (it
                # read data no older than this request's version), unless it turns out not storable.
                entry = await asyncio.shield(leader)
        if entry is not None:
            await _send(send, entry.status, entry.headers + HIT, entry.body)
            return
        await self._lead(scope, receive, send, version, full_key, key[1])

    async def _lead(
        self, scope: Scope, receive: Receive, send: Send, version: Version, key: Hashable, key_bytes: int
    ) -> None:
        """Execute, with identical requests arriving meanwhile waiting for this answer instead of executing too:
        after a new version, 32 clients asking the same thing cost one execution, not 32."""
        done: asyncio.Future[Entry | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = done
        entry = None
        try:
            entry = await self._execute_and_store(scope, receive, send, version, key, key_bytes)
        finally:
            if self._inflight.get(key) is done:
                del self._inflight[key]
            done.set_result(entry)  # None: the followers execute for themselves

    async def _execute_and_store(
        self, scope: Scope, receive: Receive, send: Send, version: Version, key: Hashable, key_bytes: int
    ) -> Entry | None:
        """Run Strawberry; a storable answer is stored and returned."""
        start: Message | None = None
        chunks: list[bytes] = []
        stored: list[Entry] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if start is None and message["type"] == "http.response.start":
                if not _is_json(message):  # a streamed or non-JSON answer goes out as it comes
                    start = {"type": "passthrough"}
                    await send(message)
                    return
                start = message
                return
            if start is None or start["type"] == "passthrough" or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != HEADER]
            status = start["status"]
            if _storable(status, headers, body):
                entry = Entry(status, headers, body)
                self.store.put(version, key, entry, key_bytes)
                stored.append(entry)
            await _send(send, status, headers + MISS, body)

        await self.app(scope, receive, capture)
        return stored[0] if stored else None


def _inside_transaction() -> bool:
    """Whether this request runs in the context of an open transaction (Tortoise routes its reads there)."""
    return isinstance(connections.get("default"), TransactionalDBClient)


def _plain_json(scope: Scope) -> bool:
    content_type = b""
    accept = b""
    for name, value in scope.get("headers") or ():
        if name == b"content-type":
            content_type = value
        elif name == b"accept":
            accept = value
    # multipart/mixed in Accept asks for incremental delivery (@defer/@stream): not ours to replay.
    return content_type.split(b";")[0].strip().lower() == b"application/json" and b"multipart" not in accept


def _is_json(start: Message) -> bool:
    for name, value in start.get("headers", []):
        if name.lower() == b"content-type":
            return value.split(b";")[0].strip().lower() == b"application/json"
    return False


def _storable(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> bool:
    # b'"errors"' absent means no top-level errors key: a false alarm (the word inside data) only costs a miss.
    if status != 200 or b'"errors"' in body:
        return False
    return not any(k.lower() == b"set-cookie" for k, _ in headers)


async def _read_body(receive: Receive) -> tuple[bytes, bool, Receive]:
    """The request body (up to MAX_REQUEST_BYTES), whether more remains, and a receive that replays it."""
    chunks: list[bytes] = []
    size = 0
    more = True
    buffered: list[Message] = []
    while more and size <= MAX_REQUEST_BYTES:
        message = await receive()
        buffered.append(message)
        if message["type"] != "http.request":
            more = False
            break
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        more = message.get("more_body", False)

    async def replay() -> Message:
        if buffered:
            return buffered.pop(0)
        return await receive()

    complete = not more and all(m["type"] == "http.request" for m in buffered)
    return b"".join(chunks), not complete, replay


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def install(app: ASGIApp) -> ReadCache:
    """The one-line hook for server.py: wrap Strawberry's ASGI app."""
    return ReadCache(app)


__all__ = ["HEADER", "ReadCache", "bypass", "install", "is_query"]
