"""Small MIME helpers shared by the classifiers: a part's text whatever its declared charset, and a
Message-ID in its canonical `<local@domain>` form."""

from __future__ import annotations

import codecs
import re
from email.message import Message

_MSGID = re.compile(r"<([^<>\s]+)>")


def part_text(part: Message) -> str:
    """The decoded text of a leaf part. An unknown or bogus charset ("ansi_x3.110-1983", "x-unknown")
    falls back to UTF-8 with replacement characters instead of failing the whole message."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        codecs.lookup(charset)
    except LookupError:
        charset = "utf-8"
    return payload.decode(charset, "replace")


def norm_message_id(value: object) -> str | None:
    """A Message-ID in its `<local@domain>` form, or None."""
    if value is None:
        return None
    match = _MSGID.search(str(value))
    if match:
        return f"<{match.group(1)}>"
    text = str(value).strip()
    return f"<{text}>" if text and " " not in text and "<" not in text and ">" not in text else None
