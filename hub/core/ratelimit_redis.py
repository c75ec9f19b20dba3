"""Cluster-wide fixed windows in Redis: INCR plus a PEXPIRE set on the first hit."""

from __future__ import annotations

from typing import Any

from hub.core.ratelimit import Decision

_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
return {n, ttl}
"""


class RedisRateLimiter:
    """Same contract as MemoryRateLimiter; keys live under ``prefix``."""

    def __init__(self, redis: Any, prefix: str = "th:rl:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._hit = redis.register_script(_HIT)

    async def hit(self, key: str, limit: int, window_s: float) -> Decision:
        count, ttl_ms = await self._hit(keys=[self._prefix + key], args=[int(window_s * 1000)])
        return Decision(int(count) <= limit, int(count), max(0, int(ttl_ms)) / 1000)

    async def count(self, key: str, window_s: float) -> Decision:
        pipe = self._redis.pipeline(transaction=False)
        pipe.get(self._prefix + key)
        pipe.pttl(self._prefix + key)
        raw, ttl_ms = await pipe.execute()
        return Decision(True, int(raw or 0), max(0, int(ttl_ms)) / 1000)

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)
