"""Mailbox credentials: server URLs (smtp/smtps/imap/imaps) and passwords encrypted at rest.

Key derivation (documented because changing it makes every stored password unreadable):

    fernet_key = urlsafe_b64encode(HKDF-SHA256(ikm=SECRET_KEY.encode("utf-8"), salt=None,
                                               info=b"outbound/mailbox-password/v1", length=32))

HKDF, not a password hash, because SECRET_KEY is a server secret (a long random string from the settings),
not something a person types: it needs expanding and domain separation (the `info` label keeps this key
apart from any other key derived from the same SECRET_KEY, such as the tracking tokens' HMAC key), not
stretching. A short or guessable SECRET_KEY is refused. Rotation: pass the previous SECRET_KEYs as
`previous`; decryption tries every key, encryption always uses the current one (Fernet's MultiFernet).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_SECRET_KEY_LENGTH = 16
_INFO = b"outbound/mailbox-password/v1"


class SecretError(ValueError):
    """A SECRET_KEY too short to use, or a ciphertext that no configured key opens."""


def derive_fernet_key(secret_key: str, info: bytes = _INFO) -> bytes:
    if len(secret_key) < MIN_SECRET_KEY_LENGTH:
        raise SecretError(f"SECRET_KEY must be at least {MIN_SECRET_KEY_LENGTH} characters of random text")
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret_key.encode("utf-8"))
    return base64.urlsafe_b64encode(raw)


def derive_signing_key(secret_key: str) -> bytes:
    """The HMAC key for click and unsubscribe tokens (mail.tokens), kept apart from the Fernet key."""
    return base64.urlsafe_b64decode(derive_fernet_key(secret_key, info=b"outbound/link-tokens/v1"))


class PasswordBox:
    """Encrypts and decrypts mailbox passwords with keys derived from SECRET_KEY (and older ones)."""

    def __init__(self, secret_key: str, previous: tuple[str, ...] = ()) -> None:
        keys = [Fernet(derive_fernet_key(key)) for key in (secret_key, *previous)]
        self._fernet = MultiFernet(keys)

    def encrypt(self, password: str) -> str:
        return self._fernet.encrypt(password.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise SecretError("the stored password cannot be decrypted with the configured SECRET_KEY") from exc

    def rotate(self, token: str) -> str:
        """Re-encrypt a stored password under the current key (after SECRET_KEY changed)."""
        try:
            return self._fernet.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise SecretError("the stored password cannot be decrypted with the configured SECRET_KEY") from exc


MailProtocol = Literal["smtp", "imap"]
TlsMode = Literal["starttls", "implicit", "none"]

_SCHEMES: dict[str, tuple[MailProtocol, TlsMode, int]] = {
    # smtp:// upgrades with STARTTLS whenever the server offers it (the sender decides at EHLO time).
    "smtp": ("smtp", "starttls", 587),
    "smtps": ("smtp", "implicit", 465),
    # imap:// is plain: aioimaplib has no STARTTLS; a real provider's mailbox wants imaps://.
    "imap": ("imap", "none", 143),
    "imaps": ("imap", "implicit", 993),
}


class MailUrlError(ValueError):
    """A mailbox URL that cannot be used; the message never contains the password."""


@dataclass(frozen=True, slots=True)
class MailServer:
    protocol: MailProtocol
    host: str
    port: int
    tls: TlsMode
    user: str | None
    password: str | None = None
    folder: str | None = None  # IMAP only

    @property
    def scheme(self) -> str:
        return self.protocol + ("s" if self.tls == "implicit" else "")

    def redacted(self) -> str:
        """The URL for logs and error messages: the user, never the password."""
        auth = f"{quote(self.user, safe='@')}:***@" if self.user else ""
        path = f"/{quote(self.folder)}" if self.protocol == "imap" and self.folder else ""
        return f"{self.scheme}://{auth}{self.host}:{self.port}{path}"

    def __repr__(self) -> str:  # a dataclass repr would print the password into a traceback or a log
        return f"MailServer({self.redacted()})"


def parse_mail_url(url: str, *, expect: MailProtocol | None = None) -> MailServer:
    """`smtp://user:pass@host:port`, `smtps://…`, `imap://user:pass@host:port/FOLDER`, `imaps://…`.

    User and password are percent-decoded (`me%40example.com`); a bare `@` in the user also works since the
    host is what follows the last `@`. The IMAP folder defaults to INBOX. Ports default to 587/465/143/993.
    """
    if any(c in url for c in "\r\n\t ") or not url:
        raise MailUrlError("a mailbox URL may not be empty or contain whitespace")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise MailUrlError(f"unsupported scheme {scheme!r}: use smtp, smtps, imap or imaps")
    protocol, tls, default_port = _SCHEMES[scheme]
    if expect is not None and protocol != expect:
        raise MailUrlError(f"expected an {expect} URL, got {scheme}://")
    try:
        port = parts.port or default_port
    except ValueError as exc:
        raise MailUrlError("the port must be a number between 1 and 65535") from exc
    host = parts.hostname
    if not host:
        raise MailUrlError("the URL has no host")
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and not user:
        raise MailUrlError("a password without a user")
    folder: str | None = None
    if protocol == "imap":
        folder = unquote(parts.path.lstrip("/")) or "INBOX"
    elif parts.path not in ("", "/"):
        raise MailUrlError("an SMTP URL has no path")
    if parts.query or parts.fragment:
        raise MailUrlError("a mailbox URL has no query or fragment")
    return MailServer(protocol, host, port, tls, user, password, folder)
