"""Private PostgreSQL and Redis servers for the fault tests: started by the test on free ports, in its tmp
directory, never the shared ones (so they can be restarted). Both run without durability (`fsync=off`,
no RDB/AOF): a restart keeps PostgreSQL's data (a clean shutdown flushes it) and empties Redis, the
harsher case for the broker."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg

from tests.processes import free_port


def _as_postgres(command: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root (CI runs as root): run them as the `postgres` user."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PrivatePostgres:
    """`host`: the one address it listens on (tests/test_hosts.py: the bridge's, reached from namespaces;
    `trust` is extended to that address's /24)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        bindir = pg_bin()
        assert bindir is not None, "no initdb: install PostgreSQL's server binaries"
        self.bin = bindir
        # Not under pytest's tmp (mode 0700, root's): the postgres user must reach it.
        self.root = Path(tempfile.mkdtemp(prefix="outbound-faults-pg-"))
        self.dir = self.root / "pgdata"
        self.host = host
        self.port = free_port()
        self.url = f"postgres://postgres@{host}:{self.port}/outbound"
        self.proc: subprocess.Popen[bytes] | None = None
        self.dir.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.dir, "postgres")
        subprocess.run(
            _as_postgres(
                [str(self.bin / "initdb"), "-D", str(self.dir), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
            ),
            check=True,
            capture_output=True,
        )
        if host != "127.0.0.1":
            subnet = host.rsplit(".", 1)[0] + ".0/24"
            with (self.dir / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {subnet} trust\n")

    def start(self) -> None:
        log = (self.root / "postgres.log").open("ab")
        self.proc = subprocess.Popen(
            _as_postgres(
                [
                    str(self.bin / "postgres"),
                    "-D",
                    str(self.dir),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.dir),
                    "-c",
                    f"listen_addresses={self.host}",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                ]
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while (
            subprocess.run(
                [str(self.bin / "pg_isready"), "-h", self.host, "-p", str(self.port)], capture_output=True
            ).returncode
            != 0
        ):
            assert self.proc.poll() is None, "postgres exited: see postgres.log"
            assert time.monotonic() < deadline, "postgres did not start"
            time.sleep(0.1)

    async def create_database(self) -> None:
        conn = await asyncpg.connect(f"postgres://postgres@{self.host}:{self.port}/postgres")
        try:
            await conn.execute("CREATE DATABASE outbound")
        finally:
            await conn.close()

    def stop(self) -> None:
        """A fast shutdown (SIGINT to the postmaster): clients are disconnected, committed data stays."""
        if self.proc is not None and self.proc.poll() is None:
            # To the postmaster itself (its pid is postmaster.pid's first line), not to runuser.
            pid = int((self.dir / "postmaster.pid").read_text().split()[0])
            os.kill(pid, signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def restart(self, down_for: float) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class PrivateRedis:
    def __init__(self, tmp: Path, host: str = "127.0.0.1") -> None:
        self.dir = tmp / "redis"
        self.dir.mkdir()
        self.host = host
        self.port = free_port()
        self.url = f"redis://{host}:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.dir / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                self.host,
                # Off: without a password, protected mode refuses every client that is not on loopback.
                "--protected-mode",
                "no",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError):
                import socket

                with socket.create_connection((self.host, self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            assert time.monotonic() < deadline, "redis did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # a crash: what was queued in memory is gone
            self.proc.wait()
        self.proc = None

    def restart(self, down_for: float) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()
