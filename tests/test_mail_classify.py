"""mail.classify against real bounce samples (flufl.bounce's, tests/data/bounces/flufl/) and faithful
reproductions of today's provider formats (tests/data/mail/, see its README)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mail.classify import Classification, Kind, classify
from mail.replies import RuleReplyClassifier

DATA = Path(__file__).parent / "data"
FLUFL = DATA / "bounces" / "flufl"
MAIL = DATA / "mail"


def run(path: Path, *, ours: set[str] | None = None, leads: set[str] | None = None) -> Classification:
    return classify(path.read_bytes(), our_message_ids=ours or set(), lead_addresses=leads or set())


# (sample, failed recipient, outcome, suppressed?) — the reason each one is (or is not) about the address
# is in its diagnostic, checked below.
FLUFL_CASES = [
    ("postfix_01.txt", "xxxxx@local.ie", Kind.BOUNCED, True),  # 550 5.1.1 User unknown
    ("postfix_04.txt", "userx@mail1.example.com", Kind.BOUNCED, False),  # Mail quota exceeded
    ("exim_01.txt", "userx@its.example.nl", Kind.BOUNCED, True),  # 553 5.1.1 unknown or illegal user
    ("qmail_03.txt", "userx@example.jp", Kind.BOUNCED, True),  # no mailbox here by that name (#5.1.1)
    ("qmail_06.txt", "ntl@xxx.com", Kind.BOUNCED, False),  # Disk Quota Exceeded
    ("sendmail_01.txt", "zzzzz@nfg.nl", Kind.BOUNCED, False),  # 554 Too many hops
    ("dsn_05.txt", "userx@example.cz", Kind.DELAYED, False),  # RFC 3464 Action: delayed, 4.4.1
    ("dsn_17.txt", "userx@example.fi", Kind.DELAYED, False),  # Postfix "still being retried"
    ("dsn_09.txt", "userx@example.com", Kind.BOUNCED, False),  # 5.7.1 Unable to relay
    ("dsn_11.txt", "joem@example.com", Kind.BOUNCED, True),  # Sendmail DSN 5.1.1
    ("dsn_16.txt", "userx@example.com", Kind.BOUNCED, True),  # Postfix DSN, 550 unknown user
    ("microsoft_01.txt", "userx@example.com", Kind.BOUNCED, True),  # Exchange "Unknown Recipient"
    ("yahoo_01.txt", "userx@example.com", Kind.BOUNCED, False),  # 4.4.1 given up: final, not the address
    ("yahoo_02.txt", "userx@example.es", Kind.BOUNCED, False),  # account is over quota
    ("yahoo_10.txt", "userx@example.com", Kind.BOUNCED, True),  # doesn't have a yahoo.com account
    ("yahoo_13.txt", "bogus-address@example.net", Kind.BOUNCED, True),  # 550 5.1.1 User unknown
    ("simple_03.txt", "userx@example.za", Kind.DELAYED, False),  # Exim "Warning: message delayed"
    ("simple_28.txt", "userx@example.com", Kind.DELAYED, False),  # Gmail "Delivery Status Notification (Delay)"
    ("simple_42.txt", "david...@gmail.com", Kind.BOUNCED, False),  # Gmail 550 5.7.1 likely unsolicited
    ("simple_44.txt", "user@example.com", Kind.BOUNCED, False),  # Office 365 4.4.4, given up
    ("smtp32_04.txt", "after_another@example.net", Kind.BOUNCED, True),  # SMTP32 "Unknown user"
    ("groupwise_01.txt", "userx@example.edu", Kind.BOUNCED, True),  # "recipient name is not recognized"
    ("aol_01.txt", "screenname@aol.com", Kind.BOUNCED, False),  # AOL: no reason given, not suppressed
]


@pytest.mark.parametrize(("sample", "recipient", "kind", "suppress"), FLUFL_CASES)
def test_flufl_bounce_samples(sample: str, recipient: str, kind: Kind, suppress: bool) -> None:
    result = run(FLUFL / sample, leads={recipient})
    assert (result.kind, result.recipient, result.suppress) == (kind, recipient, suppress), result


def test_a_bounce_about_nobody_we_emailed_is_left_alone() -> None:
    result = run(FLUFL / "postfix_01.txt", leads={"someone.else@example.com"})
    assert result.kind is Kind.IGNORED
    assert result.suppress is False


def test_a_non_bounce_in_flufl_samples_is_not_a_bounce() -> None:
    # qmail_08 is an autoresponder's "Auto reply" (Precedence: auto_reply), groupwise_03 a person's reply.
    assert run(FLUFL / "qmail_08.txt", leads={"contact@example.com"}).kind is Kind.OUT_OF_OFFICE
    reply = run(FLUFL / "groupwise_03.txt", ours={"<1456018944.242038011550903.872471708902354@mercurio>"})
    assert reply.kind is Kind.REPLY
    assert reply.message_id_ref == "<1456018944.242038011550903.872471708902354@mercurio>"
    assert run(FLUFL / "groupwise_03.txt").kind is Kind.IGNORED


def test_gmail_address_not_found() -> None:
    result = run(MAIL / "gmail_511.eml", ours={"<ours-gmail-511@outbound.test>"})
    assert result.kind is Kind.BOUNCED
    assert result.message_id_ref == "<ours-gmail-511@outbound.test>"
    assert result.recipient == "nobody.here.42@gmail.com"
    assert result.suppress is True
    assert result.diagnostic is not None and result.diagnostic.startswith("5.1.1 550-5.1.1 The email account")
    assert result.message_id == "<65a1b2c3.050a0220.9f1e.1b2cGMR@mx.google.com>"


def test_gmail_over_quota_bounces_without_suppressing() -> None:
    result = run(MAIL / "gmail_522_over_quota.eml", ours={"<ours-gmail-522@outbound.test>"})
    assert (result.kind, result.suppress, result.recipient) == (Kind.BOUNCED, False, "full.box@gmail.com")
    assert result.diagnostic is not None and result.diagnostic.startswith("5.2.2")


def test_office365_recipient_not_found_from_the_returned_headers() -> None:
    result = run(MAIL / "o365_ndr_5110.eml", ours={"<ours-o365@outbound.test>"})
    assert (result.kind, result.suppress) == (Kind.BOUNCED, True)
    assert result.message_id_ref == "<ours-o365@outbound.test>"  # from the text/rfc822-headers part
    assert result.recipient == "jdoe@contoso.example"
    assert "RecipientNotFound" in (result.diagnostic or "")


def test_office365_blocked_sender_is_not_the_address() -> None:
    result = run(MAIL / "o365_571_blocked.eml", ours={"<ours-o365-blocked@outbound.test>"})
    assert (result.kind, result.suppress) == (Kind.BOUNCED, False)
    assert "Spamhaus" in (result.diagnostic or "")


def test_yahoo_non_standard_bounce_found_by_the_inline_message_id() -> None:
    result = run(MAIL / "yahoo_dd.eml", ours={"<ours-yahoo@outbound.test>"})
    assert (result.kind, result.suppress) == (Kind.BOUNCED, True)
    assert result.message_id_ref == "<ours-yahoo@outbound.test>"
    assert result.recipient == "gone.user.1999@yahoo.com"
    assert "doesn't have a yahoo.com account" in (result.diagnostic or "")


def test_ses_bounce() -> None:
    result = run(MAIL / "ses_bounce.eml", ours={"<ours-ses@outbound.test>"})
    assert (result.kind, result.suppress, result.recipient) == (Kind.BOUNCED, True, "bounce@simulator.amazonses.com")
    assert result.message_id_ref == "<ours-ses@outbound.test>"


def test_soft_dsn_delayed_changes_nothing() -> None:
    result = run(MAIL / "postfix_delayed.eml", ours={"<ours-delayed@outbound.test>"})
    assert (result.kind, result.suppress) == (Kind.DELAYED, False)
    assert result.message_id_ref == "<ours-delayed@outbound.test>"
    assert result.diagnostic is not None and result.diagnostic.startswith("4.4.1")


def test_expired_queue_is_a_final_failure_not_about_the_address() -> None:
    result = run(MAIL / "postfix_expired_447.eml", ours={"<ours-expired@outbound.test>"})
    assert (result.kind, result.suppress) == (Kind.BOUNCED, False)


def test_gmail_reply_keeps_only_its_own_words() -> None:
    result = run(MAIL / "reply_gmail.eml", ours={"<ours-reply-gmail@outbound.test>"})
    assert result.kind is Kind.REPLY
    assert result.message_id_ref == "<ours-reply-gmail@outbound.test>"
    assert result.recipient == "jane.doe@gmail.com"
    assert result.positive is True
    assert "Sounds good, let's talk on Thursday afternoon" in result.detail
    assert "wrote:" not in result.detail and "quick call" not in result.detail
    assert "Head of Operations" not in result.detail  # the signature


def test_outlook_reply_matched_by_sender_and_negative() -> None:
    result = run(MAIL / "reply_outlook.eml", leads={"john.roe@fabrikam.example"})
    assert result.kind is Kind.REPLY
    assert result.message_id_ref is None  # no In-Reply-To: found by the sender's address
    assert result.positive is False
    assert result.detail.startswith("Thanks, but we are not interested at this time.")
    assert "Sent:" not in result.detail and "quick call" not in result.detail


def test_out_of_office_rfc3834() -> None:
    result = run(MAIL / "ooo_rfc3834.eml", ours={"<ours-ooo@outbound.test>"})
    assert (result.kind, result.message_id_ref) == (Kind.OUT_OF_OFFICE, "<ours-ooo@outbound.test>")
    assert result.detail.startswith("I am on vacation until December 14")
    assert result.positive is None and result.suppress is False


def test_out_of_office_with_only_a_subject() -> None:
    result = run(MAIL / "ooo_outlook_headerless.eml", leads={"peter.smith@contoso.example"})
    assert result.kind is Kind.OUT_OF_OFFICE
    assert result.detail.startswith("Thank you for your email. I am out of the office until Monday 7 December")


def test_out_of_office_in_german() -> None:
    result = run(MAIL / "ooo_german.eml", ours={"<ours-ooo-de@outbound.test>"})
    assert result.kind is Kind.OUT_OF_OFFICE


def test_unrelated_and_feedback_reports_are_ignored() -> None:
    assert run(MAIL / "unrelated.eml", leads={"jane.doe@gmail.com"}).kind is Kind.IGNORED
    assert run(MAIL / "arf_feedback.eml", ours={"<ours-arf@outbound.test>"}).kind is Kind.IGNORED


def test_lookups_may_be_functions() -> None:
    seen: list[str] = []

    def ours(message_id: str) -> bool:
        seen.append(message_id)
        return message_id == "<ours-reply-gmail@outbound.test>"

    result = classify((MAIL / "reply_gmail.eml").read_bytes(), our_message_ids=ours, lead_addresses=lambda a: False)
    assert result.kind is Kind.REPLY
    # Asked about the reply's own id first (is it ours?), then about the one it answers.
    assert seen == ["<CAJx9Z1b2c3d4e5f6g7h8i9j0kLmNoPqRsTuVwXyZ@mail.gmail.com>", "<ours-reply-gmail@outbound.test>"]


def test_a_pluggable_reply_classifier_decides_positive() -> None:
    class AlwaysPositive:
        def is_positive(self, text: str) -> bool:
            return True

    raw = (MAIL / "reply_outlook.eml").read_bytes()
    result = classify(
        raw, our_message_ids=set(), lead_addresses={"john.roe@fabrikam.example"}, reply_classifier=AlwaysPositive()
    )
    assert result.positive is True


@pytest.mark.parametrize(
    ("text", "positive"),
    [
        ("Yes, let's talk next week.", True),
        ("Sounds good, send me more info", True),
        ("I'm interested, when are you free?", True),
        ("Not interested, thanks.", False),
        ("Please remove me from your list", False),
        ("No thanks", False),
        ("unsubscribe", False),
        ("Who are you?", False),
        ("Klingt gut, gerne einen Termin nächste Woche.", True),
        ("Kein Interesse, bitte entfernen.", False),
        ("Avec plaisir, je suis intéressé.", True),
        ("Non merci, je ne suis pas intéressé.", False),
        ("Me interesa, hablemos el lunes.", True),
        ("No me interesa, gracias.", False),
        ("Mi interessa, sentiamoci domani.", True),
    ],
)
def test_rule_reply_classifier(text: str, positive: bool) -> None:
    assert RuleReplyClassifier().is_positive(text) is positive


def test_a_reply_in_an_unknown_charset_is_still_read() -> None:
    raw = (MAIL / "reply_outlook.eml").read_bytes().replace(b'charset="iso-8859-1"', b'charset="x-no-such-charset"')
    result = classify(raw, our_message_ids=set(), lead_addresses={"john.roe@fabrikam.example"})
    assert result.kind is Kind.REPLY and result.detail.startswith("Thanks, but we are not interested")


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\xff\xfe not a message at all",
        (MAIL / "gmail_511.eml").read_bytes()[:1500],  # cut in the middle of its MIME tree
        b"From: =?utf-8?q?\xff\xfe?= <mailer-daemon@x.example>\r\nSubject: Undeliverable\r\n\r\n\xff\xfe\r\n",
    ],
)
def test_malformed_input_never_raises(raw: bytes) -> None:
    result = classify(raw, our_message_ids=lambda m: True, lead_addresses=lambda a: True)
    assert isinstance(result.kind, Kind)


def test_errors_in_the_callers_lookup_are_not_swallowed() -> None:
    def broken(_: str) -> bool:
        raise RuntimeError("database down")

    with pytest.raises(RuntimeError, match="database down"):
        classify((MAIL / "reply_gmail.eml").read_bytes(), our_message_ids=broken, lead_addresses=set())


def test_auto_submitted_no_is_a_person() -> None:
    raw = (
        (MAIL / "reply_gmail.eml")
        .read_bytes()
        .replace(b"MIME-Version: 1.0", b"Auto-Submitted: no\nMIME-Version: 1.0", 1)
    )
    assert run_raw(raw, ours={"<ours-reply-gmail@outbound.test>"}).kind is Kind.REPLY


def run_raw(raw: bytes, *, ours: set[str]) -> Classification:
    return classify(raw, our_message_ids=ours, lead_addresses=set())


MULTI_RECIPIENT_DSN = b"""\
From: MAILER-DAEMON@mail.outbound.test (Mail Delivery System)
To: sam@outbound.test
Subject: Undelivered Mail Returned to Sender
Message-Id: <20261201.multi@mail.outbound.test>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

The mail system could not deliver your message to two recipients.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.outbound.test

Final-Recipient: rfc822; someone.else@example.org
Action: failed
Status: 5.2.2
Diagnostic-Code: smtp; 552 5.2.2 Mailbox full

Final-Recipient: rfc822; the.lead@example.org
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <the.lead@example.org>: Recipient address rejected: User unknown

--B--
"""


def test_the_leads_own_line_of_a_multi_recipient_report_decides() -> None:
    result = classify(MULTI_RECIPIENT_DSN, our_message_ids=set(), lead_addresses={"the.lead@example.org"})
    assert (result.kind, result.recipient, result.suppress) == (Kind.BOUNCED, "the.lead@example.org", True)
    other = classify(MULTI_RECIPIENT_DSN, our_message_ids=set(), lead_addresses={"someone.else@example.org"})
    assert (other.recipient, other.suppress) == ("someone.else@example.org", False)


def test_our_own_follow_up_in_the_inbox_is_not_a_reply() -> None:
    raw = (
        b"From: sam@outbound.test\r\nTo: jane.doe@gmail.com\r\nSubject: Re: Quick question\r\n"
        b"Message-ID: <ours-follow-up@outbound.test>\r\nIn-Reply-To: <ours-first@outbound.test>\r\n\r\n"
        b"Just following up: interested?\r\n"
    )
    ours = {"<ours-first@outbound.test>", "<ours-follow-up@outbound.test>"}
    assert classify(raw, our_message_ids=ours, lead_addresses={"jane.doe@gmail.com"}).kind is Kind.IGNORED
