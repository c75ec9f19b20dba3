"""The same contract cases on the in-process and the Redis rate limiter."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from hub.core.ratelimit import MemoryRateLimiter, RateLimiter
from hub.core.ratelimit_redis import RedisRateLimiter
from tests.conftest import REDIS_URL


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def limiter(request: Any) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        yield MemoryRateLimiter()
        return
    redis = Redis.from_url(REDIS_URL)
    yield RedisRateLimiter(redis, prefix=f"test:{secrets.token_hex(4)}:")
    await redis.aclose()


async def test_allows_up_to_limit_then_refuses(limiter: RateLimiter) -> None:
    decisions = [await limiter.hit("k", 3, 60) for _ in range(5)]
    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.count for d in decisions] == [1, 2, 3, 4, 5]
    assert 0 < decisions[-1].retry_after <= 60


async def test_keys_are_independent_and_reset(limiter: RateLimiter) -> None:
    for _ in range(3):
        await limiter.hit("a", 2, 60)
    assert (await limiter.hit("b", 2, 60)).allowed
    assert (await limiter.count("a", 60)).count == 3
    await limiter.reset("a")
    assert (await limiter.count("a", 60)).count == 0
    assert (await limiter.hit("a", 2, 60)).allowed


async def test_window_expires(limiter: RateLimiter) -> None:
    assert (await limiter.hit("w", 1, 0.2)).allowed
    assert not (await limiter.hit("w", 1, 0.2)).allowed
    await asyncio.sleep(0.35)
    assert (await limiter.hit("w", 1, 0.2)).allowed


async def test_memory_limiter_with_injected_clock() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock=clock)
    assert (await limiter.hit("k", 1, 10)).allowed
    refused = await limiter.hit("k", 1, 10)
    assert not refused.allowed and refused.retry_after == 10
    clock.now += 10
    assert (await limiter.hit("k", 1, 10)).allowed


async def test_memory_limiter_memory_is_bounded() -> None:
    clock = FakeClock()
    limiter = MemoryRateLimiter(clock=clock, max_keys=100)
    for i in range(100):
        await limiter.hit(f"k{i}", 1, 1)
    clock.now += 2
    for i in range(100, 150):
        await limiter.hit(f"k{i}", 1, 1)
    assert len(limiter._windows) <= 100
