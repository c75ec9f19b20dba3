"""Presence of every node's sockets in Redis (the ``hub.realtime.presence.Presence`` contract).

One hash per user, field ``sid`` -> ``"node|lease_ms"``, where the lease is a Redis server
time in milliseconds. A socket counts while its lease is in the future. Each node renews the
leases of its own sockets every ``ttl_s / 3``, so the sockets of a node that dies without
cleaning up stop counting within ``ttl_s``, and a Redis that lost its data (restart) gets
them back at the next renewal. Every command touches one key, so it works on Redis Cluster;
times come from the Redis server, so node clocks do not matter. All nodes must use the same
``ttl_s`` (a write sets the hash's expiry to its own lease).

While Redis is unreachable, nothing raises: ``connect`` and ``disconnect`` log, keep this
node's record and return False (no online/offline transition is announced), and
``online_among`` answers from this node's own sockets (a user connected elsewhere then counts
as offline, so the offline path may notify someone who is online: a duplicate push rather
than a missing one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Iterable
from typing import Any

from redis.exceptions import RedisError

from hub.core.cancellation import raise_if_cancelled

log = logging.getLogger(__name__)

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function lease(entry) return tonumber(string.match(entry, '|(%d+)$')) or 0 end
"""

# KEYS[1] user hash; ARGV sid, node, ttl_ms -> 1 when the user was offline before
_CONNECT = (
    _NOW
    + """
local others, mine = 0, false
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  if lease(entries[i + 1]) <= now then
    redis.call('HDEL', KEYS[1], entries[i])
  elseif entries[i] == ARGV[1] then
    mine = true
  else
    others = others + 1
  end
end
local ttl = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. string.format('%d', now + ttl))
redis.call('PEXPIRE', KEYS[1], ttl)
if others == 0 and not mine then return 1 end
return 0
"""
)

# KEYS[1] user hash; ARGV sid -> 1 when that was the user's last live socket
_DISCONNECT = (
    _NOW
    + """
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
if lease(entry) <= now then return 0 end
local entries = redis.call('HGETALL', KEYS[1])
for i = 2, #entries, 2 do
  if lease(entries[i]) > now then return 0 end
end
return 1
"""
)


class RedisPresence:
    """Who is online, across nodes.

    Args:
        redis: ``redis.asyncio.Redis`` or ``RedisCluster``.
        node_id: this process's id (random by default).
        prefix: key prefix.
        ttl_s: lease of a socket entry; renewed every ``ttl_s / 3``.
    """

    def __init__(
        self,
        redis: Any,
        node_id: str | None = None,
        prefix: str = "th:presence:",
        ttl_s: float = 30.0,
    ) -> None:
        self._redis = redis
        self.node_id = node_id or secrets.token_hex(4)
        self._prefix = prefix
        self._ttl_ms = int(ttl_s * 1000)
        self._connect = redis.register_script(_CONNECT)
        self._disconnect = redis.register_script(_DISCONNECT)
        self._local: dict[str, str] = {}  # sid -> user of this node's sockets (renewal only)
        self._task: asyncio.Task[None] | None = None

    def _key(self, user_id: str) -> str:
        return f"{self._prefix}{user_id}"

    async def connect(self, user_id: str, sid: str) -> bool:
        self._local[sid] = user_id
        try:
            went_online = await self._connect(
                keys=[self._key(user_id)], args=[sid, self.node_id, self._ttl_ms]
            )
        except RedisError as exc:
            log.warning("presence connect not recorded", extra={"error": repr(exc)})
            return False
        return bool(went_online)

    async def disconnect(self, user_id: str, sid: str) -> bool:
        if self._local.get(sid) == user_id:
            del self._local[sid]
        try:
            return bool(await self._disconnect(keys=[self._key(user_id)], args=[sid]))
        except RedisError as exc:
            log.warning("presence disconnect not recorded", extra={"error": repr(exc)})
            return False

    async def online_among(self, user_ids: Iterable[str]) -> set[str]:
        users = list(dict.fromkeys(user_ids))
        if not users:
            return set()
        try:
            seconds, micros = await self._redis.time()
            pipe = self._redis.pipeline(transaction=False)
            for user in users:
                pipe.hvals(self._key(user))
            results = await pipe.execute()
        except RedisError as exc:
            log.warning(
                "presence from this node only: Redis unreachable", extra={"error": repr(exc)}
            )
            here = set(self._local.values())
            return {user for user in users if user in here}
        now = seconds * 1000 + micros // 1000
        return {
            user
            for user, leases in zip(users, results, strict=True)
            if any(_lease(value) > now for value in leases)
        }

    async def renew(self) -> None:
        """Renew the leases of this node's sockets (re-creating them if Redis lost them)."""
        if not self._local:
            return
        seconds, micros = await self._redis.time()
        lease = f"{self.node_id}|{seconds * 1000 + micros // 1000 + self._ttl_ms}"
        pipe = self._redis.pipeline(transaction=False)
        for sid, user in list(self._local.items()):
            pipe.hset(self._key(user), sid, lease)
            pipe.pexpire(self._key(user), self._ttl_ms)
        await pipe.execute()

    async def start(self) -> None:
        """Start renewing this node's leases every ``ttl_s / 3``."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._renew_forever())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self._ttl_ms / 3000)
            try:
                await self.renew()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: the next round tries again
                log.warning("presence renewal failed", extra={"error": repr(exc)})
            raise_if_cancelled()  # close() must end this loop even mid-command


def _lease(value: bytes | str) -> int:
    text = value.decode() if isinstance(value, bytes) else value
    _, _, lease = text.rpartition("|")
    return int(lease) if lease.isdigit() else 0
