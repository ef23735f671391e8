"""A sample of this process's metrics, as /metrics serves it: prometheus_client's public registry read, so
tests never reach into a metric's private value."""

from __future__ import annotations

from prometheus_client import REGISTRY


def sample(name: str, **labels: str) -> float:
    """The sample's value, 0 before the metric was first touched."""
    return REGISTRY.get_sample_value(name, labels) or 0.0
