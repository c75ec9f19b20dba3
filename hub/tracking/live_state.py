"""Each contractor's latest accepted location: the live state behind tracking and matching.

:class:`LiveState` is the interface; :class:`MemoryLiveState` the single-node
implementation. A Redis twin (``hub/tracking/live_state_redis.py``) must pass the same
contract tests (``tests/hub/test_tracking_live_state.py``: parametrize its ``live_state`` fixture).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import msgspec

from geo.distance import fast_distance_m

STALE_AFTER_S = 300.0
"""A contractor's position counts for matching while its last point is this fresh."""
KEEP_S = 3600.0
"""How long a stale point is still kept (the noise filter's reference, late watchers)."""


class LivePoint(msgspec.Struct, frozen=True, gc=False):
    """A contractor's accepted point, with what tracking derived from it.

    ``ts`` is the device's clock (epoch ms), ``received_at`` the server's (epoch s).
    ``job_id`` is the job the point was fanned out to (None when the contractor had no
    active job), with ``eta_s`` / ``distance_m`` when that job was en_route or arrived.
    """

    contractor_id: str
    lat: float
    lng: float
    ts: float
    received_at: float
    accuracy_m: float | None = None
    heading: float | None = None
    speed_mps: float | None = None
    job_id: str | None = None
    eta_s: int | None = None
    distance_m: float | None = None


class LiveState(Protocol):
    """The latest accepted point of each contractor.

    Contract (every implementation; the contract tests check each clause):

    - ``put`` is synchronous, O(1), and never waits on I/O nor raises because a backend is
      unreachable: it runs once per accepted point on the hot path. A shared implementation
      writes behind (batched) and keeps a local copy.
    - Latest wins by device time: ``put`` of a point whose ``ts`` is not newer than the
      stored one's for that contractor changes nothing and returns False.
    - ``latest`` returns the stored point, fresh or stale, or None. It is read-your-writes on
      the node that called ``put``; on other nodes it may lag by an implementation-stated
      bound (memory: other nodes see nothing; Redis: what this node last put, fetched or
      primed) and never goes back to an older point. Use ``fetch`` where an await is fine.
    - ``position`` is matching's ``LivePosition``: ``(lat, lng)`` of the latest point while
      it was received less than ``stale_after_s`` ago (server clock, injected), else None.
    - A point is kept at least ``keep_s`` (>= ``stale_after_s``) after it was received; after
      that it may be forgotten (``latest`` returns None). ``sweep`` forgets what is due on
      implementations that need it (the tracking feature calls it every few seconds) and
      returns how many points it dropped; key-TTL backends may return 0.
    - ``fetch`` (async, off the hot path: a ``job:watch`` ack, ``GET /jobs/{id}/track``)
      returns the newest point known anywhere (this node's or the shared state's), or None,
      and leaves it as this node's ``latest`` when it is newer. If the shared state cannot
      be read it answers from this node. Memory: ``latest``.
    - ``prime`` (async, off the hot path: when a contractor's socket connects) makes this
      node's ``latest`` reflect the shared state, so the noise filter continues where the
      contractor's previous node left off. A no-op for memory.
    - ``near`` (async) lists the contractors whose fresh position (as ``position``) lies
      within ``radius_m`` of a point, nearest first, at most ``limit``, as
      ``(contractor_id, distance_m)`` (distance within 0.5 % or 1 m of
      ``geo.distance.fast_distance_m``); on a shared implementation, this node's points at
      once and other nodes' once they are written behind.
    - ``start``/``close`` acquire and release what the implementation needs; ``close`` flushes
      pending writes.
    """

    stale_after_s: float
    keep_s: float

    def put(self, point: LivePoint) -> bool: ...

    def latest(self, contractor_id: str) -> LivePoint | None: ...

    def position(self, contractor_id: str) -> tuple[float, float] | None: ...

    def sweep(self) -> int: ...

    async def fetch(self, contractor_id: str) -> LivePoint | None: ...

    async def prime(self, contractor_id: str) -> None: ...

    async def near(
        self, lat: float, lng: float, radius_m: float, limit: int
    ) -> list[tuple[str, float]]: ...

    @property
    def pending(self) -> int:
        """Points accepted but not yet written to the shared store (0 when there is none)."""
        ...

    @property
    def write_failures(self) -> int:
        """Writes to the shared store that failed (each is retried)."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class MemoryLiveState:
    """:class:`LiveState` in this process's memory (single node).

    Args:
        clock: server time in seconds since the epoch (the same clock that stamps
            ``LivePoint.received_at``).
        stale_after_s: see :data:`STALE_AFTER_S`.
        keep_s: see :data:`KEEP_S`.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        stale_after_s: float = STALE_AFTER_S,
        keep_s: float = KEEP_S,
    ) -> None:
        if keep_s < stale_after_s:
            raise ValueError("keep_s must be >= stale_after_s")
        self._clock = clock
        self.stale_after_s = stale_after_s
        self.keep_s = keep_s
        self._points: dict[str, LivePoint] = {}

    def __len__(self) -> int:
        return len(self._points)

    def put(self, point: LivePoint) -> bool:
        points = self._points
        old = points.get(point.contractor_id)
        if old is not None and point.ts <= old.ts:
            return False
        points[point.contractor_id] = point
        return True

    def latest(self, contractor_id: str) -> LivePoint | None:
        return self._points.get(contractor_id)

    def position(self, contractor_id: str) -> tuple[float, float] | None:
        point = self._points.get(contractor_id)
        if point is None or self._clock() - point.received_at >= self.stale_after_s:
            return None
        return point.lat, point.lng

    def sweep(self) -> int:
        deadline = self._clock() - self.keep_s
        due = [c for c, p in self._points.items() if p.received_at < deadline]
        for contractor_id in due:
            del self._points[contractor_id]
        return len(due)

    async def fetch(self, contractor_id: str) -> LivePoint | None:
        return self._points.get(contractor_id)

    async def prime(self, contractor_id: str) -> None:
        return None

    async def near(
        self, lat: float, lng: float, radius_m: float, limit: int
    ) -> list[tuple[str, float]]:
        return near_in(self._points, self._clock() - self.stale_after_s, lat, lng, radius_m, limit)

    @property
    def pending(self) -> int:
        return 0  # nothing to write behind: this node's memory is the store

    @property
    def write_failures(self) -> int:
        return 0

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


def near_in(
    points: dict[str, LivePoint],
    since: float,
    lat: float,
    lng: float,
    radius_m: float,
    limit: int,
) -> list[tuple[str, float]]:
    """``LiveState.near`` over ``points`` received after ``since``.

    A scan: one node's contractors are few, and nothing on the hot path calls it.
    """
    found = []
    for contractor_id, p in points.items():
        if p.received_at > since:
            distance = fast_distance_m(lat, lng, p.lat, p.lng)
            if distance <= radius_m:
                found.append((contractor_id, distance))
    found.sort(key=lambda item: item[1])
    return found[: max(0, limit)]
