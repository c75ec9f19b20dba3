"""Contract tests of :class:`hub.live_state.LiveState` (module docstring there).

Every implementation runs the same cases: add a parameter to the ``kind`` fixture and a
branch to ``make`` (the Redis twin: mark its cases ``redis``). Cases about several nodes
run only for shared implementations.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from hub.live_state import KEEP_S, STALE_AFTER_S, LivePoint, LiveState, MemoryLiveState
from tests.hub.tracking_support import Clock

Make = Callable[..., Any]


@pytest.fixture(params=["memory"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make(kind: str) -> AsyncIterator[Make]:
    """``await make(clock, **options)``: a started LiveState (closed after the test)."""
    made: list[LiveState] = []

    async def build(clock: Clock, **options: Any) -> LiveState:
        if kind == "memory":
            state: LiveState = MemoryLiveState(clock, **options)
        else:  # pragma: no cover - the Redis twin plugs in here
            raise AssertionError(kind)
        await state.start()
        made.append(state)
        return state

    yield build
    for state in made:
        await state.close()


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


async def test_keep_shorter_than_stale_is_refused() -> None:
    with pytest.raises(ValueError):
        MemoryLiveState(Clock(), stale_after_s=100.0, keep_s=10.0)
