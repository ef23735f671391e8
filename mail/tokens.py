"""Signed, compact, URL-safe tokens for the click tracker and the unsubscribe link.

A token is `base64url(payload) "." base64url(mac)`, the MAC being HMAC-SHA256 over a purpose label and the
payload, truncated to 128 bits (RFC 2104 §5 allows truncation to half the hash; 128 bits leaves no room for
forgery). The purpose label keeps a click token from working as an unsubscribe token and back. Tokens do
not expire: a link in an email must keep working as long as the email is read. The payload is compact JSON,
readable by anyone (it holds ids and the original URL, nothing secret); only the MAC is secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

MAC_BYTES = 16
_CLICK = "click/v1"
_UNSUBSCRIBE = "unsubscribe/v1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, secret: str | bytes, purpose: str) -> None:
        if not secret:
            raise ValueError("a signing secret is required")
        self._key = secret.encode("utf-8") if isinstance(secret, str) else secret
        self._purpose = purpose.encode("ascii") + b"\x00"

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, self._purpose + payload, hashlib.sha256).digest()[:MAC_BYTES]

    def sign(self, payload: bytes) -> str:
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def unsign(self, token: str) -> bytes | None:
        """The payload, or None if the token was not made by this signer (or was altered in any way)."""
        body, dot, mac = token.partition(".")
        if not dot or not body or not mac or len(token) > 4096:
            return None
        try:
            payload, given = _unb64(body), _unb64(mac)
        except (binascii.Error, ValueError):
            return None
        # Re-encoding must give back the same text: otherwise two spellings would verify as one token.
        if _b64(payload) != body or _b64(given) != mac:
            return None
        return payload if hmac.compare_digest(given, self._mac(payload)) else None


def _pack(values: list[Any]) -> bytes:
    return json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _unpack(payload: bytes) -> list[Any] | None:
    try:
        values = json.loads(payload)
    except (UnicodeError, ValueError):
        return None
    return values if isinstance(values, list) else None


@dataclass(frozen=True, slots=True)
class TrackedLink:
    lead_id: str
    step_id: str
    index: int  # the link's position among the email's distinct links: "once per link" counts by it
    url: str


def click_token(secret: str | bytes, lead_id: str | int, step_id: str | int, index: int, url: str) -> str:
    return Signer(secret, _CLICK).sign(_pack([str(lead_id), str(step_id), index, url]))


def verify_token(secret: str | bytes, token: str) -> TrackedLink | None:
    """The link a click token stands for, or None for a forged, altered or malformed token."""
    payload = Signer(secret, _CLICK).unsign(token)
    values = _unpack(payload) if payload is not None else None
    if values is None or len(values) != 4:
        return None
    lead_id, step_id, index, url = values
    if not (isinstance(lead_id, str) and isinstance(step_id, str) and isinstance(index, int) and isinstance(url, str)):
        return None
    if not url.startswith(("http://", "https://")):
        return None  # never an open redirect to javascript:, data: or a relative path
    return TrackedLink(lead_id, step_id, index, url)


def unsubscribe_token(secret: str | bytes, lead_id: str | int) -> str:
    return Signer(secret, _UNSUBSCRIBE).sign(_pack([str(lead_id)]))


def verify_unsubscribe_token(secret: str | bytes, token: str) -> str | None:
    """The lead id an unsubscribe token was made for, or None."""
    payload = Signer(secret, _UNSUBSCRIBE).unsign(token)
    values = _unpack(payload) if payload is not None else None
    if values is None or len(values) != 1 or not isinstance(values[0], str):
        return None
    return values[0]
