"""Tenancy: a workspace owns everything; an API key (stored hashed) names the workspace of a request."""

from __future__ import annotations

import hashlib
import secrets

from tortoise import fields
from tortoise.models import Model

KEY_PREFIX = "ob_"
#: A key's name: what a person calls it ("CI", "Zapier"), 1 to this many characters.
KEY_NAME_MAX = 100


def hash_api_key(raw_key: str) -> str:
    """SHA-256 is enough for 256-bit random keys: there is nothing to brute-force."""
    return hashlib.sha256(raw_key.encode()).hexdigest()


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class Workspace(Model):
    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=200)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "workspace"


class ApiKey(Model):
    id = fields.BigIntField(primary_key=True)
    workspace: fields.ForeignKeyRelation[Workspace] = fields.ForeignKeyField(
        "models.Workspace", related_name="api_keys", on_delete=fields.CASCADE
    )
    # Looked up on every request: unique index on the hash.
    key_hash = fields.CharField(max_length=64, unique=True)
    # What a person calls it. The database default names the keys made before keys had names.
    name = fields.CharField(max_length=KEY_NAME_MAX, default="key", db_default="key")
    #: The first characters of the key, so a person can tell keys apart without the secret.
    prefix = fields.CharField(max_length=12)
    created_at = fields.DatetimeField(auto_now_add=True)
    # Written at most once a minute per key (domain/auth.py), so it may lag by that much.
    last_used_at = fields.DatetimeField(null=True)
    # Set once; a revoked key authenticates nothing, and its row stays for the list of keys.
    revoked_at = fields.DatetimeField(null=True)

    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    class Meta:
        table = "api_key"
