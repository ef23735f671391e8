"""Requests and their latency by GraphQL operation, for /metrics (metrics.py serves them).

A schema extension, not an HTTP middleware: the operation's name and type are known only once Strawberry
has parsed the document, and websocket operations pass through here too. It wraps the operation only,
never a resolver, so the lean executor still takes the queries it can (schema/fastpath.py).

Label cardinality is bounded: a name that is not a plain GraphQL name is counted as "invalid", one never
given as "anonymous", and once a process has seen MAX_NAMES distinct names every new one is "other".
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

from prometheus_client import Counter, Histogram
from strawberry.extensions import SchemaExtension

#: Distinct operation names one process labels; later ones are counted as "other".
MAX_NAMES = 200
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

REQUESTS = Counter(
    "outbound_graphql_operations",
    "GraphQL operations by name, type (query, mutation, subscription, unknown) and outcome (ok, error).",
    ["operation", "type", "outcome"],
)
LATENCY = Histogram(
    "outbound_graphql_operation_seconds",
    "Time from the start of parsing to the result, by operation name and type (a subscription: until its"
    " stream starts).",
    ["operation", "type"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

_seen: set[str] = set()


def operation_label(name: str | None) -> str:
    """The label an operation name is counted under (bounded: see the module docstring)."""
    if not name:
        return "anonymous"
    if not _NAME.fullmatch(name):
        return "invalid"
    if name not in _seen:
        if len(_seen) >= MAX_NAMES:
            return "other"
        _seen.add(name)
    return name


class OperationMetrics(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        context = self.execution_context
        try:
            kind = context.operation_type.value
        except Exception:  # the document did not parse, or names no such operation
            kind = "unknown"
        name = operation_label(context.operation_name)
        result = context.result
        failed = bool(context.pre_execution_errors) or bool(getattr(result, "errors", None))
        REQUESTS.labels(name, kind, "error" if failed else "ok").inc()
        LATENCY.labels(name, kind).observe(time.perf_counter() - started)
