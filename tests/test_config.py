"""Settings that decide what a deployment does on its first start."""

from __future__ import annotations

import pytest

from config import Settings


@pytest.mark.parametrize(
    ("env", "demo"),
    [
        ({}, True),  # the embedded default: `make run` shows the demo
        ({"DATABASE_URL": "sqlite://elsewhere.sqlite3"}, True),
        ({"DATABASE_URL": "postgres://app@db:5432/outbound"}, False),  # a forgotten DEMO=false is harmless
        ({"DATABASE_URL": "postgresql://app@db:5432/outbound"}, False),
        ({"DATABASE_URL": "postgres://app@db:5432/outbound", "DEMO": "true"}, True),  # asked for explicitly
        ({"DEMO": "false"}, False),
    ],
)
def test_the_demo_is_on_for_the_embedded_default_and_asked_for_with_postgres(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], demo: bool
) -> None:
    # given only these variables in the environment
    for name in ("DATABASE_URL", "DEMO"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    # then the demo is seeded only where it belongs
    assert Settings(_env_file=None).demo is demo
