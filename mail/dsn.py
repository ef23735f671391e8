"""Delivery status notifications: is this message a bounce, final or delayed, for whom, and why.

Two readers, in this order:
1. RFC 3464 `multipart/report; report-type=delivery-status`, parsed here field by field (Action, Status,
   Diagnostic-Code, Original-Recipient, Final-Recipient): flufl.bounce's DSN detector gives addresses but
   not the status code, and the code is what decides between "the address is bad" and "the message was
   refused".
2. Everything else that looks like a bounce (from a mailer daemon or postmaster, a null Return-Path, a
   bounce subject): flufl.bounce's detectors (Postfix, Exim, qmail, Sendmail, Exchange, Yahoo, AOL, SMTP32,
   GroupWise, ... and SimpleMatch's many provider wordings), with the status code and reason searched in
   the text. flufl.bounce only runs on messages that look like bounces: its loose patterns would otherwise
   find "failed recipients" in a person's reply that quotes one.

The returned message's Message-ID comes from its message/rfc822 or text/rfc822-headers part, or failing
that from a `Message-ID:` line in the text (non-standard bounces paste the original inline).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from email import message_from_string
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from typing import Literal

from flufl.bounce import all_failures

from mail.mime import norm_message_id, part_text

log = logging.getLogger(__name__)
Outcome = Literal["failed", "delayed", "delivered"]

_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
# In a non-standard bounce's text only failure codes count (a "2.0.13" is a version number there).
_FAIL_CODE = re.compile(r"\b([45])\.(\d{1,3})\.(\d{1,3})\b")
_SMTP_REPLY = re.compile(r"\b[45]\d\d[ -]")
_INLINE_COPY = re.compile(
    r"^\s*-+ ?(below this line|original message|the original message|this is a copy)", re.I | re.M
)
_MSGID_LINE = re.compile(r"^\s*Message-I[Dd]:\s*(<[^<>\s]+>)", re.MULTILINE)

# Address failures (RFC 3463 X.1.x "addressing status" and 5.4.4 "unable to route"), except X.1.7 and
# X.1.8, which are about the *sender's* address.
_SENDER_ADDRESS_CODES = {"1.7", "1.8"}

# Wordings providers use for "this address does not exist" when they give no usable code (Yahoo's
# "doesn't have a yahoo.com account", qmail's "no mailbox here by that name", Exchange's
# RecipientNotFound, Sendmail's "User unknown", Exim's "Unrouteable address", ...).
_ADDRESS_WORDING = re.compile(
    r"no such (user|mailbox|recipient|address|account|domain)"
    r"|user(name)? (is )?unknown|unknown (user|recipient|mailbox|address|alias|local part|local-part)"
    r"|user (not found|does not exist|doesn't exist)|mailbox (not found|does not exist|doesn't exist)"
    r"|(recipient|address|account|mailbox|e-?mail account)( that you tried to reach)? (does not|doesn't) exist"
    r"|recipient ?not ?found|invalid (recipient|mailbox|address)|not a valid (mailbox|recipient|address)"
    r"|no mailbox here|doesn't have an? [\w.-]+ account|not our customer|unrouteable address"
    r"|domain (not found|does not exist|doesn't exist)|host (or domain name )?not found|no such host"
    r"|address (has )?moved|mailbox (has )?moved|has been moved|user has moved",
    re.IGNORECASE,
)
# Wordings that are about the message, the mailbox's state or the sender: they win over an address
# wording found elsewhere in the same text (a "mailbox full" bounce may also say "mailbox").
_NOT_ADDRESS_WORDING = re.compile(
    r"quota|mailbox (is )?full|over ?quota|insufficient (storage|space)|too large|size limit|exceeds"
    r"|spam|blocked|block ?list|blacklist|reputation|policy|rejected by|not authori[sz]ed|authentication"
    r"|dmarc|spf|dkim|virus|content|rate limit|too many|temporarily|greylist|try again",
    re.IGNORECASE,
)
_BOUNCE_SENDERS = re.compile(r"^(mailer-daemon|mail-daemon|postmaster|mdaemon|mail\.delivery\.system|ndr)$", re.I)
_BOUNCE_NAMES = re.compile(r"mail delivery|delivery (subsystem|system|service)|postmaster|mailer.daemon", re.I)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|non-?deliver|delivery (status )?notification|delivery (failure|failed|problem|report)"
    r"|returned mail|mail delivery (failed|failure|problem|warning)|failure (notice|delivery)|delivery failure"
    r"|could not be delivered|not delivered|returning message|delayed mail|message delayed|delivery delayed"
    r"|has not yet been delivered|mail (system )?error|failed mail|unzustellbar|nicht zustellbar|non remis"
    r"|no se (puede|pudo) entregar|non recapitabile|onbestelbaar",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Failure:
    recipient: str  # lower-cased
    status: str | None  # the enhanced status code, e.g. "5.1.1"
    diagnostic: str | None  # the server's own words, one line
    about_address: bool  # a final failure because the address itself is bad: the address is suppressed


@dataclass(frozen=True, slots=True)
class Bounce:
    outcome: Outcome
    failures: tuple[Failure, ...]  # one per recipient with that outcome, in the report's order
    returned_message_ids: tuple[str, ...]  # Message-IDs of the returned original, "<…>" form

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(f.recipient for f in self.failures)


def parse_bounce(msg: Message, raw: bytes) -> Bounce | None:
    """A Bounce if `msg` is a delivery status notification (or a non-standard bounce), else None."""
    report = _rfc3464(msg)
    if report is None and looks_like_bounce(msg):
        report = _non_standard(raw)
    if report is None:
        return None
    outcome, entries = report
    own_id = norm_message_id(msg.get("Message-ID"))
    failures = tuple(
        Failure(recipient, status, diagnostic, outcome == "failed" and is_address_failure(status, diagnostic))
        for recipient, status, diagnostic in entries
    )
    return Bounce(outcome, failures, tuple(i for i in _returned_ids(msg) if i != own_id))


def is_address_failure(status: str | None, diagnostic: str | None) -> bool:
    """True when a final failure says the address itself is bad (and should never be mailed again).

    A specific status code decides: 5.1.x (but not 5.1.7/5.1.8, the sender's address) and 5.4.4 are the
    address; 5.2.x (mailbox full or disabled), 5.3.x, 5.6.x, 5.7.x (policy, spam, authentication) and any
    4.x.x are not. Generic codes (X.Y.0 "other" outside 1 and 7, 5.5.x, other 5.4.x) or none leave it to
    the provider's wording.
    """
    if status:
        klass, subject, detail = status.split(".")
        if klass == "4":
            return False
        if subject == "1":
            return f"{subject}.{detail}" not in _SENDER_ADDRESS_CODES
        if status.startswith("5.4.4"):
            return True
        if subject == "7" or (subject in {"2", "3", "6"} and detail != "0"):
            return False
    text = diagnostic or ""
    return bool(_ADDRESS_WORDING.search(text)) and not _NOT_ADDRESS_WORDING.search(text)


def looks_like_bounce(msg: Message) -> bool:
    if msg.get_content_type() == "multipart/report":
        return msg.get_param("report-type", "", header="content-type") != "feedback-report"
    if (msg.get("Return-Path") or "").strip() == "<>":
        return True
    name, address = parseaddr(str(msg.get("From") or ""))
    local = address.rpartition("@")[0] if "@" in address else address
    if _BOUNCE_SENDERS.match(local.strip('"')) or _BOUNCE_NAMES.search(name) or _BOUNCE_NAMES.search(local):
        return True
    return bool(_BOUNCE_SUBJECT.search(str(msg.get("Subject") or "")))


_Entry = tuple[str, str | None, str | None]  # recipient, status, diagnostic
_Report = tuple[Outcome, list[_Entry]]


def _rfc3464(msg: Message) -> _Report | None:
    if msg.get_content_type() != "multipart/report":
        return None
    if str(msg.get_param("report-type", "", header="content-type")).lower() != "delivery-status":
        return None
    blocks: list[Message] = []
    for part in msg.walk():
        if part.get_content_type() == "message/delivery-status":
            payload = part.get_payload()
            if isinstance(payload, list):
                blocks.extend(p for p in payload if isinstance(p, Message))
    failed: list[_Entry] = []
    delayed: list[_Entry] = []
    delivered: list[_Entry] = []
    seen: set[str] = set()
    for block in blocks:
        final = _address_field(block.get("Final-Recipient"))
        original = _address_field(block.get("Original-Recipient"))
        recipient = original or final
        if not recipient:
            continue  # the per-message block (Reporting-MTA, Arrival-Date, ...)
        action = str(block.get("Action") or "").strip().lower()
        status_match = _ENHANCED.search(str(block.get("Status") or ""))
        status = ".".join(status_match.groups()) if status_match else None
        diagnostic = _one_line(block.get("Diagnostic-Code"))
        if diagnostic and ";" in diagnostic.split(" ", 1)[0]:
            diagnostic = diagnostic.split(";", 1)[1].strip()  # "smtp; 550 5.1.1 ..." -> "550 5.1.1 ..."
        if (status is None or status.endswith(".0.0")) and (specific := _FAIL_CODE.search(diagnostic or "")):
            status = ".".join(specific.groups())  # "Status: 5.0.0" with "550 5.7.1 ..." in the diagnostic
        if recipient in seen:
            continue  # Sendmail repeats a recipient (as Original- and Final-Recipient blocks)
        seen.add(recipient)
        entry = (recipient, status, diagnostic)
        if action == "failed" or (not action and status and status[0] == "5"):
            failed.append(entry)
        elif action == "delayed" or (not action and status and status[0] == "4"):
            delayed.append(entry)
        elif action in {"delivered", "relayed", "expanded"}:
            delivered.append(entry)
    if failed:
        return "failed", failed
    if delayed:
        return "delayed", delayed
    if delivered:
        return "delivered", delivered
    return None


def _non_standard(raw: bytes) -> _Report | None:
    # flufl.bounce's detectors expect the compat32 API with str headers: parsed from bytes, a header with
    # 8-bit bytes would be a Header object, which several detectors call .lower() on and crash.
    compat = message_from_string(raw.decode("utf-8", "replace"))
    try:
        temporary, permanent = all_failures(compat)
    except Exception:  # a detector's bug on a malformed message: treat it as not recognised
        log.warning("flufl.bounce failed on a message; it is not treated as a bounce", exc_info=True)
        return None
    if permanent:
        outcome: Outcome = "failed"
        addresses = permanent
    elif temporary:
        outcome = "delayed"
        addresses = temporary
    else:
        return None
    recipients = sorted({a.decode("utf-8", "replace").lower() for a in addresses})
    text = _report_text(compat)
    report_code = _FAIL_CODE.search(_INLINE_COPY.split(text, maxsplit=1)[0])
    entries: list[_Entry] = []
    for recipient in recipients:
        diagnostic = _reason_line(text, (recipient,))
        code = _FAIL_CODE.search(diagnostic or "") or report_code
        entries.append((recipient, ".".join(code.groups()) if code else None, diagnostic))
    return outcome, entries


def _report_text(msg: Message) -> str:
    """The human-readable part(s) of a bounce, without the returned original."""
    chunks: list[str] = []
    for part in msg.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers"):
            break
        if part.get_content_maintype() == "text":
            chunks.append(part_text(part))
    return "\n".join(chunks)


def _reason_line(text: str, recipients: tuple[str, ...]) -> str | None:
    """The paragraph that gives the reason: the first naming a recipient (with the next one when it is only
    the address, as qmail and Yahoo write it), else the first with a status code or a known wording."""
    text = _INLINE_COPY.split(text, maxsplit=1)[0]
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]
    for index, paragraph in enumerate(paragraphs):
        if any(r in paragraph.lower() for r in recipients):
            if not _informative(paragraph) and index + 1 < len(paragraphs):
                paragraph = f"{paragraph} {paragraphs[index + 1]}"
            if _informative(paragraph):
                return paragraph[:300]
    for paragraph in paragraphs:
        if _FAIL_CODE.search(paragraph) or _ADDRESS_WORDING.search(paragraph):
            return paragraph[:300]
    return None


def _informative(paragraph: str) -> bool:
    return bool(
        _FAIL_CODE.search(paragraph)
        or _SMTP_REPLY.search(paragraph)
        or _ADDRESS_WORDING.search(paragraph)
        or _NOT_ADDRESS_WORDING.search(paragraph)
    )


def _returned_ids(msg: Message) -> list[str]:
    found: list[str] = []
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message) and (mid := norm_message_id(inner.get("Message-ID"))):
                found.append(mid)
        elif kind == "text/rfc822-headers":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                headers = BytesHeaderParser().parsebytes(payload)
                if mid := norm_message_id(headers.get("Message-ID")):
                    found.append(mid)
    if not found:
        for part in msg.walk():
            if part.get_content_maintype() == "text":
                found.extend(_MSGID_LINE.findall(part_text(part)))
    return list(dict.fromkeys(found))


def _address_field(value: object) -> str | None:
    """`rfc822; user@example.com` -> `user@example.com` (RFC 3464's address-type prefix dropped)."""
    if value is None:
        return None
    text = str(value).strip()
    if ";" in text:
        text = text.split(";", 1)[1]
    text = text.strip().strip("<>").strip()
    return text.lower() or None


def _one_line(value: object) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text[:300] or None
