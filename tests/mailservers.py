"""Real mail servers for tests, on free loopback ports: no fakes of our own.

- `AuthSmtpServer`: aiosmtpd (in a thread) that requires AUTH PLAIN/LOGIN against one user and password,
  optionally with STARTTLS (required before AUTH) or implicit TLS, and records every accepted message.
- `PymapServer`: pymap's IMAP4rev1 server with its in-memory dict backend, as a subprocess (its own event
  loop, as a real server would be), with one user. Messages are put in with IMAP APPEND (imaplib), and
  `recreate_folder` deletes and re-creates a folder, which gives it a new UIDVALIDITY: pymap draws a new one
  for every mailbox it creates, as RFC 3501 §2.3.1.1 requires when a name is reused. (INBOX itself cannot
  be deleted, so UIDVALIDITY tests read another folder; the reader takes the folder from the URL anyway.)
- `tls_front`: an implicit-TLS listener in front of a plain port (pymap speaks STARTTLS only, and
  aioimaplib has no STARTTLS), so imaps:// is tested with a real TLS handshake in front of a real server.
- `self_signed_tls`: a certificate for 127.0.0.1/localhost made with `cryptography`, and the server and
  client SSL contexts that use it (the client one trusts only that certificate).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import imaplib
import ipaddress
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Tls:
    cert: Path
    key: Path
    server: ssl.SSLContext
    client: ssl.SSLContext


def self_signed_tls(directory: Path) -> Tls:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return Tls(cert_path, key_path, server, client)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    login: str | None
    tls: bool
    message: EmailMessage


@dataclass
class _Recorder:
    user: str
    password: str
    refuse: set[str] = field(default_factory=set)
    messages: list[Received] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)  # (mechanism, success)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.user
            and auth_data.password.decode() == self.password
        )
        with self.lock:
            self.logins.append((mechanism, ok))
        # handled=False: aiosmtpd answers 235 or 535 itself (handled=True would leave the client waiting).
        return AuthResult(success=ok, handled=False, auth_data=self.user if ok else None)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if address.lower() in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        # session.ssl is set by STARTTLS only; with implicit TLS the transport itself is the TLS one.
        tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        accepted = Received(envelope.mail_from, list(envelope.rcpt_tos), session.auth_data, tls, message)
        with self.lock:
            self.messages.append(accepted)
        return "250 2.0.0 Ok: queued"


class AuthSmtpServer:
    """aiosmtpd requiring AUTH. `tls`: None (plain), "starttls" (required before AUTH) or "implicit"."""

    def __init__(self, user: str, password: str, *, tls: str | None = None, certs: Tls | None = None) -> None:
        self.user, self.password, self.tls_mode = user, password, tls
        self.recorder = _Recorder(user, password)
        self.port = free_port()
        kwargs: dict[str, Any] = {"authenticator": self.recorder.authenticate, "auth_required": True}
        if tls is None:
            kwargs["auth_require_tls"] = False  # a loopback test server: AUTH over plain text is allowed
        elif tls == "starttls":
            assert certs is not None
            kwargs.update(tls_context=certs.server, require_starttls=True, auth_require_tls=True)
        else:
            assert certs is not None
            kwargs.update(ssl_context=certs.server, auth_require_tls=False)
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port, **kwargs)

    @property
    def messages(self) -> list[Received]:
        with self.recorder.lock:
            return list(self.recorder.messages)

    @property
    def logins(self) -> list[tuple[str, bool]]:
        with self.recorder.lock:
            return list(self.recorder.logins)

    def refuse(self, address: str) -> None:
        self.recorder.refuse.add(address.lower())

    def url(self, *, user: str | None = None, password: str | None = None) -> str:
        scheme = "smtps" if self.tls_mode == "implicit" else "smtp"
        user = self.user if user is None else user
        password = self.password if password is None else password
        auth = f"{quote(user, safe='')}:{quote(password, safe='')}@" if user else ""
        return f"{scheme}://{auth}127.0.0.1:{self.port}"

    def __enter__(self) -> AuthSmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


class PymapServer:
    """pymap (dict backend) as a subprocess, one user, plain IMAP on a free loopback port."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        # A file, not a pipe: nobody reads pymap's log while it runs, and a full pipe would block it.
        self.log = tempfile.TemporaryFile()

    def __enter__(self) -> PymapServer:
        code = "import sys; from pymap.main import main; sys.argv[0] = 'pymap'; main()"
        args = [
            "--no-service",
            "admin",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-tls",
            "dict",
            "--demo-user",
            self.user,
            "--demo-password",
            self.password,
        ]
        self.process = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                raise RuntimeError(f"pymap exited: {self.log.read().decode(errors='replace')[-2000:]}")
            try:
                # An IMAP greeting, not just an open port: something else could hold a port we picked.
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as probe:
                    if probe.recv(64).startswith(b"* OK") and self.process.poll() is None:
                        return self
            except OSError:
                pass
            time.sleep(0.1)
        self.__exit__()
        raise RuntimeError("pymap did not start listening within 20 s")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()

    def url(self, folder: str = "INBOX", *, password: str | None = None) -> str:
        password = self.password if password is None else password
        return f"imap://{quote(self.user, safe='')}:{quote(password, safe='')}@127.0.0.1:{self.port}/{quote(folder)}"

    def _client(self) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(self.user, self.password)
        return client

    def append(self, raw: bytes, folder: str = "INBOX") -> int:
        """APPEND a raw RFC 5322 message (creating the folder if needed); returns its UID (UIDPLUS)."""
        client = self._client()
        try:
            if folder != "INBOX":
                client.create(folder)  # "NO ... already exists" is fine
            status, data = client.append(folder, None, None, raw)
            assert status == "OK", data
            # [APPENDUID <uidvalidity> <uid>]
            return int(data[0].split(b"APPENDUID ", 1)[1].split(b"]")[0].split()[1])
        finally:
            client.logout()

    def flags(self, uid: int, folder: str = "INBOX") -> bytes:
        client = self._client()
        try:
            client.select(folder, readonly=True)
            status, data = client.uid("FETCH", str(uid), "(FLAGS)")
            assert status == "OK", data
            return bytes(data[0]) if isinstance(data[0], bytes) else b""
        finally:
            client.logout()

    def uidvalidity(self, folder: str = "INBOX") -> int:
        client = self._client()
        try:
            status, data = client.status(folder, "(UIDVALIDITY)")
            assert status == "OK", data
            return int(data[0].split(b"UIDVALIDITY ", 1)[1].split(b")")[0])
        finally:
            client.logout()

    def recreate_folder(self, folder: str) -> None:
        """Delete and create `folder` again: its messages are gone and its UIDVALIDITY is new."""
        assert folder.upper() != "INBOX"
        client = self._client()
        try:
            client.delete(folder)
            status, data = client.create(folder)
            assert status == "OK", data
        finally:
            client.logout()


@contextlib.asynccontextmanager
async def tls_front(target_port: int, context: ssl.SSLContext) -> AsyncIterator[int]:
    """Accept TLS on a free loopback port and relay the plain bytes to `target_port`; yields the port."""
    tasks: set[asyncio.Task[None]] = set()

    async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def relay(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", target_port)
        for task in (pump(client_reader, server_writer), pump(server_reader, client_writer)):
            running = asyncio.ensure_future(task)
            tasks.add(running)
            running.add_done_callback(tasks.discard)

    port = free_port()
    server = await asyncio.start_server(relay, "127.0.0.1", port, ssl=context)
    try:
        yield port
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
