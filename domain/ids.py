"""Opaque global IDs: base64url("Type:pk"). Clients never parse them, and a bad one is simply not found."""

from __future__ import annotations

import base64
import binascii

#: base64 to base64url, as `base64.urlsafe_b64encode` translates (called directly: IDs are on every row).
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def to_global_id(type_name: str, pk: int) -> str:
    return binascii.b2a_base64(f"{type_name}:{pk}".encode(), newline=False).translate(_URLSAFE).decode().rstrip("=")


def parse_global_id(global_id: str) -> tuple[str, int] | None:
    """(type name, pk), or None for anything that is not one of our IDs."""
    if not isinstance(global_id, str) or not 0 < len(global_id) <= 64:
        return None
    try:
        raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, sep, pk = raw.partition(":")
    if not sep or not pk.isdigit() or len(pk) > 18:
        return None
    return type_name, int(pk)


def decode_id(global_id: str, type_name: str) -> int | None:
    """The pk of an ID of the given type, or None (wrong type, malformed: all look like 'not found')."""
    parsed = parse_global_id(global_id)
    if parsed is None or parsed[0] != type_name:
        return None
    return parsed[1]
