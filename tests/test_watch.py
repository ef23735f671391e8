"""The terminal watcher's own words: what its numbers mean and where it connects by default."""

from __future__ import annotations

import pytest

from live import watch

SNAPSHOT = {
    "version": 42,
    "allChannels": {"totalContacts": 200, "started": 120, "contacted": 64, "replied": 12, "positive": 9},
    "linkedin": {"engaged": 100, "invited": 90, "accepted": 40, "contacted": 30, "replied": 8, "positive": 6},
    "email": {"sent": 50, "clicked": 5, "replied": 4, "positive": 3, "bounced": 2},
    "tasks": {"pending": 10, "completed": 3},
    "statuses": [{"status": "IN_PROGRESS", "count": 80}, {"status": "PAUSED", "count": 0}],
}


def test_a_stats_line_labels_every_number() -> None:
    line = watch.format_stats(SNAPSHOT)

    # then positives and tasks say what they count (not "(+9)" and "tasks 10/3")
    assert "replied 12 (9 positive)" in line
    assert "tasks pending 10 completed 3" in line
    assert "in_progress=80" in line and "paused" not in line


def test_the_url_defaults_to_the_servers_port_and_help_explains_the_output(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a server started with PORT=9123 (and the watcher run in the same environment)
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.setenv("HOST", "0.0.0.0")

    # then the watcher connects there without --url, and --help documents --url and the output's numbers
    assert watch.build_parser().parse_args(["Q2FtcGFpZ246MQ=="]).url == "ws://127.0.0.1:9123/graphql"
    with pytest.raises(SystemExit):
        watch.build_parser().parse_args(["--help"])
    text = capsys.readouterr().out
    assert "ws://127.0.0.1:9123/graphql" in text and "HOST and PORT" in text
    assert "9 of them positively" in text and "manual tasks" in text
