"""A token bucket per key, kept in this process's memory (each web process limits on its own:
with N processes a key may reach N times its rate, which the README states)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class Buckets:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._state: dict[str, tuple[float, float]] = {}  # key → (tokens, at)

    def take(self, key: str, rate: float, amount: int) -> float:
        """Take `amount` tokens from `key`'s bucket (refilled at `rate` a second, holding up
        to one second of them, or `amount` if larger); returns 0 when taken, else the seconds
        to wait before retrying."""
        capacity = max(rate, float(amount))
        with self._lock:
            now = self._clock()
            tokens, at = self._state.get(key, (capacity, now))
            tokens = min(capacity, tokens + (now - at) * rate)
            if tokens >= amount:
                self._state[key] = (tokens - amount, now)
                return 0.0
            self._state[key] = (tokens, now)
            return (amount - tokens) / rate if rate > 0 else math.inf
