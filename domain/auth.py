"""API keys: creating a workspace with its key, and finding the workspace of a key."""

from __future__ import annotations

import time

from models import ApiKey, Workspace
from models.workspace import hash_api_key, new_api_key

_CACHE_TTL = 30.0
_cache: dict[str, tuple[float, Workspace | None]] = {}


async def create_workspace(name: str) -> tuple[Workspace, str]:
    """A new workspace and its first API key. The raw key is returned once and never stored."""
    workspace = await Workspace.create(name=name)
    raw = await create_api_key(workspace)
    return workspace, raw


async def create_api_key(workspace: Workspace) -> str:
    raw = new_api_key()
    await ApiKey.create(workspace=workspace, key_hash=hash_api_key(raw), prefix=raw[:12])
    return raw


def parse_bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def workspace_for_key(raw_key: str | None) -> Workspace | None:
    """The workspace a key belongs to, or None. Cached briefly: this runs on every request."""
    if not raw_key or len(raw_key) > 200:
        return None
    digest = hash_api_key(raw_key)
    now = time.monotonic()
    hit = _cache.get(digest)
    if hit is not None and hit[0] > now:
        return hit[1]
    key = await ApiKey.get_or_none(key_hash=digest, revoked_at=None).select_related("workspace")
    workspace = key.workspace if key else None
    if len(_cache) > 10_000:
        _cache.clear()
    _cache[digest] = (now + _CACHE_TTL, workspace)
    return workspace


def forget_cached_keys() -> None:
    _cache.clear()
