"""What an inbound message means for our campaigns, in domain.md's order (revision 2, "An identity's own
mailbox"): a delivery status notification, else an automatic reply, else a reply, else nothing.

Pure: raw bytes in, a `Classification` out. What "ours" means is the caller's: `our_message_ids` answers
whether a Message-ID (in `<local@domain>` form) is one we sent from this identity, and `lead_addresses`
whether a lower-cased address is a lead this identity emailed. Either may be a set or a function.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Container
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import parseaddr
from enum import StrEnum

from mail.dsn import Bounce, parse_bounce
from mail.mime import norm_message_id
from mail.replies import ReplyClassifier, RuleReplyClassifier, reply_text

log = logging.getLogger(__name__)
Lookup = Container[str] | Callable[[str], bool]


class Kind(StrEnum):
    BOUNCED = "BOUNCED"  # a final delivery failure: EMAIL_BOUNCED
    DELAYED = "DELAYED"  # delivery delayed and still retried: changes nothing
    OUT_OF_OFFICE = "OUT_OF_OFFICE"  # an automatic reply: OUT_OF_OFFICE
    REPLY = "REPLY"  # a person answered: REPLY_RECEIVED
    IGNORED = "IGNORED"  # not about our messages (or a report that changes nothing)


@dataclass(frozen=True, slots=True)
class Classification:
    kind: Kind
    message_id: str | None  # the inbound message's own Message-ID, to dedupe by
    message_id_ref: str | None  # our Message-ID it is about (returned original, In-Reply-To, References)
    recipient: str | None  # the lead's address: the failed recipient, or the sender of the (auto) reply
    detail: str  # the activity's detail: the reply's own text, or a one-line reason
    positive: bool | None = None  # replies only
    suppress: bool = False  # a final failure about the address itself: it joins the suppression list
    diagnostic: str | None = None  # bounces: status code and the server's words, for the log and the guard


_AUTO_SUBJECT = re.compile(
    r"^\s*(\[?(auto(matic|matische|matisch)?[ -]?(reply|response|antwort|answer|antwoord))\]?"
    r"|out of (the )?office|ooo\b|abwesenheit|abwesenheitsnotiz|r[ée]ponse automatique|absence"
    r"|respuesta autom[áa]tica|fuera de la oficina|risposta automatica|fuori (ufficio|sede)"
    r"|afwezig|resposta autom[áa]tica|fora do escrit[óo]rio|autosvar|automatisch antwoord|vacation)",
    re.IGNORECASE,
)
_MSGID = re.compile(r"<[^<>\s]+>")


def classify(
    raw: bytes,
    *,
    our_message_ids: Lookup,
    lead_addresses: Lookup,
    reply_classifier: ReplyClassifier | None = None,
) -> Classification:
    """Never raises for what is in the message: an inbox holds arbitrary bytes, and the standard library's
    parser has crash bugs on some malformed headers and MIME trees. A message that cannot be read is
    IGNORED (domain.md's "left alone") with the error as its diagnostic, so it cannot block the reader on
    its UID forever. Errors raised by the caller's lookups or classifier do propagate."""
    try:
        msg = message_from_bytes(raw, policy=policy.default)
        return _classify(msg, raw, _lookup(our_message_ids), _lookup(lead_addresses), reply_classifier)
    except _LookupFailed as failed:
        raise failed.original from None
    except Exception as exc:
        log.warning("an inbound message could not be parsed; it is left alone", exc_info=True)
        return Classification(Kind.IGNORED, None, None, None, "unreadable message", diagnostic=repr(exc)[:300])


class _LookupFailed(Exception):
    """Wraps an exception from the caller's code so that the unreadable-message guard lets it through."""

    def __init__(self, original: Exception) -> None:
        super().__init__(original)
        self.original = original


def _classify(
    msg: Message,
    raw: bytes,
    is_ours: Callable[[str], bool],
    is_lead: Callable[[str], bool],
    reply_classifier: ReplyClassifier | None,
) -> Classification:
    assert isinstance(msg, EmailMessage)  # policy.default always builds EmailMessage
    own_id = norm_message_id(msg.get("Message-ID"))
    if own_id is not None and is_ours(own_id):
        # Our own email seen in the inbox (a copy to self, a server that files sent mail there): a threaded
        # follow-up carries In-Reply-To to our first email and would otherwise pass for the lead's reply.
        return Classification(Kind.IGNORED, own_id, own_id, None, "a message we sent")

    bounce = parse_bounce(msg, raw)
    if bounce is not None:
        return _from_bounce(bounce, own_id, is_ours, is_lead)

    sender = parseaddr(str(msg.get("From") or ""))[1].lower() or None
    ref = next((mid for mid in _referenced_ids(msg) if is_ours(mid)), None)
    about_ours = ref is not None or (sender is not None and is_lead(sender))
    if not about_ours:
        return Classification(Kind.IGNORED, own_id, None, sender, "not about a message we sent")
    if (marker := auto_reply_marker(msg)) is not None:
        # The detail is the auto-reply's own words ("out until December 14"), which a user acts on.
        words = " ".join(reply_text(msg).split())[:500]
        return Classification(Kind.OUT_OF_OFFICE, own_id, ref, sender, words or _subject_or(msg, marker))
    text = reply_text(msg)
    positive = _guarded((reply_classifier or RuleReplyClassifier()).is_positive, text)
    return Classification(Kind.REPLY, own_id, ref, sender, text, positive=positive)


def auto_reply_marker(msg: EmailMessage) -> str | None:
    """Why this message is an automatic reply (RFC 3834 and the common vendors' markers), or None."""
    auto_submitted = str(msg.get("Auto-Submitted") or "").strip().lower()
    if auto_submitted and auto_submitted.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto_submitted}"
    for header in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply"):
        if msg.get(header) is not None:
            return header
    precedence = str(msg.get("Precedence") or "").strip().lower()
    if precedence == "auto_reply":
        return "Precedence: auto_reply"
    # Exchange marks its out-of-office answers with an OOF suppress flag (RFC 3834's Microsoft cousin).
    if "oof" in str(msg.get("X-Auto-Response-Suppress") or "").lower() and msg.get("In-Reply-To") is not None:
        return "X-Auto-Response-Suppress: OOF"
    subject = str(msg.get("Subject") or "")
    if _AUTO_SUBJECT.search(subject):
        return "subject"
    return None


def _from_bounce(
    bounce: Bounce, own_id: str | None, is_ours: Callable[[str], bool], is_lead: Callable[[str], bool]
) -> Classification:
    ref = next((mid for mid in bounce.returned_message_ids if is_ours(mid)), None)
    lead = next((f for f in bounce.failures if is_lead(f.recipient)), None)
    failure = lead or (bounce.failures[0] if bounce.failures else None)
    recipient, diagnostic, suppress = None, None, False
    if failure is not None:
        recipient, suppress = failure.recipient, failure.about_address
        diagnostic = " ".join(x for x in (failure.status, failure.diagnostic) if x) or None
    if ref is None and lead is None:
        return Classification(
            Kind.IGNORED,
            own_id,
            None,
            recipient,
            "a delivery report about a message we did not send",
            diagnostic=diagnostic,
        )
    if bounce.outcome == "delayed":
        return Classification(
            Kind.DELAYED, own_id, ref, recipient, "delivery delayed, still being retried", diagnostic=diagnostic
        )
    if bounce.outcome == "delivered":
        return Classification(
            Kind.IGNORED, own_id, ref, recipient, "a delivery report without a failure", diagnostic=diagnostic
        )
    reason = "the address does not exist" if suppress else "the message was not delivered"
    detail = f"{reason}: {diagnostic}" if diagnostic else reason
    return Classification(Kind.BOUNCED, own_id, ref, recipient, detail[:500], suppress=suppress, diagnostic=diagnostic)


def _referenced_ids(msg: EmailMessage) -> list[str]:
    ids: list[str] = []
    for header in ("In-Reply-To", "References"):
        for value in msg.get_all(header) or []:
            ids.extend(_MSGID.findall(str(value)))
    return list(dict.fromkeys(ids))


def _subject_or(msg: EmailMessage, fallback: str) -> str:
    subject = " ".join(str(msg.get("Subject") or "").split())
    return (subject or fallback)[:500]


def _lookup(lookup: Lookup) -> Callable[[str], bool]:
    check = lookup if callable(lookup) else lookup.__contains__
    return lambda value: _guarded(check, value)


def _guarded(check: Callable[[str], bool], value: str) -> bool:
    try:
        return bool(check(value))
    except Exception as exc:
        raise _LookupFailed(exc) from exc
