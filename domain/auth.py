"""API keys: creating and revoking them, and finding who a key authenticates.

A workspace has any number of named keys, stored hashed (models/workspace.py). Every request looks its key up,
so this process keeps what it found in a small cache; a revocation does not wait for that cache to age:

- `revoke_api_key` evicts the key here when its transaction commits, and announces `KeyRevoked` (domain/tx.py);
  the API's wiring (live/keys.py) publishes it on the bus, and every API process evicts the key from its cache
  and closes the websockets opened with it (4403) as soon as it arrives;
- Redis pub/sub is at-most-once: when the bus reconnects, the whole cache is dropped (`forget_cached_keys`)
  and open websockets are checked again (live/keys.py). The cache's age limit (`_CACHE_TTL`) is only a last
  resort for an invalidation lost some other way, never the way a revocation takes effect.

`lastUsedAt` is written at most once a minute per key and process (a conditional UPDATE), not per request.
"""

from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.expressions import Q

from domain.errors import InvalidInput, NotFound
from domain.tx import after_commit, announce, transaction
from models import ApiKey, Workspace
from models.workspace import KEY_NAME_MAX, hash_api_key, new_api_key

#: A last resort only (module docstring): revocations evict at once.
_CACHE_TTL = 300.0
_CACHE_MAX = 10_000
#: lastUsedAt is written at most this often per key and process.
LAST_USED_EVERY = 60.0


@dataclass(slots=True)
class Authenticated:
    """Who a request is: the key's workspace, and the key (its id names it in revocations)."""

    workspace: Workspace
    key_id: int


@dataclass(slots=True)
class _Entry:
    expires: float
    found: Authenticated | None
    #: When this process last wrote the key's last_used_at (monotonic), 0 if never.
    written: float = 0.0


@dataclass(frozen=True, slots=True)
class KeyRevoked:
    """A key was revoked: every API process evicts it and closes its websockets (live/keys.py)."""

    key_id: int
    workspace_id: int


_cache: dict[str, _Entry] = {}


async def create_workspace(name: str) -> tuple[Workspace, str]:
    """A new workspace and its first API key. The raw key is returned once and never stored."""
    workspace = await Workspace.create(name=name)
    _, raw = await create_api_key(workspace.id, "first key")
    return workspace, raw


def check_key_name(name: str) -> str:
    """1 to KEY_NAME_MAX characters once trimmed, with no control characters (NUL, newlines, tabs...)."""
    trimmed = name.strip() if isinstance(name, str) else ""
    if not trimmed:
        raise InvalidInput("A key needs a name.", field=["name"])
    if len(trimmed) > KEY_NAME_MAX:
        raise InvalidInput(f"A key's name is at most {KEY_NAME_MAX} characters.", field=["name"])
    if any(unicodedata.category(ch) == "Cc" for ch in trimmed):
        raise InvalidInput("A key's name may not contain control characters.", field=["name"])
    return trimmed


async def create_api_key(workspace_id: int, name: str) -> tuple[ApiKey, str]:
    """A new key of the workspace: (its row, the raw key). The raw key is never stored, only its hash."""
    checked = check_key_name(name)
    raw = new_api_key()
    key = await ApiKey.create(workspace_id=workspace_id, name=checked, key_hash=hash_api_key(raw), prefix=raw[:12])
    return key, raw


async def list_api_keys(workspace_id: int) -> list[ApiKey]:
    """Every key of the workspace, revoked ones included (with revokedAt), oldest first."""
    return await ApiKey.filter(workspace_id=workspace_id).order_by("id")


async def revoke_api_key(workspace_id: int, key_id: int | None) -> ApiKey:
    """Revoke a key of the workspace (the one in use too). An unknown or foreign key is NOT_FOUND; a key
    already revoked is returned as it is (a no-op: its revokedAt stays the first one, nothing is announced)."""
    async with transaction() as conn:
        key = None if key_id is None else await ApiKey.get_or_none(id=key_id, workspace_id=workspace_id, using_db=conn)
        if key is None:
            raise NotFound("No such API key in this workspace.", field=["id"])
        if key.revoked_at is not None:
            return key
        now = datetime.now(UTC)
        changed = await ApiKey.filter(id=key.id, revoked_at=None).using_db(conn).update(revoked_at=now)
        if not changed:  # revoked meanwhile by someone else: theirs is the revocation
            return await ApiKey.get(id=key.id, using_db=conn)
        key.revoked_at = now
        after_commit(lambda: forget_key(key.id))
        announce(KeyRevoked(key.id, workspace_id))
    return key


def parse_bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authenticate(raw_key: str | None) -> Authenticated | None:
    """Who a key authenticates, or None (no such key, or revoked). Cached per process (module docstring)."""
    if not raw_key or len(raw_key) > 200:
        return None
    digest = hash_api_key(raw_key)
    now = time.monotonic()
    entry = _cache.get(digest)
    if entry is None or entry.expires <= now:
        key = await ApiKey.get_or_none(key_hash=digest, revoked_at=None).select_related("workspace")
        found = Authenticated(key.workspace, key.id) if key is not None else None
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        entry = _cache[digest] = _Entry(now + _CACHE_TTL, found)
    if entry.found is not None and now - entry.written >= LAST_USED_EVERY:
        entry.written = now
        await _touch(entry.found.key_id)
    return entry.found


async def _touch(key_id: int) -> None:
    """lastUsedAt, at most once a minute per key whatever the number of processes (the WHERE says so)."""
    now = datetime.now(UTC)
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - timedelta(seconds=LAST_USED_EVERY))
    await ApiKey.filter(stale, id=key_id, revoked_at=None).update(last_used_at=now)


async def revoked_among(key_ids: set[int]) -> set[int]:
    """Which of these keys are revoked (or gone) now: for websockets checked again after a bus gap."""
    if not key_ids:
        return set()
    live = await ApiKey.filter(id__in=key_ids, revoked_at=None).values_list("id", flat=True)
    return key_ids - set(live)


def forget_key(key_id: int) -> None:
    """Evict one key from this process's cache: its next request reads the database (and finds it revoked)."""
    for digest in [d for d, e in _cache.items() if e.found is not None and e.found.key_id == key_id]:
        del _cache[digest]


def forget_cached_keys() -> None:
    _cache.clear()
