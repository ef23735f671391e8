"""mail.outbound and mail.tokens: the email we send, its tracked links and its one-click unsubscribe."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from mail.outbound import InvalidMessage, build_message, plain_address, unsubscribe_url
from mail.tokens import TrackedLink, click_token, verify_token, verify_unsubscribe_token

SECRET = "test-secret-for-tokens-0123456789"
PUBLIC = "https://track.outbound.test"


def build(**overrides: object) -> EmailMessage:
    args: dict[str, object] = {
        "sender": "sam@outbound.test",
        "to": "jane.doe@example.com",
        "subject": "Quick question",
        "text": "Hi Jane, see https://acme.example/pricing?plan=pro&x=1. Or (https://acme.example/a_(b)).\n"
        "Unsubscribe: {{unsubscribeUrl}}",
        "lead_id": 42,
        "step_id": 7,
        "public_url": PUBLIC,
        "secret": SECRET,
    }
    args.update(overrides)
    return build_message(**args)  # type: ignore[arg-type]


def reparse(message: EmailMessage) -> EmailMessage:
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def tokens_in(text: str) -> list[str]:
    return re.findall(re.escape(PUBLIC) + r"/t/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)", text)


def test_headers_message_id_and_one_click_unsubscribe() -> None:
    message = reparse(build(sender_name="Sam Seller", unsubscribe_mailto="unsubscribe@outbound.test"))
    assert str(message["From"]) == "Sam Seller <sam@outbound.test>"
    assert str(message["To"]) == "jane.doe@example.com"
    assert re.fullmatch(r"<[^@<>]+@outbound\.test>", str(message["Message-ID"]))
    assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    https, mailto = [v.strip() for v in str(message["List-Unsubscribe"]).split(",")]
    assert https == f"<{unsubscribe_url(PUBLIC, SECRET, 42)}>"
    assert mailto.startswith("<mailto:unsubscribe@outbound.test?subject=unsubscribe%20")
    token = https.strip("<>").rsplit("/u/", 1)[1]
    assert verify_unsubscribe_token(SECRET, token) == "42"
    assert verify_unsubscribe_token("another-secret-0123456789", token) is None


def test_every_message_gets_its_own_message_id() -> None:
    assert build()["Message-ID"] != build()["Message-ID"]


def test_links_are_tracked_and_verify_to_the_original() -> None:
    body = reparse(build()).get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "https://acme.example" not in text.split("Unsubscribe:")[0]
    first, second = tokens_in(text)
    assert verify_token(SECRET, first) == TrackedLink("42", "7", 0, "https://acme.example/pricing?plan=pro&x=1")
    assert verify_token(SECRET, second) == TrackedLink("42", "7", 1, "https://acme.example/a_(b)")
    # Sentence punctuation stays outside the link; the unsubscribe link is not tracked.
    assert f"/t/{first}. Or (" in text and f"/t/{second})." in text
    assert f"Unsubscribe: {unsubscribe_url(PUBLIC, SECRET, 42)}" in text


def test_html_links_share_indexes_with_the_text() -> None:
    html = (
        '<p><a href="https://acme.example/pricing?plan=pro&amp;x=1">Pricing</a> '
        "<a href='https://acme.example/blog'>Blog</a> <a href=\"mailto:sam@outbound.test\">me</a> "
        '<a href="{{unsubscribeUrl}}">Unsubscribe</a></p>'
    )
    message = reparse(build(html=html))
    html_body = message.get_body(preferencelist=("html",))
    assert html_body is not None
    content = html_body.get_content()
    links = [verify_token(SECRET, t) for t in tokens_in(content)]
    assert [(link.index, link.url) for link in links if link] == [
        (0, "https://acme.example/pricing?plan=pro&x=1"),  # same URL as the text's first link: same index
        (2, "https://acme.example/blog"),
    ]
    assert 'href="mailto:sam@outbound.test"' in content
    assert f'href="{unsubscribe_url(PUBLIC, SECRET, 42)}"' in content


def test_tracking_off_leaves_links_alone() -> None:
    body = build(track_clicks=False).get_body(preferencelist=("plain",))
    assert body is not None
    assert "https://acme.example/pricing?plan=pro&x=1" in body.get_content()


def test_a_forged_or_altered_token_does_not_verify() -> None:
    token = click_token(SECRET, 42, 7, 0, "https://acme.example/")
    body, mac = token.split(".")
    assert verify_token(SECRET, token) is not None
    assert verify_token("wrong-secret-0123456789abcdef", token) is None
    # A payload pointing elsewhere with the old MAC, a flipped MAC character, junk, an empty token.
    evil = click_token("attacker-secret-0123456789ab", 42, 7, 0, "https://evil.example/").split(".")[0]
    assert verify_token(SECRET, f"{evil}.{mac}") is None
    assert verify_token(SECRET, f"{body}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}") is None
    assert verify_token(SECRET, "not-a-token") is None
    assert verify_token(SECRET, "") is None
    assert verify_token(SECRET, f"{body}=.{mac}") is None  # another spelling of the same bytes
    # An unsubscribe token is not a click token and back (the purpose is signed too).
    unsubscribe = unsubscribe_url(PUBLIC, SECRET, 42).rsplit("/", 1)[1]
    assert verify_token(SECRET, unsubscribe) is None
    assert verify_unsubscribe_token(SECRET, token) is None


def test_a_signed_non_http_target_is_still_refused() -> None:
    assert verify_token(SECRET, click_token(SECRET, 1, 2, 0, "javascript:alert(1)")) is None


@pytest.mark.parametrize(
    "value",
    [
        "Jane <jane@example.com>",
        "<jane@example.com>",
        "jane@example.com, bob@example.com",
        "jane@example.com\r\nBcc: victim@example.com",
        "jane@example.com\n",
        "jane doe@example.com",
        '"jane"@example.com',
        "jane@localhost",
        "jane@@example.com",
        "",
    ],
)
def test_recipient_must_be_one_plain_address(value: str) -> None:
    with pytest.raises(InvalidMessage):
        build(to=value)
    with pytest.raises(InvalidMessage):
        build(sender=value)


def test_header_injection_in_subject_and_name_is_refused() -> None:
    with pytest.raises(InvalidMessage):
        build(subject="Hi\r\nBcc: victim@example.com")
    with pytest.raises(InvalidMessage):
        build(sender_name="Sam\nBcc: victim@example.com")
    with pytest.raises(InvalidMessage):
        build(sender_name="Sam <evil@example.com>")
    with pytest.raises(InvalidMessage):
        build(in_reply_to="<a@b>\r\nBcc: x@y.z")


def test_display_name_is_quoted_not_interpreted() -> None:
    message = reparse(build(sender_name='Sam "the seller", Acme'))
    assert message["From"].addresses[0].addr_spec == "sam@outbound.test"
    assert len(message["From"].addresses) == 1


def test_plain_address_normalises_the_host_only() -> None:
    assert plain_address("Jane.Doe@Example.COM") == "Jane.Doe@example.com"


def test_follow_up_threads_under_an_earlier_message() -> None:
    message = build(in_reply_to="<first@outbound.test>")
    assert (message["In-Reply-To"], message["References"]) == ("<first@outbound.test>", "<first@outbound.test>")
