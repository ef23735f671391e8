"""A reply's own words, and whether they are positive.

Quote and signature stripping is mail-parser-reply's (alfonsrv/mail-parser-reply, released 2025, MIT),
chosen over Zapier's email-reply-parser (last release 2020): it knows the reply headers of Gmail, Outlook,
Apple Mail and Thunderbird in a dozen languages ("On … wrote:", "Am … schrieb …:", "Le … a écrit :",
Outlook's "From:/Sent:" block and its underscore line) and strips signatures and disclaimers too, where
email-reply-parser only knows English quote headers and "--" signatures.

The positive/negative decision is behind `ReplyClassifier` so that a model can replace the rules later.
"""

from __future__ import annotations

import html
import re
from email.message import EmailMessage, Message
from typing import Protocol

from mailparser_reply import EmailReplyParser  # type: ignore[import-untyped]  # ships no py.typed

from mail.mime import part_text

# Languages whose reply headers mail-parser-reply recognises; English is always included by the library.
REPLY_LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pl", "sv", "da", "cs")
MAX_DETAIL = 2000


class ReplyClassifier(Protocol):
    def is_positive(self, text: str) -> bool:
        """True when the reply shows interest (a meeting, a yes), False otherwise (a no, or unclear)."""
        ...


# Negative rules are checked first: "not interested" contains "interested".
_NEGATIVE = re.compile(
    r"\b(not|no longer|isn't|aren't|am not|are not|we're not|i'm not) (really |currently |at all )?"
    r"(interested|a (good )?fit|relevant)"
    r"|\bno,? thanks?\b|\bno thank you\b|\bunsubscribe\b|\bremove (me|us)\b|\btake (me|us) off\b"
    r"|\bstop (emailing|contacting|sending|writing)\b|\bdo not (contact|email)\b|\bdon't (contact|email)\b"
    r"|\bnot (now|at this time|right now)\b|\bplease stop\b|\bopt.?out\b"
    r"|kein interesse|nicht interessiert|bitte (entfernen|austragen|keine)|abmelden"
    r"|pas intéressée?|ne suis pas intéressée?|désinscri|retirez-moi|non merci"
    r"|no (me |nos )?interesa|no estoy interesad[oa]|darme de baja|no gracias"
    r"|non (sono |siamo )?interessat[oi]|non mi interessa|cancellami|no grazie"
    r"|geen interesse|niet geïnteresseerd|uitschrijven|não tenho interesse|não estou interessad[oa]",
    re.IGNORECASE,
)
_POSITIVE = re.compile(
    r"\b(i am|i'm|we are|we're|very|definitely|quite|really|would be)? ?interested\b"
    r"|\blet'?s (talk|chat|meet|connect|do it|schedule|set up|book)\b|\bsounds (good|great|interesting)\b"
    r"|\b(happy|glad|keen|open) to (talk|chat|meet|connect|learn|hear)\b|\bbook (a|some) (call|time|meeting|demo)\b"
    r"|\b(schedule|set up|arrange) (a|the) (call|meeting|demo|chat)\b|\bsend (me )?(more )?(info|details)\b"
    r"|\btell me more\b|\bwhen are you (free|available)\b|\bcall me\b|^\s*(yes|yes please|sure|absolutely)\b"
    r"|\b(interessiert|gerne|klingt gut|lass uns|einen termin"
    r"|intéressée?|avec plaisir|ça m'intéresse|volontiers|rendez-vous"
    r"|me interesa|interesad[oa]|hablemos|suena bien|con gusto"
    r"|interessat[oi]|mi interessa|sentiamoci|volentieri"
    r"|geïnteresseerd|klinkt goed|interessad[oa]|tenho interesse)\b",
    re.IGNORECASE | re.MULTILINE,
)


class RuleReplyClassifier:
    """Keyword rules in English, German, French, Spanish, Italian, Dutch and Portuguese. No model."""

    def is_positive(self, text: str) -> bool:
        if _NEGATIVE.search(text):
            return False
        return bool(_POSITIVE.search(text))


def reply_text(msg: Message) -> str:
    """The reply's own text: the text/plain body (or the HTML body as text), without the quoted history,
    the signature or a disclaimer. Capped at MAX_DETAIL characters."""
    body = body_text(msg)
    parsed = EmailReplyParser(languages=list(REPLY_LANGUAGES)).read(body)
    own = parsed.replies[0].body if parsed.replies else body
    # Lines quoted with ">" that the parser left (a reply with no header line before the quote).
    own = "\n".join(line for line in own.splitlines() if not line.lstrip().startswith(">")).strip()
    return own[:MAX_DETAIL]


def body_text(msg: Message) -> str:
    part: Message | None
    if isinstance(msg, EmailMessage):
        part = msg.get_body(preferencelist=("plain", "html"))
    else:  # a compat32 Message: the first text part
        part = next((p for p in msg.walk() if p.get_content_maintype() == "text"), None)
    if part is None:
        return ""
    text = part_text(part)
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    return text


def html_to_text(markup: str) -> str:
    """Enough HTML-to-text for a reply: blockquotes (the quoted history) dropped, tags removed."""
    markup = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", "", markup)
    markup = re.sub(r"(?is)<blockquote\b.*?</blockquote>", "", markup)
    markup = re.sub(r'(?is)<div class="gmail_quote.*', "", markup)  # Gmail's quoted history container
    markup = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</li>|</tr>", "\n", markup)
    return html.unescape(re.sub(r"<[^>]+>", "", markup))
