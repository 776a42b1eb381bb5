"""Latency figures the benchmarks print: a nearest-rank percentile and the p50/p95/max summary."""

from __future__ import annotations


def percentile(samples: list[float], q: float) -> float:
    """The sample at rank q (0 to 1) of the sorted samples, nearest rank."""
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))]


def summary(samples: list[float], digits: int = 1) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(samples, 0.5), digits),
        "p95_ms": round(percentile(samples, 0.95), digits),
        "max_ms": round(max(samples), digits),
    }
