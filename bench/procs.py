"""Child processes of the harness (servers, node, workers): started in their own process group, always
stopped (SIGTERM, then SIGKILL) — also when the harness fails or is interrupted."""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "bench" / ".work"
LOGS = WORK / "logs"
PYTHON = str(ROOT / ".venv" / "bin" / "python")

_running: list[Proc] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    """One child process, its log file, and its resource use (from /proc)."""

    def __init__(self, name: str, cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path = ROOT) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.log_path = LOGS / f"{name}.log"
        self._log = open(self.log_path, "wb")
        full_env = {**os.environ, **(env or {})}
        self.popen = subprocess.Popen(
            cmd, env=full_env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.pid = self.popen.pid
        _running.append(self)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_http(self, url: str, timeout: float = 60.0) -> None:
        """Until `url` answers (any status), or fail with the tail of the log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}: {self.tail()}")
            try:
                httpx.get(url, timeout=1.0)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout}s: {self.tail()}")

    def tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def rss_bytes(self) -> int:
        """Resident memory of the process (not its children)."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def cpu_seconds(self) -> float:
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return 0.0

    def stop(self, timeout: float = 10.0) -> None:
        if self.alive():
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait(5)
        else:
            # The leader is gone; make sure nothing of its group is left (workers it forked).
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self._log.close()
        if self in _running:
            _running.remove(self)

    def __enter__(self) -> Proc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_all() -> None:
    for proc in list(reversed(_running)):
        try:
            proc.stop(timeout=5)
        except Exception:
            pass


def _on_signal(signum: int, frame: object) -> None:
    stop_all()
    raise SystemExit(128 + signum)


def install_cleanup() -> None:
    """Stop every child on exit, Ctrl-C or SIGTERM."""
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)


def uvicorn_app(name: str, app: str, port: int, *, factory: bool = False, env: dict[str, str] | None = None) -> Proc:
    """One uvicorn worker serving `app` with the same server settings as server.py (uvloop, httptools)."""
    cmd = [
        PYTHON,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--log-level",
        "warning",
        "--ws",
        "websockets-sansio",
        # Same websocket settings as server.py, so the broadcast baseline is like for like.
        "--ws-per-message-deflate",
        "false",
    ]
    if factory:
        cmd.append("--factory")
    return Proc(name, cmd, env=env)
