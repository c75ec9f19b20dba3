"""How many sockets are open across the nodes (GET /admin/stats), without scanning presence.

Contract (both implementations): ``total()`` counts this node's sockets as they are now plus
every other live node's last report; a node reports its count every ``interval_s`` and a
report older than ``ttl_s`` no longer counts (a node that died stops counting within
``ttl_s``); ``total()`` never raises because Redis is away (it answers this node's count).
``MemorySocketCount`` is one node: its own sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

from redis.exceptions import RedisError

from hub.core.cancellation import raise_if_cancelled

log = logging.getLogger(__name__)

LocalCount = Callable[[], int]


class SocketCount(Protocol):
    async def total(self) -> int: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class MemorySocketCount:
    def __init__(self, local: LocalCount) -> None:
        self._local = local

    @classmethod
    def of(cls, local: LocalCount, scope: str) -> MemorySocketCount:
        """The factory ``api.backends`` hands out (one node: ``scope`` does not matter)."""
        return cls(local)

    async def total(self) -> int:
        return self._local()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


# KEYS[1] the hash; ARGV node, count, ttl_ms -> sets node's "count|expires_ms" (server time)
_REPORT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. string.format('%d', now + tonumber(ARGV[3])))
return 1
"""

# KEYS[1] the hash; ARGV this node -> sum of the other live nodes' counts (drops stale ones)
_SUM_OTHERS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local entries = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #entries, 2 do
  local count, expires = string.match(entries[i + 1], '^(%d+)|(%d+)$')
  if not expires or tonumber(expires) <= now then
    redis.call('HDEL', KEYS[1], entries[i])
  elseif entries[i] ~= ARGV[1] then
    total = total + tonumber(count)
  end
end
return total
"""


class RedisSocketCount:
    """Each node's socket count in one Redis hash (one key: fine on Redis Cluster).

    Args:
        redis: the shared client.
        node_id: this node.
        local: this node's open sockets now.
        key: the hash.
        interval_s: how often this node reports.
        ttl_s: how long a report counts.
    """

    def __init__(
        self,
        redis: Any,
        node_id: str,
        local: LocalCount,
        key: str = "tradeshub:sockets",
        interval_s: float = 5.0,
        ttl_s: float = 15.0,
    ) -> None:
        self._redis = redis
        self._node_id = node_id
        self._local = local
        self._key = key
        self.interval_s = interval_s
        self._ttl_ms = int(ttl_s * 1000)
        self._task: asyncio.Task[None] | None = None

    async def total(self) -> int:
        local = self._local()
        try:
            others = await self._redis.eval(_SUM_OTHERS, 1, self._key, self._node_id)
        except (RedisError, OSError) as exc:
            log.warning("socket count: Redis unavailable", extra={"error": repr(exc)})
            return local
        return local + int(others)

    async def report(self) -> None:
        await self._redis.eval(_REPORT, 1, self._key, self._node_id, self._local(), self._ttl_ms)

    async def _run(self) -> None:
        while True:
            try:
                await self.report()
            except (RedisError, OSError) as exc:
                log.warning("socket count report failed", extra={"error": repr(exc)})
            raise_if_cancelled()  # close() must end this loop even mid-command
            await asyncio.sleep(self.interval_s)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="socket-count")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(RedisError, OSError):
            await self._redis.hdel(self._key, self._node_id)
