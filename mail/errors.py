"""Typed failures of a mailbox's servers, shared by the IMAP reader and the SMTP sender.

The split a caller needs: a login the server refused (the identity's email is disconnected until someone
fixes the password: EMAIL_DISCONNECTED) versus a server that could not be reached or timed out (retry later
with backoff, credentials untouched), versus a message the server would not take for one recipient.
"""

from __future__ import annotations


class MailError(Exception):
    """Base of every failure raised by mail/ I/O. `str(error)` never contains a password."""


class MailboxAuthError(MailError):
    """The server refused the credentials (or demanded AUTH and none were configured)."""


class MailboxUnreachable(MailError):
    """Connection refused, DNS failure, TLS handshake failure, a timeout, or the server hung up."""


class MailboxProtocolError(MailError):
    """The server answered, but not as expected (a folder that does not exist, a rejected command)."""


class RecipientRefused(MailError):
    """The SMTP server refused the recipient address (a 5xx at RCPT TO); the message was not accepted."""

    def __init__(self, recipient: str, code: int, reply: str) -> None:
        super().__init__(f"recipient {recipient} refused: {code} {reply}")
        self.recipient = recipient
        self.code = code
        self.reply = reply
