"""Contract tests of :class:`hub.tracking.live_state.LiveState` (module docstring there).

Every implementation runs the same cases: memory, and Redis (marked ``redis``, under a random
key prefix that the fixture deletes afterwards). Cases about several nodes, a Redis sweep and
an unreachable Redis run only on Redis.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from geo.distance import fast_distance_m
from hub.tracking.live_state import KEEP_S, STALE_AFTER_S, LivePoint, LiveState, MemoryLiveState
from hub.tracking.live_state_redis import RedisLiveState
from tests.conftest import REDIS_URL
from tests.hub.tracking_support import Clock
from tests.support.processes import free_port
from tests.support.waiting import eventually

Make = Callable[..., Any]


class _Made:
    """``await make(clock, **options)``: a started LiveState (closed after the test).

    On Redis, every one made in a test shares the test's prefix: they are nodes of one
    cluster.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.prefix = f"test:{secrets.token_hex(4)}:"
        self.client: Redis | None = None
        self.made: list[LiveState] = []

    async def __call__(self, clock: Clock, **options: Any) -> LiveState:
        state: LiveState
        if self.kind == "memory":
            state = MemoryLiveState(clock, **options)
        elif self.kind == "redis":
            if self.client is None:
                self.client = Redis.from_url(
                    REDIS_URL, socket_connect_timeout=0.5, socket_timeout=1
                )
            options.setdefault("flush_interval_s", 0.02)
            state = RedisLiveState(self.client, clock, prefix=self.prefix, **options)
        else:
            raise AssertionError(self.kind)
        await state.start()
        self.made.append(state)
        return state

    async def close(self) -> None:
        for state in self.made:
            await state.close()
        if self.client is not None:
            keys = [k async for k in self.client.scan_iter(match=f"{self.prefix}*")]
            if keys:
                await self.client.delete(*keys)
            await self.client.aclose()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make(kind: str) -> AsyncIterator[_Made]:
    made = _Made(kind)
    yield made
    await made.close()


@pytest.fixture
async def make_redis() -> AsyncIterator[_Made]:
    made = _Made("redis")
    yield made
    await made.close()


def fix(contractor: str, ts: float, received_at: float, **extra: Any) -> LivePoint:
    return LivePoint(contractor, 51.5 + ts / 1e9, -0.12, ts, received_at, **extra)


async def test_put_then_latest_and_position(make: Make) -> None:
    clock = Clock(1_000_000.0)
    live = await make(clock)
    assert live.latest("c1") is None and live.position("c1") is None
    point = fix("c1", 1000.0, clock.now, accuracy_m=5.0, job_id="j1", eta_s=60, distance_m=500.0)
    assert live.put(point) is True
    assert live.latest("c1") == point
    assert live.position("c1") == (point.lat, point.lng)


async def test_latest_wins_by_device_time(make: Make) -> None:
    clock = Clock(1_000_000.0)
    live = await make(clock)
    newer = fix("c1", 2000.0, clock.now)
    assert live.put(newer)
    assert live.put(fix("c1", 1999.0, clock.now)) is False
    assert live.put(fix("c1", 2000.0, clock.now, heading=3.0)) is False
    assert live.latest("c1") == newer
    assert live.put(fix("c1", 2000.5, clock.now))
    assert live.latest("c1") is not None and live.latest("c1").ts == 2000.5


async def test_contractors_are_independent(make: Make) -> None:
    clock = Clock(1_000_000.0)
    live = await make(clock)
    a, b = fix("a", 5000.0, clock.now), fix("b", 1000.0, clock.now)
    assert live.put(a) and live.put(b)
    assert live.latest("a") == a and live.latest("b") == b


async def test_position_goes_stale_but_the_point_is_kept(make: Make) -> None:
    clock = Clock(1_000_000.0)
    live = await make(clock)
    assert live.stale_after_s == STALE_AFTER_S and live.keep_s == KEEP_S
    point = fix("c1", 1000.0, clock.now)
    live.put(point)
    clock.advance(STALE_AFTER_S - 0.001)
    assert live.position("c1") == (point.lat, point.lng)
    clock.advance(0.001)
    assert live.position("c1") is None  # five minutes without a point
    assert live.latest("c1") == point  # still the noise filter's reference
    fresh = fix("c1", 2000.0, clock.now)
    live.put(fresh)
    assert live.position("c1") == (fresh.lat, fresh.lng)


async def test_sweep_forgets_points_older_than_keep(make: Make) -> None:
    clock = Clock(1_000_000.0)
    live = await make(clock, stale_after_s=10.0, keep_s=100.0)
    live.put(fix("old", 1.0, clock.now))
    clock.advance(50)
    live.put(fix("young", 1.0, clock.now))
    clock.advance(50)
    live.sweep()
    assert live.latest("old") is not None  # kept at least keep_s
    clock.advance(0.5)
    assert live.sweep() in (0, 1)  # key-TTL backends may have dropped it already
    assert live.latest("old") is None
    assert live.latest("young") is not None


async def test_prime_keeps_what_this_node_wrote(make: Make) -> None:
    clock = Clock(1_000_000.0)
    live = await make(clock)
    point = fix("c1", 1000.0, clock.now)
    live.put(point)
    await live.prime("c1")
    await live.prime("nobody")
    assert live.latest("c1") == point and live.latest("nobody") is None


async def test_fetch_returns_the_newest_point(make: Make) -> None:
    clock = Clock(1_000_000.0)
    live = await make(clock)
    assert await live.fetch("c1") is None
    point = fix("c1", 1000.0, clock.now, job_id="j1", eta_s=60, distance_m=500.0)
    live.put(point)
    assert await live.fetch("c1") == point
    live.put(newer := fix("c1", 1001.0, clock.now))
    assert await live.fetch("c1") == newer == live.latest("c1")


def at(contractor: str, lat: float, lng: float, ts: float, received_at: float) -> LivePoint:
    return LivePoint(contractor, lat, lng, ts, received_at)


async def test_near_lists_fresh_positions_nearest_first(make: Make) -> None:
    clock = Clock(1_000_000.0)
    live = await make(clock, stale_after_s=10.0, keep_s=100.0)
    centre = (51.5, -0.12)
    where = {"a": (51.5, -0.1201), "b": (51.509, -0.12), "c": (51.5, -0.163), "far": (51.7, -0.12)}
    for contractor, (lat, lng) in where.items():
        live.put(at(contractor, lat, lng, 1000.0, clock.now))
    found = await live.near(*centre, 5000.0, 10)
    assert [c for c, _ in found] == ["a", "b", "c"]
    for contractor, distance in found:
        expected = fast_distance_m(*centre, *where[contractor])
        # Redis measures on a sphere from 52-bit geohashes: within a metre or 0.5 %.
        assert distance == pytest.approx(expected, rel=0.005, abs=1.0)
    assert [c for c, _ in await live.near(*centre, 5000.0, 2)] == ["a", "b"]
    assert await live.near(*centre, 5000.0, 0) == []
    assert await live.near(0.0, 0.0, 5000.0, 10) == []
    clock.advance(10.0)  # every position is stale now; b sends a new one
    live.put(at("b", 51.509, -0.12, 2000.0, clock.now))
    assert [c for c, _ in await live.near(*centre, 5000.0, 10)] == ["b"]


async def test_keep_shorter_than_stale_is_refused() -> None:
    with pytest.raises(ValueError):
        MemoryLiveState(Clock(), stale_after_s=100.0, keep_s=10.0)
    with pytest.raises(ValueError):
        RedisLiveState(Redis(), Clock(), stale_after_s=100.0, keep_s=10.0)


# -- Redis only: several nodes, the shared sets, an unreachable Redis


@pytest.mark.redis
async def test_another_node_fetches_and_primes_the_point(make_redis: _Made) -> None:
    clock = Clock(1_000_000.0)
    a, b, c = await make_redis(clock), await make_redis(clock), await make_redis(clock)
    point = fix("c1", 2000.0, clock.now, job_id="j1", eta_s=60, distance_m=500.0)
    assert a.put(point)
    assert b.latest("c1") is None  # not fetched yet: another node's latest lags
    # written behind by a's writer task, no explicit flush
    await eventually(lambda: _fetched(b, "c1", point))
    assert b.latest("c1") == point and b.position("c1") == (point.lat, point.lng)
    assert b.put(fix("c1", 1999.0, clock.now)) is False  # b knows the newer one now
    await c.prime("c1")
    assert c.latest("c1") == point


async def _fetched(live: LiveState, contractor: str, point: LivePoint) -> bool:
    return await live.fetch(contractor) == point


@pytest.mark.redis
async def test_an_older_point_from_another_node_does_not_overwrite(make_redis: _Made) -> None:
    clock = Clock(1_000_000.0)
    a, b, reader = await make_redis(clock), await make_redis(clock), await make_redis(clock)
    device_ms = 1_764_300_000_000.0  # real epoch ms: the comparison in Redis must be exact
    newer = fix("c1", device_ms + 0.25, clock.now)
    a.put(newer)
    await a.flush()  # type: ignore[attr-defined]
    older = fix("c1", device_ms + 0.125, clock.now + 1)  # b never saw a's: its put succeeds
    assert b.put(older)
    await b.flush()  # type: ignore[attr-defined]
    assert await reader.fetch("c1") == newer
    assert await b.fetch("c1") == newer  # b's copy moves forward, never back
    assert b.latest("c1") == newer
    assert await a.fetch("c1") == newer


@pytest.mark.redis
async def test_near_sees_every_node(make_redis: _Made) -> None:
    clock = Clock(1_000_000.0)
    a, b = await make_redis(clock), await make_redis(clock)
    a.put(at("on-a", 51.5, -0.121, 1000.0, clock.now))
    b.put(at("on-b", 51.5, -0.125, 1000.0, clock.now))
    await b.flush()  # type: ignore[attr-defined]
    assert [c for c, _ in await a.near(51.5, -0.12, 1000.0, 10)] == ["on-a", "on-b"]


@pytest.mark.redis
async def test_a_point_beyond_the_geo_range_is_kept_but_not_searched(make_redis: _Made) -> None:
    clock = Clock(1_000_000.0)
    a, b = await make_redis(clock), await make_redis(clock)
    polar = at("polar", 89.9, 10.0, 1000.0, clock.now)  # GEOADD takes |lat| <= 85.05
    a.put(polar)
    a.put(normal := at("normal", 51.5, -0.12, 1000.0, clock.now))
    await a.flush()  # type: ignore[attr-defined]
    assert await b.fetch("polar") == polar and await b.fetch("normal") == normal
    assert await b.near(85.0, 10.0, 600_000.0, 10) == []  # 545 km away, not in the GEO set
    assert await b.near(89.9, 10.0, 1000.0, 10) == [("polar", 0.0)]  # b's copy answers


@pytest.mark.redis
async def test_sweep_drops_old_members_from_the_shared_sets(make_redis: _Made) -> None:
    clock = Clock(1_000_000.0)
    live = await make_redis(clock, stale_after_s=10.0, keep_s=100.0)
    live.put(fix("old", 1.0, clock.now))
    clock.advance(50)
    live.put(fix("young", 1.0, clock.now))
    await live.flush()  # type: ignore[attr-defined]
    redis = make_redis.client
    assert redis is not None
    seen, geo = f"{make_redis.prefix}{{live}}:seen", f"{make_redis.prefix}{{live}}:geo"
    assert await redis.zcard(seen) == 2 and await redis.zcard(geo) == 2
    clock.advance(50.5)
    assert live.sweep() == 1
    await live.flush()  # type: ignore[attr-defined]
    assert await redis.zrange(seen, 0, -1) == [b"young"]
    assert await redis.zrange(geo, 0, -1) == [b"young"]
    assert live.latest("old") is None
    # the point key outlives the sets until it expires, but is not taken back
    assert await live.fetch("old") is None
    ttl_ms = await redis.pttl(f"{make_redis.prefix}{{live}}:p:young")
    assert 0 < ttl_ms <= 100_000


@pytest.mark.redis
async def test_unreachable_redis_keeps_the_node_working() -> None:
    clock = Clock(1_000_000.0)
    client = Redis.from_url(
        f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5, socket_timeout=0.5
    )
    live = RedisLiveState(client, clock, backoff_s=(0.02, 0.1), close_timeout_s=1.0)
    await live.start()
    try:
        for n in range(50):
            assert live.put(at("c1", 51.5 + n / 1e4, -0.12, 1000.0 + n, clock.now))
        live.put(at("c2", 51.5, -0.12, 1000.0, clock.now))
        latest = live.latest("c1")
        assert latest is not None and latest.ts == 1049.0
        await eventually(lambda: live.write_failures >= 2)
        assert live.pending == 2  # one point per contractor, whatever was put
        assert await live.fetch("c1") == live.latest("c1")
        assert [c for c, _ in await live.near(51.5, -0.12, 1000.0, 10)] == ["c2", "c1"]
        assert live.sweep() == 0
    finally:
        started = time.monotonic()
        await live.close()
        await client.aclose()
    assert time.monotonic() - started < 2.5
    assert not asyncio.all_tasks() - {asyncio.current_task()}
