"""Fixed-window rate limiting and failure counting behind one interface.

``MemoryRateLimiter`` serves a single node; ``RedisRateLimiter`` (``hub/core/ratelimit_redis.py``)
makes the same limits cluster-wide. Both pass the same contract tests.

Contract: ``hit(key, limit, window_s)`` counts one event in the current window of ``key``
and says whether it is within ``limit``; ``count`` reads without counting; ``retry_after`` is
the number of seconds until the window that refused the event ends. Windows start at the
first event of a key and last ``window_s``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    count: int
    retry_after: float


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window_s: float) -> Decision: ...

    async def count(self, key: str, window_s: float) -> Decision: ...

    async def reset(self, key: str) -> None: ...


class MemoryRateLimiter:
    """In-process windows, pruned lazily so memory stays bounded by the active keys."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_keys: int = 200_000):
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window end, count)
        self._max_keys = max_keys

    def _current(self, key: str, window_s: float) -> tuple[float, int]:
        now = self._clock()
        entry = self._windows.get(key)
        if entry is None or entry[0] <= now:
            return now + window_s, 0
        return entry

    async def hit(self, key: str, limit: int, window_s: float) -> Decision:
        end, count = self._current(key, window_s)
        count += 1
        if len(self._windows) >= self._max_keys and key not in self._windows:
            self._prune()
        self._windows[key] = (end, count)
        return Decision(count <= limit, count, max(0.0, end - self._clock()))

    async def count(self, key: str, window_s: float) -> Decision:
        end, count = self._current(key, window_s)
        return Decision(True, count, max(0.0, end - self._clock()))

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)

    def _prune(self) -> None:
        now = self._clock()
        for key in [k for k, (end, _) in self._windows.items() if end <= now]:
            del self._windows[key]
