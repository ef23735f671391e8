"""Where a webhook may point: no server-side request forgery.

A URL is http(s) only, with a host. The host is resolved when the webhook is created (or its URL changed)
and again before every delivery, and every address it resolves to must be public: loopback, private,
link-local, CGNAT (100.64.0.0/10), multicast, unspecified and reserved addresses are refused, and so are
the cloud metadata endpoints (169.254.169.254, fd00:ec2::254, metadata.google.internal) by name and
address. `allow_private` (WEBHOOK_ALLOW_PRIVATE, for a receiver on the same network) lets loopback and
private ranges through, never the others. The delivery then connects to the address checked here, not to
the name again, so DNS cannot answer differently between the check and the connection (rebinding).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IP = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_NAMES = frozenset({"metadata.google.internal", "metadata.goog", "metadata"})
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
CGNAT = ipaddress.ip_network("100.64.0.0/10")
MAX_URL = 2000


class UrlRefused(Exception):
    """Why a URL may not receive webhooks, for a person."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: connect to `ip`, and name `host` in the Host header and TLS."""

    scheme: str
    host: str
    port: int
    target: str  # path and query
    ip: IP

    @property
    def address_url(self) -> str:
        """The URL with the checked address in place of the name (IPv6 in brackets)."""
        literal = f"[{self.ip}]" if self.ip.version == 6 else str(self.ip)
        return f"{self.scheme}://{literal}:{self.port}{self.target}"

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def why_refused(ip: IP, allow_private: bool) -> str | None:
    """None when `ip` may receive webhooks, else why not."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified:
        return "an unspecified address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in CGNAT:
        return "a shared (CGNAT) address"
    if ip.is_loopback:
        return None if allow_private else "a loopback address"
    if ip.is_private:
        return None if allow_private else "a private address"
    if ip.is_reserved or not ip.is_global:
        return "a reserved address"
    return None


def parse(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path and query) of an http(s) URL; UrlRefused otherwise."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise UrlRefused(f"A webhook URL is 1 to {MAX_URL} characters.")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"Not a valid URL: {exc}.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlRefused("A webhook URL must start with https:// (or http://).")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise UrlRefused("A webhook URL needs a host.")
    if parts.username or parts.password:
        raise UrlRefused("A webhook URL may not carry a user or password.")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return scheme, host, port or (443 if scheme == "https" else 80), target


async def resolve(url: str, allow_private: bool) -> Target:
    """Check `url` and resolve its host now; UrlRefused if it is not an allowed public http(s) endpoint."""
    scheme, host, port, target = parse(url)
    if host in METADATA_NAMES:
        raise UrlRefused(f"{host} is a cloud metadata endpoint.")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise UrlRefused(f"{host} does not resolve ({exc}).") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))
    if not addresses:
        raise UrlRefused(f"{host} does not resolve.")
    # Every address must pass: a name with one public and one internal address could be steered to either.
    for ip in addresses:
        why = why_refused(ip, allow_private)
        if why is not None:
            raise UrlRefused(f"{host} resolves to {ip}, {why}: webhooks go to public addresses only.")
    return Target(scheme, host, port, target, addresses[0])
