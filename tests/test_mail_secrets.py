"""mail.secrets: mailbox URLs and passwords encrypted at rest."""

from __future__ import annotations

import pytest

from mail.secrets import MailServer, MailUrlError, PasswordBox, SecretError, derive_signing_key, parse_mail_url

KEY = "a-long-random-secret-key-from-the-settings"


def test_password_round_trip_and_the_ciphertext_hides_it() -> None:
    box = PasswordBox(KEY)
    token = box.encrypt("hunter2-é")
    assert "hunter2" not in token
    assert box.encrypt("hunter2-é") != token  # Fernet: a fresh IV each time
    assert box.decrypt(token) == "hunter2-é"


def test_another_key_cannot_decrypt_and_says_so() -> None:
    token = PasswordBox(KEY).encrypt("pw")
    with pytest.raises(SecretError):
        PasswordBox("another-long-random-secret-key").decrypt(token)
    with pytest.raises(SecretError):
        PasswordBox(KEY).decrypt("garbage")


def test_key_rotation_reads_old_and_writes_new() -> None:
    old = PasswordBox(KEY).encrypt("pw")
    rotated_box = PasswordBox("the-new-secret-key-0123456789", previous=(KEY,))
    assert rotated_box.decrypt(old) == "pw"
    new = rotated_box.rotate(old)
    assert PasswordBox("the-new-secret-key-0123456789").decrypt(new) == "pw"


def test_short_secret_key_is_refused() -> None:
    with pytest.raises(SecretError):
        PasswordBox("short")


def test_signing_key_is_separate_from_the_encryption_key() -> None:
    assert derive_signing_key(KEY) == derive_signing_key(KEY)
    assert len(derive_signing_key(KEY)) == 32
    assert derive_signing_key(KEY) != derive_signing_key(KEY + "x")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "smtp://sam%40outbound.test:p%40ss@smtp.outbound.test",
            MailServer("smtp", "smtp.outbound.test", 587, "starttls", "sam@outbound.test", "p@ss"),
        ),
        (
            "smtps://sam@outbound.test:pw@smtp.outbound.test:2465",
            MailServer("smtp", "smtp.outbound.test", 2465, "implicit", "sam@outbound.test", "pw"),
        ),
        ("imap://u:pw@127.0.0.1:1143", MailServer("imap", "127.0.0.1", 1143, "none", "u", "pw", "INBOX")),
        (
            "imaps://u:pw@imap.example.com/Leads%20Inbox",
            MailServer("imap", "imap.example.com", 993, "implicit", "u", "pw", "Leads Inbox"),
        ),
        ("smtp://relay.local:25", MailServer("smtp", "relay.local", 25, "starttls", None, None)),
    ],
)
def test_parse_mail_url(url: str, expected: MailServer) -> None:
    assert parse_mail_url(url) == expected


@pytest.mark.parametrize(
    "url",
    ["http://x", "smtp://", "smtp://h:99999", "smtp://h/path", "imap://h?x=1", "smtp://:pw@h", "smtp://h\r\n", ""],
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(MailUrlError):
        parse_mail_url(url)


def test_expected_protocol() -> None:
    with pytest.raises(MailUrlError):
        parse_mail_url("imap://u:p@h", expect="smtp")


def test_redacted_form_and_repr_never_show_the_password() -> None:
    server = parse_mail_url("imaps://sam%40outbound.test:s3cr3t-pw@imap.outbound.test/INBOX")
    assert server.redacted() == "imaps://sam@outbound.test:***@imap.outbound.test:993/INBOX"
    assert "s3cr3t" not in repr(server) and "s3cr3t" not in str(server)
    assert "s3cr3t" not in str([server])
