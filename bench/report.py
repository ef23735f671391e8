"""The results table (each figure against its same-run baseline and goal) and the chart."""

from __future__ import annotations

from typing import Any

Row = dict[str, Any]


def _ok(r: Any) -> bool:
    return isinstance(r, dict) and r.get("status") == "ok"


def _status(r: Any) -> str:
    if not isinstance(r, dict):
        return "not run"
    status = r.get("status", "not run")
    return "not available yet" if status == "not available" else status


def _row(
    workload: str,
    figure: str,
    value: Any,
    unit: str = "",
    baseline: str = "",
    baseline_value: Any = None,
    ratio: float | None = None,
    goal: str = "",
    verdict: str = "",
    note: str = "",
    score: float | None = None,
) -> Row:
    return {
        "workload": workload,
        "figure": figure,
        "value": value,
        "unit": unit,
        "baseline": baseline,
        "baseline_value": baseline_value,
        "ratio": None if ratio is None else round(ratio, 2),
        "goal": goal,
        "verdict": verdict,
        "note": note,
        "score": None if score is None else round(score, 2),
    }


def _cpu_note(r: dict[str, Any]) -> str:
    """Who used the CPU: the server near 1.0 core and wrk well below means the server was the bottleneck."""
    parts = []
    if "server_cpu" in r:
        parts.append(f"server {r['server_cpu']} core")
    if "loadgen_cpu" in r:
        parts.append(f"wrk {r['loadgen_cpu']} core")
    if "p50_ms" in r and "rps" in r:
        parts.append(f"p50 {r['p50_ms']} ms")
    return ", ".join(parts)


def _reference(workload: str, r: Any, key: str, unit: str) -> Row:
    if _ok(r):
        return _row(workload, key, r[key], unit, verdict="baseline", note=_cpu_note(r))
    return _row(workload, key, None, unit, verdict=_status(r), note=str(r.get("message", ""))[:120] if r else "")


def _compare(
    workload: str,
    figure: str,
    r: Any,
    key: str,
    unit: str,
    base_name: str,
    base: Any,
    base_key: str,
    *,
    at_least: float | None = None,
    at_most: float | None = None,
) -> Row:
    goal = f">= {at_least:g}x" if at_least is not None else f"<= {at_most:g}x"
    if not _ok(r):
        return _row(
            workload,
            figure,
            None,
            unit,
            base_name,
            None,
            None,
            goal,
            _status(r),
            str((r or {}).get("message", ""))[:120],
        )
    value = r[key]
    if not _ok(base) or not base.get(base_key):
        return _row(
            workload,
            figure,
            value,
            unit,
            base_name,
            None,
            None,
            goal,
            "no baseline",
            str((base or {}).get("message", "baseline not measured"))[:120],
        )
    ratio = value / base[base_key]
    if at_least is not None:
        passed, score = ratio >= at_least, ratio / at_least
    else:
        passed, score = ratio <= at_most, (at_most / ratio if ratio else None)  # type: ignore[operator]
    note = _cpu_note(r)
    if "p50_ms" in r and key != "p50_ms" and "rps" not in r:
        note = f"p50 {r['p50_ms']} ms"
    if "activities_per_s" in r:
        note = f"{r['activities_per_s']} activities/s, {r['leads_due']} leads due" + (
            ", ran out of due leads" if r.get("drained") else ""
        )
        if "stepped_twice" in r:
            # The engine goal has a second half: no lead stepped twice.
            twice = r["stepped_twice"]
            note += ", no lead stepped twice" if twice == 0 else f", {twice} lead steps ran twice"
            passed = passed and twice == 0
    return _row(
        workload, figure, value, unit, base_name, base[base_key], ratio, goal, "pass" if passed else "FAIL", note, score
    )


def rows(results: dict[str, Any]) -> list[Row]:
    """Every figure of a run, as table rows."""
    out: list[Row] = []
    g = results.get
    out.append(_reference("Bare Starlette JSON", g("bare_starlette"), "rps", "req/s"))
    out.append(_reference("Bare Strawberry {__typename}", g("bare_strawberry"), "rps", "req/s"))
    out.append(_reference("PostGraphile audience", g("pgl_audience"), "rps", "req/s"))
    out.append(_reference("PostGraphile activity p1", g("pgl_activity_p1"), "rps", "req/s"))
    out.append(_reference("PostGraphile activity p200", g("pgl_activity_p200"), "rps", "req/s"))
    out.append(_reference("asyncpg engine-step bound (4 clients)", g("engine_bound"), "steps_per_s", "steps/s"))
    for n, r in (g("live_bare") or {}).items():
        row = _reference(f"Bare broadcast, {n} clients", r, "p99_ms", "ms p99")
        if _ok(r):
            row["note"] = f"p50 {r['p50_ms']} ms, {r['kb_per_subscriber']} KB/client (clients offer deflate)"
        out.append(row)
    nd = g("live_bare_no_deflate")
    if nd:
        row = _reference(
            f"Bare broadcast, {nd.get('subscribers', '')} clients, no deflate", nd, "kb_per_subscriber", "KB/client"
        )
        if _ok(nd):
            row["note"] = f"p50 {nd['p50_ms']} ms, p99 {nd['p99_ms']} ms"
        out.append(row)

    reads = [
        ("Overview", "overview", "bare Strawberry", "bare_strawberry", 0.5),
        ("Audience page", "audience", "PostGraphile", "pgl_audience", 1.0),
        ("Activity page 1", "activity_p1", "PostGraphile", "pgl_activity_p1", 1.0),
        ("Activity page 200", "activity_p200", "PostGraphile", "pgl_activity_p200", 1.0),
    ]
    for label, key, base_name, base_key, goal in reads:
        out.append(
            _compare(
                f"{label} (executed)", "req/s", g(key), "rps", "req/s", base_name, g(base_key), "rps", at_least=goal
            )
        )
    out.append(
        _compare(
            "Activity page 200 (executed)",
            "p50 latency",
            g("activity_p200"),
            "p50_ms",
            "ms",
            "Activity p1",
            g("activity_p1"),
            "p50_ms",
            at_most=1.2,
        )
    )
    panel = g("side_panel")
    if _ok(panel):
        value = panel["p99_ms"]
        out.append(
            _row(
                "Lead side panel @100 req/s",
                "p99",
                value,
                "ms",
                "",
                None,
                None,
                "< 20 ms",
                "pass" if value < 20 else "FAIL",
                f"p50 {panel['p50_ms']} ms, achieved {panel['achieved_rps']} req/s",
                20 / value if value else None,
            )
        )
    else:
        out.append(
            _row(
                "Lead side panel @100 req/s",
                "p99",
                None,
                "ms",
                goal="< 20 ms",
                verdict=_status(panel),
                note=str((panel or {}).get("message", ""))[:120],
            )
        )

    scale = g("scale") or {}
    if scale:
        sizes = sorted(scale, key=int)
        small, large = scale[sizes[0]], scale[sizes[-1]]
        for part in ("overview", "audience"):
            label = f"Scale {part} {int(sizes[-1]):,} vs {int(sizes[0]):,} leads"
            out.append(
                _compare(
                    label,
                    "p50 latency",
                    large.get(part),
                    "p50_ms",
                    "ms",
                    f"{int(sizes[0]):,} leads",
                    small.get(part),
                    "p50_ms",
                    at_most=1.5,
                )
            )

    out.append(
        _compare(
            "Engine (2 dramatiq workers)",
            "steps/s",
            g("engine"),
            "steps_per_s",
            "steps/s",
            "asyncpg bound",
            g("engine_bound"),
            "steps_per_s",
            at_least=0.4,
        )
    )

    out.extend(dashboard_rows(g("dashboards")))
    out.extend(executor_rows(g("executor")))
    http = g("executor_http")
    if isinstance(http, dict) and http.get("status") == "ok":
        for doc, d in http["documents"].items():
            core, lean = d["cpu_ms"]["graphql-core"], d["cpu_ms"]["lean (served)"]
            out.append(
                _row(
                    f"Lean executor over HTTP, {doc}",
                    "server CPU/request",
                    lean,
                    "ms",
                    "graphql-core",
                    core,
                    lean / core if core else None,
                    ">= 25% saved",
                    "pass" if d["saving"] >= 0.25 else "FAIL",
                    f"saves {d['saving']:.0%}; wrk on LEAN_EXECUTOR=true and =false servers in turn",
                    d["saving"] / 0.25,
                )
            )
    elif isinstance(http, dict):
        out.append(
            _row(
                "Lean executor over HTTP",
                "server CPU",
                None,
                verdict=_status(http),
                note=str(http.get("message"))[:120],
            )
        )

    live_results = g("live")
    bare = g("live_bare") or {}
    if isinstance(live_results, dict) and "status" in live_results:
        out.append(
            _row(
                "Live campaignStats push",
                "p99",
                None,
                "ms",
                "bare broadcast",
                goal="<= 1.5x",
                verdict=_status(live_results),
                note=str(live_results.get("message", ""))[:120],
            )
        )
    elif isinstance(live_results, dict):
        for n, r in live_results.items():
            out.append(
                _compare(
                    f"Live push, {n} subscribers",
                    "p99",
                    r,
                    "p99_ms",
                    "ms",
                    "bare broadcast",
                    bare.get(n),
                    "p99_ms",
                    at_most=1.5,
                )
            )
            if _ok(r):
                kb = r["kb_per_subscriber"]
                out.append(
                    _row(
                        f"Live memory, {n} subscribers",
                        "per subscriber",
                        kb,
                        "KB",
                        goal="< 30 KB",
                        verdict="pass" if kb < 30 else "FAIL",
                        note=f"bare broadcast {bare.get(n, {}).get('kb_per_subscriber')} KB (clients offer deflate)",
                        score=30 / kb if kb > 0 else None,
                    )
                )
    for key, r in results.items():
        if key.endswith("_failure"):
            out.append(
                _row(
                    key.removesuffix("_failure"), "harness", None, verdict="error", note=str(r.get("message", ""))[:120]
                )
            )
    return out


def executor_rows(r: Any) -> list[Row]:
    """CPU per request of each Campaign View document, served (lean) against graphql-core alone: the lean
    executor stays only while it saves at least 25% (issue 10)."""
    if not isinstance(r, dict):
        return []
    if r.get("status") != "ok":
        return [
            _row("Lean executor vs graphql-core", "CPU", None, verdict=_status(r), note=str(r.get("message"))[:120])
        ]
    core, served = r["variants"][0], r["variants"][-1]
    out = []
    for doc, d in r["documents"].items():
        ms, base, saving = d["cpu_ms_p50"][served], d["cpu_ms_p50"][core], d["saving"][served]
        others = ", ".join(f"{name} {d['saving'][name]:+.0%}" for name in r["variants"][1:-1])
        out.append(
            _row(
                f"Lean executor, {doc}",
                "CPU/request p50",
                ms,
                "ms",
                core,
                base,
                ms / base if base else None,
                ">= 25% saved",
                "pass" if saving >= 0.25 else "FAIL",
                f"saves {saving:.0%}; each piece alone: {others}; {r['iterations']} runs each, in process",
                saving / 0.25,
            )
        )
    return out


def dashboard_rows(r: Any) -> list[Row]:
    """Dashboards polling a campaign's Overview and Audience page: idle, then while the engine runs it.

    No goal: the figure to read is the latency under load beside the idle one, same server, same run.
    """
    if not isinstance(r, dict) or r.get("status") != "ok":
        note = str((r or {}).get("message", ""))[:120] if isinstance(r, dict) else ""
        return [_row("Dashboards polling (Overview + Audience)", "p99", None, "ms", verdict=_status(r), note=note)]
    out = []
    for doc, label in (("overview", "Overview"), ("audience", "Audience page")):
        idle, busy = r["idle"][doc], r["engine"][doc]
        for pct in ("p50_ms", "p99_ms"):
            ratio = busy[pct] / idle[pct] if idle[pct] else None
            note = f"{r['dashboards']} dashboards every {r['interval_s']:g} s, achieved {busy['achieved_rps']} req/s"
            if pct == "p99_ms":
                note += f"; engine {r['engine_steps_per_s']} steps/s meanwhile"
                if r.get("engine_drained"):
                    note += " (ran out of due leads)"
            out.append(
                _row(
                    f"{label}, polled while the engine runs the campaign",
                    pct.removesuffix("_ms"),
                    busy[pct],
                    "ms",
                    "idle",
                    idle[pct],
                    ratio,
                    verdict="measured",
                    note=note,
                )
            )
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown_table(table: list[Row]) -> str:
    head = "| workload | figure | value | baseline | ratio | goal | verdict | note |"
    lines = [head, "|---|---|---:|---|---:|---|---|---|"]
    for r in table:
        value = f"{_fmt(r['value'])} {r['unit']}".strip() if r["value"] is not None else "-"
        base = f"{r['baseline']} {_fmt(r['baseline_value'])}".strip() if r["baseline"] else ""
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] is not None else "-"
        lines.append(
            f"| {r['workload']} | {r['figure']} | {value} | {base} | {ratio} | {r['goal']} | "
            f"{r['verdict']} | {r['note']} |"
        )
    return "\n".join(lines)


def chart(table: list[Row], results: dict[str, Any], path: str, *, title: str) -> bool:
    """Two panels: throughput next to the baselines, and each goal's score (>= 1 meets it). False: no matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (left, right) = plt.subplots(1, 2, figsize=(16, 8), gridspec_kw={"width_ratios": [1, 1.2]})
    ours, peer, bare = "#1f77b4", "#ff7f0e", "#999999"
    pairs = [
        ("bare Starlette", "bare_starlette", bare),
        ("bare Strawberry", "bare_strawberry", bare),
        ("Overview", "overview", ours),
        ("Audience", "audience", ours),
        ("PostGraphile audience", "pgl_audience", peer),
        ("Activity p1", "activity_p1", ours),
        ("PostGraphile p1", "pgl_activity_p1", peer),
        ("Activity p200", "activity_p200", ours),
        ("PostGraphile p200", "pgl_activity_p200", peer),
    ]
    pairs = [p for p in pairs if p[1] in results]
    labels, values, colors = [], [], []
    for label, key, color in pairs:
        r = results.get(key)
        labels.append(label if _ok(r) else f"{label} ({_status(r)})")
        values.append(r["rps"] if _ok(r) else 0)
        colors.append(color)
    left.barh(labels[::-1], values[::-1], color=colors[::-1])
    for y, v in enumerate(values[::-1]):
        if v:
            left.text(v, y, f" {v:,.0f}", va="center", fontsize=8)
    if any(values):
        left.set_xscale("log")
    left.set_xlabel("req/s, log scale (wrk, 32 connections, one server process)")
    left.set_title("Throughput: Outbound (blue), peers (orange), bare frameworks (grey)")

    goal_rows = [r for r in table if r["goal"]]
    names = [f"{r['workload']} ({r['figure']})" for r in goal_rows]
    scores = [r["score"] if r["score"] is not None else 0 for r in goal_rows]
    bar_colors = [
        "#2ca02c" if r["verdict"] == "pass" else "#d62728" if r["verdict"] == "FAIL" else "#bbbbbb" for r in goal_rows
    ]
    right.barh(names[::-1], scores[::-1], color=bar_colors[::-1])
    right.axvline(1.0, color="black", linestyle="--", linewidth=1)
    for y, r in enumerate(goal_rows[::-1]):
        if r["value"] is None:
            text = f" {r['verdict']}"
        elif r["goal"].endswith("x"):
            text = f" {r['ratio']:.2f}x (goal {r['goal']})" if r["ratio"] is not None else f" {r['verdict']}"
        else:
            text = f" {_fmt(r['value'])} {r['unit']} (goal {r['goal']})"
        right.text(max(r["score"] or 0, 0), y, text, va="center", fontsize=8)
    right.set_xlabel("score: how many times the goal is met (>= 1 passes; grey = error / not available)")
    right.set_title("Goals, each against its same-run baseline")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True
