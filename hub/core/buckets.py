"""Token buckets in process memory, for limits that belong to one socket.

A socket lives on one node, so its limits need no shared store (unlike the REST limits of
``hub/core/ratelimit.py``, which hold across nodes).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBuckets:
    """One bucket per key: ``rate`` tokens a second, holding at most ``burst``.

    Args:
        rate: sustained events per second.
        burst: events allowed at once after a quiet period.
        clock: monotonic seconds; injected in tests.
    """

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("need rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str) -> float:
        """Take one token. Returns 0 when allowed, else the seconds until one is free."""
        now = self._clock()
        tokens, at = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate
        self._buckets[key] = (tokens - 1, now)
        return 0.0

    def forget(self, key: str) -> None:
        """Drop a key's bucket (its socket is gone)."""
        self._buckets.pop(key, None)

    def __len__(self) -> int:
        return len(self._buckets)
