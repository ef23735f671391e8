"""Hosts for tests/test_hosts.py: one network namespace per host, each with one veth pair to a bridge on the
host side, which holds a private /24 (10.231.N.0/24) and is where PostgreSQL, Redis and the SMTP server
listen. A namespace has `lo` and its veth, and one route (the /24): it reaches the host side and its peers
by address, and nothing else, not even the host's loopback (its 127.0.0.1 is its own).

Names carry the test process's pid (namespaces `ob-api1-PID`, interfaces `obhPIDb`, `obhPIDv0`...), and N
is a /24 no interface or route on this machine uses (chosen under a lock file), so concurrent runs never
collide. `remove()` kills what still runs inside, deletes the namespaces (which deletes their veths) and
the bridge; it is safe to call after a partial `create()`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

LOCK = Path("/run/lock/outbound-hostnet.lock")


def _ip(*args: str, netns: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    command = ["ip", *args] if netns is None else ["ip", "netns", "exec", netns, "ip", *args]
    return subprocess.run(command, check=check, capture_output=True, text=True)


def unavailable() -> str | None:
    """Why namespaces cannot be made here (not root, no iproute2, no permission), or None."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add)"
    if shutil.which("ip") is None:
        return "no `ip` (iproute2)"
    probe = f"ob-probe-{os.getpid()}"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"`ip netns add` failed: {made.stderr.strip()}"
    _ip("netns", "del", probe, check=False)
    return None


class HostNetwork:
    def __init__(self, roles: list[str]) -> None:
        pid = os.getpid()
        self.bridge = f"obh{pid}b"
        self.netns = {role: f"ob-{role}-{pid}" for role in roles}
        self.veths = {role: f"obh{pid}v{i}" for i, role in enumerate(roles)}
        self.prefix = ""  # "10.231.N", set by create()
        self.created: list[str] = []

    @property
    def gateway(self) -> str:
        """The host side's address on the bridge: where the shared services listen."""
        return f"{self.prefix}.1"

    def address(self, role: str) -> str:
        return f"{self.prefix}.{11 + list(self.netns).index(role)}"

    def create(self) -> None:
        LOCK.parent.mkdir(parents=True, exist_ok=True)
        with LOCK.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two runs choosing at once would pick the same /24
            used = _ip("-4", "addr").stdout + _ip("-4", "route", "show", "table", "all").stdout
            free = [n for n in range(1, 255) if f"10.231.{n}." not in used]
            assert free, "every 10.231.N.0/24 is in use"
            n = free[os.getpid() % len(free)]
            self.prefix = f"10.231.{n}"
            _ip("link", "add", self.bridge, "type", "bridge")
            self.created.append(self.bridge)
            _ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
        for role, netns in self.netns.items():
            _ip("netns", "add", netns)
            self.created.append(netns)
            veth = self.veths[role]
            _ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
            _ip("link", "set", veth, "master", self.bridge)
            _ip("link", "set", veth, "up")
            _ip("addr", "add", f"{self.address(role)}/24", "dev", "eth0", netns=netns)
            _ip("link", "set", "eth0", "up", netns=netns)
            _ip("link", "set", "lo", "up", netns=netns)

    def routes(self, role: str) -> list[str]:
        return _ip("-4", "route", netns=self.netns[role]).stdout.strip().splitlines()

    def connects(self, role: str, host: str, port: int) -> bool:
        """Whether a TCP connection from inside `role`'s namespace to host:port is accepted (within 2 s)."""
        probe = (
            "import socket,sys\n"
            "try:\n"
            f"    socket.create_connection(({host!r}, {port}), timeout=2).close()\n"
            "except OSError:\n"
            "    sys.exit(1)\n"
        )
        done = subprocess.run(
            ["ip", "netns", "exec", self.netns[role], sys.executable, "-c", probe], capture_output=True, timeout=10
        )
        return done.returncode == 0

    def remove(self) -> None:
        for name in reversed(self.created):
            if name == self.bridge:
                _ip("link", "del", self.bridge, check=False)
                continue
            self._kill_inside(name)
            _ip("netns", "del", name, check=False)  # its veth goes with it, and so does the host side's end
        self.created.clear()
        for veth in self.veths.values():
            _ip("link", "del", veth, check=False)  # only if a create() stopped between the veth and the netns

    @staticmethod
    def _kill_inside(netns: str) -> None:
        """What the test started there and left running (its own processes are killed before this)."""
        pids = _ip("netns", "pids", netns, check=False).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        deadline = time.monotonic() + 5
        while pids and _ip("netns", "pids", netns, check=False).stdout.split() and time.monotonic() < deadline:
            time.sleep(0.05)
