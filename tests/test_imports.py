"""Every module of the project imports on its own, first, in a fresh interpreter.

An import cycle hides as long as something else happens to import its modules in a working order (the
server, a test that imported them before); the first user who imports one of them alone gets an
ImportError from a partially initialized module. So each module here is the first module of the project
that its own process imports. The layer contracts (`lint-imports`, pyproject.toml) say which way imports
may point; this says that what exists really imports.

Fast, because starting ~100 interpreters that each load Strawberry, Tortoise and Dramatiq again takes
minutes: one new interpreter (a subprocess, nothing of ours loaded) first imports only the third-party
libraries the project uses, then forks one process per module. Each fork starts with no module of the
project loaded, so each module is still the first of ours imported there.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SINGLE_MODULES = ["server", "server_http", "server_limits", "config", "compat", "export", "logs", "ops", "tracking"]


def project_modules() -> list[str]:
    """Every .py file of every top-level package (a directory with an __init__.py), plus the single modules."""
    modules = list(SINGLE_MODULES)
    for package in sorted(p.parent for p in ROOT.glob("*/__init__.py")):
        if package.name == "tests":
            continue
        for path in sorted(package.rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


def _is_ours(name: str, tops: set[str]) -> bool:
    return name.split(".")[0] in tops


def _import(module: str) -> str | None:
    """In a forked process: None if `module` imports, else its error's last line."""
    try:
        importlib.import_module(module)
    except BaseException:  # SystemExit too: a module must not exit on import
        return f"{module}: {traceback.format_exc().strip().splitlines()[-1]}"
    return None


def _third_party_after_importing(modules: list[str]) -> str:
    """In a forked process: import everything, and say which other libraries that loaded."""
    for module in modules:
        _import(module)
    tops = {m.split(".")[0] for m in modules}
    return "\n".join(sorted(name for name in sys.modules if not _is_ours(name, tops) and name != "__main__"))


def _in_forks(work: Callable[[str], str | None], items: list[Any], jobs: int) -> list[str]:
    """`work(item)` for each item, each in a process forked from this one, `jobs` at a time: their answers."""
    answers: list[str] = []
    running: dict[int, tuple[Any, int]] = {}
    waiting = list(items)
    while waiting or running:
        while waiting and len(running) < jobs:
            item = waiting.pop(0)
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # the fork: answer through the pipe, then leave without the parent's cleanup
                os.close(read)
                answer = work(item) or ""
                with os.fdopen(write, "w") as pipe:
                    pipe.write(answer)
                os._exit(0)
            os.close(write)
            running[pid] = (item, read)
        pid, status = os.wait()
        item, read = running.pop(pid)
        with os.fdopen(read) as pipe:
            answer = pipe.read()
        if status != 0 and not answer:
            answer = f"{item}: its process ended with status {status}"
        if answer:
            answers.append(answer)
    return answers


def run(modules: list[str]) -> list[str]:
    """Import each module first in a process of its own; return the failures. Runs in a fresh interpreter."""
    tops = {m.split(".")[0] for m in modules}
    assert not any(_is_ours(name, tops) for name in sys.modules), "this interpreter must hold nothing of ours"
    libraries = _in_forks(_third_party_after_importing, [modules], 1)
    for name in "\n".join(libraries).split():
        try:
            importlib.import_module(name)
        except BaseException:  # an optional part of a library: the fork imports it, or fails, itself
            continue
    assert not any(_is_ours(name, tops) for name in sys.modules), "a library imported a module of ours"
    return _in_forks(_import, modules, max(2, os.cpu_count() or 2))


def test_the_project_has_the_modules_we_expect() -> None:
    modules = project_modules()
    assert {"server", "config", "schema", "schema.types", "resolvers.campaign", "domain.tx", "tasks"} <= set(modules)
    assert not any(m.startswith("tests") for m in modules)


def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    code = "import json, sys; from tests.test_imports import run; print(json.dumps(run(sys.argv[1:])))"
    done = subprocess.run(
        [sys.executable, "-c", code, *project_modules()],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    failures = json.loads(done.stdout.strip().splitlines()[-1])
    assert not failures, "modules that do not import on their own:\n" + "\n".join(failures)
