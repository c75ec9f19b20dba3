"""The live state shared by several nodes in Redis (the ``LiveState`` contract of
``hub.tracking.live_state``).

Keys (``prefix`` then the ``{live}`` hash tag, so that on Redis Cluster they share one slot
and one script may write them together; the GEO set is a single key anyway):

- ``{prefix}{live}:p:<contractor>``: a hash, ``t`` the point's device ``ts`` and ``p`` the
  msgpack-encoded :class:`~hub.tracking.live_state.LivePoint`, expiring ``keep_s`` after its
  last write.
- ``{prefix}{live}:geo``: GEO set of each contractor's latest point, for ``near``.
- ``{prefix}{live}:seen``: sorted set contractor -> ``received_at`` (server clock), which tells
  fresh members of the GEO set from stale ones and which ones ``sweep`` drops.

``put`` stays on the hot path's terms (synchronous, O(1), no I/O): it updates this node's copy
and marks the contractor dirty. A writer task sends the dirty contractors' points every
``flush_interval_s`` in one round trip per batch (a Lua script), which stores each point only
if its ``ts`` is newer than the stored one: latest wins by device time across nodes too.

Bounds. ``latest`` and ``position`` read this node's copy: what it put, fetched or primed.
A point put on another node reaches Redis within that node's ``flush_interval_s`` plus a round
trip; here ``fetch`` (a ``job:watch`` ack, ``GET /jobs/{id}/track``) and ``prime`` (a
contractor's socket connects) read it, ``near`` searches the GEO set. Matching's
``position`` therefore knows the contractors whose points this node has seen.

Redis away: nothing raises. ``put`` keeps working on this node's copy; pending writes hold at
most one point per contractor (the newest) and are retried with capped exponential backoff,
logged once per outage and counted in ``write_failures``. ``fetch`` and ``near`` answer from
this node's copy (after at most ``io_timeout_s``). ``close`` tries a last flush for at most
``close_timeout_s``.

Cost (development machine, local Redis): ``put`` about 0.35 µs; the writer about 9 µs of
this process's CPU per point written (most of it redis-py packing arguments) and 17 µs of
Redis's; ``near`` one round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import msgspec
from redis.exceptions import (
    ClusterDownError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TryAgainError,
)

from hub.tracking.live_state import KEEP_S, STALE_AFTER_S, LivePoint, MemoryLiveState

log = logging.getLogger(__name__)

# KEYS geo, seen, then one point key per point; ARGV keep_ms, a msgpack array of
# [ts, received_at, lng, lat, contractor] per point, then each point's payload -> how many
# points were newer than the stored ones. (One packed argument instead of five per point:
# redis-py packs every argument in Python.) Numbers are written with %.17g: exact doubles.
_WRITE = """
local keep = ARGV[1]
local fmt = string.format
local meta = cmsgpack.unpack(ARGV[2])
local written = 0
for i, m in ipairs(meta) do
  local key = KEYS[i + 2]
  local old = redis.call('HGET', key, 't')
  if not old or tonumber(old) < m[1] then
    redis.call('HSET', key, 't', fmt('%.17g', m[1]), 'p', ARGV[i + 2])
    redis.call('PEXPIRE', key, keep)
    -- GEOADD refuses the polar caps; a point there is kept but cannot be searched
    if m[4] <= 85.05112878 and m[4] >= -85.05112878 then
      redis.call('GEOADD', KEYS[1], fmt('%.17g', m[3]), fmt('%.17g', m[4]), m[5])
    else
      redis.call('ZREM', KEYS[1], m[5])
    end
    redis.call('ZADD', KEYS[2], fmt('%.17g', m[2]), m[5])
    written = written + 1
  end
end
return written
"""

# KEYS geo, seen; ARGV deadline, max -> how many members received before deadline went
_SWEEP = """
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1], 'LIMIT', 0, ARGV[2])
if #due > 0 then
  redis.call('ZREM', KEYS[2], unpack(due))
  redis.call('ZREM', KEYS[1], unpack(due))
end
return #due
"""

# KEYS geo, seen; ARGV lng, lat, radius_m, since, limit -> {member, distance, ...} nearest
# first, only members received after since (the GEO set also holds stale points)
_NEAR = """
local found = redis.call('GEOSEARCH', KEYS[1], 'FROMLONLAT', ARGV[1], ARGV[2],
  'BYRADIUS', ARGV[3], 'm', 'ASC', 'WITHDIST')
local since = tonumber(ARGV[4])
local limit = tonumber(ARGV[5])
local out = {}
for i = 1, #found do
  if #out >= 2 * limit then break end
  local seen = redis.call('ZSCORE', KEYS[2], found[i][1])
  if seen and tonumber(seen) > since then
    out[#out + 1] = found[i][1]
    out[#out + 1] = found[i][2]
  end
end
return out
"""

MAX_GEO_LAT = 85.05112878
"""Redis GEO sets take latitudes up to this (Web Mercator); points beyond are not searched."""
SWEEP_BATCH = 1000  # members per sweep script (Lua's unpack has a stack limit)

# Response errors that are an outage (failover, resharding), not a bad request: retried.
_TRANSIENT = (ClusterDownError, TryAgainError, ReadOnlyError)
_FAILURES = (RedisError, OSError, TimeoutError)


def _retryable(exc: BaseException) -> bool:
    return not isinstance(exc, ResponseError) or isinstance(exc, _TRANSIENT)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisLiveState:
    """:class:`~hub.tracking.live_state.LiveState` shared through Redis (module docstring).

    Args:
        redis: ``redis.asyncio.Redis`` or ``RedisCluster``.
        clock: server time in seconds since the epoch (stamps ``received_at``).
        stale_after_s: see :data:`hub.tracking.live_state.STALE_AFTER_S`.
        keep_s: see :data:`hub.tracking.live_state.KEEP_S`.
        prefix: key prefix (the ``{live}`` hash tag follows it).
        flush_interval_s: the writer's pause between two batches.
        batch: points per write script.
        backoff_s: first and largest delay between retries while Redis fails.
        io_timeout_s: longest wait of ``fetch`` and ``near`` on Redis.
        close_timeout_s: longest wait of ``close`` for its last flush.
    """

    def __init__(
        self,
        redis: Any,
        clock: Callable[[], float] = time.time,
        stale_after_s: float = STALE_AFTER_S,
        keep_s: float = KEEP_S,
        prefix: str = "th:",
        flush_interval_s: float = 0.1,
        batch: int = 500,
        backoff_s: tuple[float, float] = (0.1, 5.0),
        io_timeout_s: float = 1.0,
        close_timeout_s: float = 2.0,
    ) -> None:
        if keep_s < stale_after_s:
            raise ValueError("keep_s must be >= stale_after_s")
        self._redis = redis
        self._clock = clock
        self.stale_after_s = stale_after_s
        self.keep_s = keep_s
        self._keys = f"{prefix}{{live}}:"
        self._geo = self._keys + "geo"
        self._seen = self._keys + "seen"
        self._flush_interval_s = flush_interval_s
        self._batch = batch
        self._backoff_s = backoff_s
        self._io_timeout_s = io_timeout_s
        self._close_timeout_s = close_timeout_s
        self._write = redis.register_script(_WRITE)
        self._sweep = redis.register_script(_SWEEP)
        self._near = redis.register_script(_NEAR)
        self._encode = msgspec.msgpack.Encoder().encode
        self._decode = msgspec.msgpack.Decoder(LivePoint).decode
        # this node's copy: read-your-writes and the noise filter's reference
        self._local = MemoryLiveState(clock, stale_after_s, keep_s)
        self._dirty: dict[str, None] = {}  # contractors whose copy is not written yet (ordered)
        self._sweep_due = False
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()  # one writer at a time: the task, near, close
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._down = False  # writes failing (logged once per outage)
        self._read_down = False  # reads failing (logged once per outage)
        self.write_failures = 0
        """Write attempts that failed (each is retried; exported as a counter)."""

    def __len__(self) -> int:
        return len(self._local)

    @property
    def pending(self) -> int:
        """Points waiting to be written to Redis (at most one per contractor)."""
        return len(self._dirty)

    def _point_key(self, contractor_id: str) -> str:
        return f"{self._keys}p:{contractor_id}"

    # -- the hot path: this node's copy only

    def put(self, point: LivePoint) -> bool:
        if not self._local.put(point):
            return False
        self._dirty[point.contractor_id] = None
        self._wake.set()
        return True

    def latest(self, contractor_id: str) -> LivePoint | None:
        return self._local.latest(contractor_id)

    def position(self, contractor_id: str) -> tuple[float, float] | None:
        return self._local.position(contractor_id)

    def sweep(self) -> int:
        """Forget this node's copies older than ``keep_s``; the writer then drops members
        that old from the GEO and seen sets (point keys expire by themselves)."""
        dropped = self._local.sweep()
        if dropped:
            latest = self._local.latest
            for contractor_id in [c for c in self._dirty if latest(c) is None]:
                del self._dirty[contractor_id]
        self._sweep_due = True
        self._wake.set()
        return dropped

    # -- reads of the shared state

    async def fetch(self, contractor_id: str) -> LivePoint | None:
        local = self._local.latest(contractor_id)
        try:
            async with asyncio.timeout(self._io_timeout_s):
                raw = await self._redis.hget(self._point_key(contractor_id), "p")
        except _FAILURES as exc:
            self._read_failed(exc)
            return local
        self._read_ok()
        if raw is None:
            return local
        try:
            remote = self._decode(raw)
        except msgspec.MsgspecError:  # a point some other version wrote; ours still serves
            log.exception("live state point does not decode", extra={"user_id": contractor_id})
            return local
        if remote.received_at < self._clock() - self.keep_s:
            return local  # past keep_s by this node's clock, though its key has not expired
        if local is None or remote.ts > local.ts:
            self._local.put(remote)
            self._dirty.pop(contractor_id, None)  # Redis already has a newer point
            return remote
        return local

    async def prime(self, contractor_id: str) -> None:
        await self.fetch(contractor_id)

    async def near(
        self, lat: float, lng: float, radius_m: float, limit: int
    ) -> list[tuple[str, float]]:
        since = self._clock() - self.stale_after_s
        if limit <= 0:
            return []
        if not -MAX_GEO_LAT <= lat <= MAX_GEO_LAT:  # GEOSEARCH refuses such a centre
            return await self._local.near(lat, lng, radius_m, limit)
        try:
            async with asyncio.timeout(self._io_timeout_s):
                await self.flush()  # this node's pending points count too
                raw = await self._near(
                    keys=[self._geo, self._seen], args=[lng, lat, radius_m, since, limit]
                )
        except _FAILURES as exc:
            self._read_failed(exc)
            return await self._local.near(lat, lng, radius_m, limit)
        self._read_ok()
        return [(_text(raw[i]), float(raw[i + 1])) for i in range(0, len(raw), 2)]

    def _read_failed(self, exc: BaseException) -> None:
        if not self._read_down:
            self._read_down = True
            log.warning(
                "live state: Redis reads failing, answering from this node",
                extra={"error": repr(exc)},
            )

    def _read_ok(self) -> None:
        if self._read_down:
            self._read_down = False
            log.info("live state: Redis reads recovered")

    # -- writing behind

    async def flush(self) -> None:
        """Write the pending points, and the Redis side of a due sweep, now.

        Raises:
            RedisError, OSError, TimeoutError: Redis failed; what was not written stays
                pending (a request Redis refused as such is dropped and logged instead).
        """
        async with self._lock:
            # What is pending now, not what puts add meanwhile: a flush ends.
            todo = list(self._dirty)
            for start in range(0, len(todo), self._batch):
                await self._write_batch(todo[start : start + self._batch])
            if self._sweep_due:
                self._sweep_due = False
                try:
                    deadline = self._clock() - self.keep_s
                    while True:
                        swept = await self._sweep(
                            keys=[self._geo, self._seen], args=[deadline, SWEEP_BATCH]
                        )
                        if int(swept) < SWEEP_BATCH:
                            break
                except BaseException:
                    self._sweep_due = True
                    raise

    async def _write_batch(self, contractors: list[str]) -> None:
        dirty = self._dirty
        keys = [self._geo, self._seen]
        meta: list[tuple[float, float, float, float, str]] = []
        payloads: list[bytes] = []
        taken = []
        for contractor_id in contractors:
            if contractor_id not in dirty:  # fetched newer meanwhile: Redis has it
                continue
            del dirty[contractor_id]
            p = self._local.latest(contractor_id)
            if p is None:  # swept meanwhile
                continue
            taken.append(contractor_id)
            keys.append(self._point_key(contractor_id))
            meta.append((p.ts, p.received_at, p.lng, p.lat, contractor_id))
            payloads.append(self._encode(p))
        if not meta:
            return
        try:
            await self._write(
                keys=keys, args=[int(self.keep_s * 1000), self._encode(meta), *payloads]
            )
        except BaseException as exc:
            # Taken out before the await so that a put meanwhile marks its contractor again;
            # back in now unless Redis refused the request itself (retrying would not help).
            if isinstance(exc, Exception) and not _retryable(exc):
                log.exception("live state write refused", extra={"points": len(keys) - 2})
                return
            for contractor_id in taken:
                if self._local.latest(contractor_id) is not None:
                    dirty[contractor_id] = None
            raise

    async def _run(self) -> None:
        first, cap = self._backoff_s
        delay = first
        task = asyncio.current_task()
        while not self._closing:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from exc  # see below
                self.write_failures += 1
                if not self._down:
                    self._down = True
                    log.warning(
                        "live state: Redis writes failing, points kept on this node",
                        extra={"error": repr(exc), "pending": len(self._dirty)},
                    )
                await asyncio.sleep(delay)
                delay = min(cap, delay * 2)
                self._wake.set()  # retry even if no point comes
                continue
            if task is not None and task.cancelling():
                # A cancellation that lands mid-command can be swallowed: redis-py closes
                # the connection and its retry then runs the command again. Honour it.
                raise asyncio.CancelledError
            if self._down:
                self._down = False
                log.info("live state: Redis writes recovered")
            delay = first
            # Batches: the points of the next interval go out together.
            await asyncio.sleep(self._flush_interval_s)

    async def start(self) -> None:
        if self._task is None and not self._closing:
            self._task = asyncio.create_task(self._run(), name="live-state-writer")

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            async with asyncio.timeout(self._close_timeout_s):
                await self.flush()
        except _FAILURES as exc:
            log.warning(
                "live state: pending points not written at close",
                extra={"error": repr(exc), "pending": len(self._dirty)},
            )
