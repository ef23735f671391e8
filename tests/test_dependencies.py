"""Every library the code imports is declared in pyproject.toml, and the lock files pin what it declares.

A library that arrives only as another one's dependency (graphql-core under Strawberry) can vanish or jump
a major version when that one changes; so each import names a declared distribution: the packages' imports
in `dependencies`, the tests' also in the `dev` extra, the bench's also in `bench`. `make` installs from
requirements.lock (requirements-bench.lock for the bench), so each declared range must hold a pinned
version there: a change to pyproject.toml without `make lock` fails here, not on someone's machine.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
RUNTIME = [Requirement(r) for r in PROJECT["dependencies"]]
EXTRAS = {name: [Requirement(r) for r in reqs] for name, reqs in PROJECT["optional-dependencies"].items()}
#: Where code lives that `make` never installs from the index, and the lists each area may import from.
#: web/ is served as files; its only Python is the screenshot script (`make screenshots`), a developer tool.
AREAS = {"tests": ("dev",), "bench": ("dev", "bench"), "web": ("dev",)}
_NOT_SOURCE = {"build", "node_modules", "__pycache__"}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def sources() -> list[Path]:
    return [
        path
        for path in REPO.rglob("*.py")
        if not any(part.startswith(".") or part in _NOT_SOURCE for part in path.relative_to(REPO).parts[:-1])
    ]


def first_party() -> set[str]:
    return {path.relative_to(REPO).parts[0].removesuffix(".py") for path in sources()}


def imported(path: Path) -> set[str]:
    """Top-level names of the absolute imports in a file, wherever they stand (functions, TYPE_CHECKING)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def declared(area: str) -> set[str]:
    requirements = RUNTIME + [r for extra in AREAS.get(area, ()) for r in EXTRAS[extra]]
    return {canonicalize_name(r.name) for r in requirements}


@cache
def installed() -> dict[str, list[str]]:
    return packages_distributions()


def distributions_of(module: str) -> set[str]:
    # An import that is not installed here (matplotlib without the bench extra) is taken at its own name.
    return {canonicalize_name(d) for d in installed().get(module, [module])}


def test_every_import_is_declared() -> None:
    ours = first_party() | set(sys.stdlib_module_names)
    undeclared = []
    for path in sorted(sources()):
        area = path.relative_to(REPO).parts[0]
        allowed = declared(area)
        for module in sorted(imported(path) - ours):
            if not distributions_of(module) & allowed:
                undeclared.append(f"{path.relative_to(REPO)}: {module} ({'/'.join(sorted(distributions_of(module)))})")
    assert not undeclared, "imported but not declared in pyproject.toml:\n  " + "\n  ".join(undeclared)


def pins(lock: Path) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for line in lock.read_text().splitlines():
        match = _PIN.match(line)
        if match:
            found.setdefault(canonicalize_name(match[1]), set()).add(match[2])
    return found


@pytest.mark.parametrize(
    ("lock", "extras"), [("requirements.lock", ("dev",)), ("requirements-bench.lock", ("dev", "bench"))]
)
def test_the_lock_pins_what_pyproject_declares(lock: str, extras: tuple[str, ...]) -> None:
    pinned = pins(REPO / lock)
    stale = []
    for requirement in RUNTIME + [r for extra in extras for r in EXTRAS[extra]]:
        versions = pinned.get(canonicalize_name(requirement.name), set())
        if not any(requirement.specifier.contains(v, prereleases=True) for v in versions):
            stale.append(f"{requirement} (pinned: {', '.join(sorted(versions)) or 'nothing'})")
    assert not stale, f"{lock} does not satisfy pyproject.toml: run `make lock`\n  " + "\n  ".join(stale)


def test_the_bench_lock_keeps_the_main_locks_versions() -> None:
    main, bench = pins(REPO / "requirements.lock"), pins(REPO / "requirements-bench.lock")
    differ = {name: (versions, bench.get(name)) for name, versions in main.items() if bench.get(name) != versions}
    assert not differ, f"the two locks disagree (run `make lock`): {differ}"
