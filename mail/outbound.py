"""The email we send to a lead: its headers (our own Message-ID, one-click unsubscribe per RFC 8058) and
its links (rewritten to the click tracker). Pure: the secret, the public URL and the ids come in as
arguments; nothing is sent here (mail.smtp sends).

Order matters: links are rewritten first, then `{{unsubscribeUrl}}` is filled in, so the unsubscribe link
is never a tracked link (a tracker in front of it would count mail scanners' visits as clicks).
"""

from __future__ import annotations

import html as htmllib
import re
import uuid
from collections.abc import Callable
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import quote

from mail.tokens import click_token, unsubscribe_token


class InvalidMessage(ValueError):
    """An address, a display name, a subject or a header value we refuse to put in an email."""


# A plain addr-spec: a dot-atom local part and a dotted host name. No display name, no angle brackets, no
# list, no quoted local part, no comments, no whitespace: anything else is refused rather than "fixed".
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"{_LOCAL}@{_LABEL}(?:\.{_LABEL})+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PLACEHOLDER = re.compile(r"\{\{\s*unsubscribeUrl\s*\}\}")
_TEXT_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_HREF = re.compile(r"""(\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)
_TRAILING = ".,;:!?"


def plain_address(value: str) -> str:
    """`value` if it is exactly one plain address (`local@host.tld`), with the host lower-cased."""
    if not isinstance(value, str) or len(value) > 254 or not _ADDRESS.fullmatch(value):
        raise InvalidMessage(f"not a single plain email address: {value!r}")
    local, _, host = value.rpartition("@")
    if len(local) > 64:
        raise InvalidMessage(f"the local part of {value!r} is longer than 64 characters")
    return f"{local}@{host.lower()}"


def _header_text(value: str, what: str, limit: int) -> str:
    if _CONTROL.search(value):
        raise InvalidMessage(f"the {what} may not contain line breaks or control characters")
    if len(value) > limit:
        raise InvalidMessage(f"the {what} is longer than {limit} characters")
    return value


def unsubscribe_url(public_url: str, secret: str | bytes, lead_id: str | int) -> str:
    """The signed one-click unsubscribe URL for a lead (a POST there unsubscribes; a GET shows a page)."""
    return f"{public_url.rstrip('/')}/u/{unsubscribe_token(secret, lead_id)}"


def tracked_url(
    public_url: str, secret: str | bytes, lead_id: str | int, step_id: str | int, index: int, url: str
) -> str:
    return f"{public_url.rstrip('/')}/t/{click_token(secret, lead_id, step_id, index, url)}"


class LinkRewriter:
    """Replaces http(s) links with tracked ones; the same URL gets the same index in text and HTML."""

    def __init__(self, make_url: Callable[[int, str], str], skip_prefix: str | None = None) -> None:
        self._make_url = make_url
        self._skip = skip_prefix
        self.links: dict[str, int] = {}

    def _tracked(self, url: str) -> str:
        if self._skip and url.startswith(self._skip):
            return url  # already ours (a tracker or unsubscribe link pasted into the content)
        index = self.links.setdefault(url, len(self.links))
        return self._make_url(index, url)

    def text(self, body: str) -> str:
        def replace(match: re.Match[str]) -> str:
            url, tail = _split_trailing(match.group(0))
            return self._tracked(url) + tail

        return _TEXT_URL.sub(replace, body)

    def html(self, body: str) -> str:
        def replace(match: re.Match[str]) -> str:
            prefix, quote_char, raw = match.groups()
            url = htmllib.unescape(raw)
            return f"{prefix}{quote_char}{htmllib.escape(self._tracked(url))}{quote_char}"

        return _HREF.sub(replace, body)


def _split_trailing(url: str) -> tuple[str, str]:
    """`https://x.example/a).` -> (`https://x.example/a`, `).`): sentence punctuation is not the link's."""
    tail = ""
    while url and (url[-1] in _TRAILING or (url[-1] == ")" and url.count("(") < url.count(")"))):
        tail = url[-1] + tail
        url = url[:-1]
    return url, tail


def fill_unsubscribe(body: str, url: str, *, html: bool = False) -> str:
    return _PLACEHOLDER.sub(lambda _: htmllib.escape(url) if html else url, body)


def build_message(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    lead_id: str | int,
    step_id: str | int,
    public_url: str,
    secret: str | bytes,
    html: str | None = None,
    sender_name: str | None = None,
    track_clicks: bool = True,
    unsubscribe_mailto: str | None = None,
    in_reply_to: str | None = None,
    message_id: str | None = None,
) -> EmailMessage:
    """An email for one lead, ready for mail.smtp.send. Its Message-ID is `message_id` (the caller's, chosen
    before sending so its record can name it) or, omitted, a new one; either way `message["Message-ID"]`.

    `text` (and `html`) are the rendered content; links in them are tracked when `track_clicks`, and
    `{{unsubscribeUrl}}` becomes the lead's signed unsubscribe URL. `in_reply_to` threads a follow-up under
    an earlier Message-ID of ours. `secret` signs the tracking and unsubscribe tokens: pass
    `mail.secrets.derive_signing_key(SECRET_KEY)`, the same value the redirect and unsubscribe endpoints
    verify with. Raises InvalidMessage for anything that is not safe to put in a header.
    """
    sender = plain_address(sender)
    to = plain_address(to)
    subject = _header_text(subject, "subject", 998)
    name = _header_text(sender_name, "sender name", 100) if sender_name else ""
    if any(c in name for c in "<>"):
        raise InvalidMessage("the sender name may not contain angle brackets")
    base = public_url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise InvalidMessage("the public URL must be http(s)")
    unsubscribe = unsubscribe_url(base, secret, lead_id)

    if track_clicks:
        rewriter = LinkRewriter(lambda index, url: tracked_url(base, secret, lead_id, step_id, index, url), base + "/")
        text = rewriter.text(text)
        html = rewriter.html(html) if html is not None else None
    text = fill_unsubscribe(text, unsubscribe)
    html = fill_unsubscribe(html, unsubscribe, html=True) if html is not None else None

    message = EmailMessage()
    local, _, domain = sender.rpartition("@")
    message["From"] = Address(display_name=name, username=local, domain=domain)
    message["To"] = Address(addr_spec=to)
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    # 32 random hex digits, not make_msgid's ~45 characters: "Message-ID: <...@domain>" then fits one
    # 78-character header line for most domains, where a folded one reads back with a leading space.
    message["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@{domain}>"
    if in_reply_to is not None:
        if not re.fullmatch(r"<[^<>\s]+@[^<>\s]+>", in_reply_to):
            raise InvalidMessage(f"not a Message-ID: {in_reply_to!r}")
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    targets = [f"<{unsubscribe}>"]
    if unsubscribe_mailto:
        mailbox = plain_address(unsubscribe_mailto)
        # The subject carries the signed token, not the bare lead id: a forged mail cannot unsubscribe others.
        token = unsubscribe_token(secret, lead_id)
        targets.append(f"<mailto:{mailbox}?subject={quote('unsubscribe ' + token)}>")
    message["List-Unsubscribe"] = ", ".join(targets)
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message
