"""Outbound's processes started for real by a test: the API (uvicorn), `python -m tasks.scheduler`,
`dramatiq tasks`. Each gets its own process group (as a service manager would start it), so a test can
signal the whole group, and its output goes to a log file under the test's tmp directory."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import Backend

ROOT = Path(__file__).resolve().parent.parent
DRAMATIQ = str(ROOT / ".venv" / "bin" / "dramatiq")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Process:
    """`netns`: run it inside that network namespace (`ip netns exec` execs the command, so the pid is the
    command's own): tests/test_hosts.py's hosts."""

    def __init__(self, backend: Backend, name: str, command: list[str], netns: str | None = None, **env: str) -> None:
        self.name = name
        self.log_path = backend.tmp / f"{name}-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("wb")
        if netns is not None:
            command = ["ip", "netns", "exec", netns, *command]
        self.proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**backend.env(), **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def signal_group(self, sig: int = signal.SIGTERM) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def group_alive(self) -> bool:
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return False
        return True

    async def wait(self, seconds: float) -> int:
        """The exit code, or AssertionError if it is still running after `seconds`."""
        try:
            return await asyncio.to_thread(self.proc.wait, seconds)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} still running after {seconds}s; log:\n{self.output()[-3000:]}") from None

    def kill(self) -> None:
        """The end of a test: whatever of the group is left goes."""
        self.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)
        self._log.close()


class Api(Process):
    """`host`/`netns`: listen on that address inside that namespace (any port is free in a fresh one)."""

    def __init__(
        self, backend: Backend, workers: int = 1, host: str = "127.0.0.1", netns: str | None = None, **env: str
    ) -> None:
        self.port = free_port() if netns is None else 8000
        self.base = f"http://{host}:{self.port}"
        self.ws_url = f"ws://{host}:{self.port}/graphql"
        env = {"SCHEDULER": "false", "HOST": host, "PORT": str(self.port), "LOG_LEVEL": "WARNING"} | env
        command = [sys.executable, "server.py", "serve", "--workers", str(workers)]
        super().__init__(backend, f"api-{netns or self.port}", command, netns, **env)

    async def ready(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        async with httpx.AsyncClient() as http:
            while time.monotonic() < deadline:
                assert self.proc.poll() is None, f"API exited: {self.output()[-3000:]}"
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(self.base + "/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise AssertionError(f"API did not start: {self.output()[-3000:]}")


def scheduler(backend: Backend, netns: str | None = None, **env: str) -> Process:
    return Process(backend, "scheduler", [sys.executable, "-m", "tasks.scheduler"], netns, **env)


def worker(backend: Backend, name: str = "worker", threads: int = 2, netns: str | None = None, **env: str) -> Process:
    command = [DRAMATIQ, "tasks", "--processes", "1", "--threads", str(threads)]
    return Process(backend, name, command, netns, **env)
