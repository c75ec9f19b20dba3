"""Bus contract cases, run on MemoryBus and RedisBus; then what only a Redis bus can show
(several nodes, Redis subscriptions, losing Redis and getting it back)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from hub.engine.bus import Bus, MemoryBus
from hub.engine.bus_redis import RedisBus
from tests.conftest import REDIS_URL
from tests.support.processes import private_redis
from tests.support.waiting import eventually

Collected = tuple[list[bytes], asyncio.Event]


async def _collect(bus: Bus, channel: str) -> Collected:
    got: list[bytes] = []
    done = asyncio.Event()

    async def handler(message: bytes) -> None:
        got.append(message)
        if message == b"end":
            done.set()

    await bus.subscribe(channel, handler)
    return got, done


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def make_bus(request: Any) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    made: list[Any] = []
    redis = Redis.from_url(REDIS_URL)
    prefix = f"test:{secrets.token_hex(4)}:"

    async def make(queue_bound: int = 10_000) -> Any:
        if request.param == "memory":
            made.append(MemoryBus(queue_bound=queue_bound))
        else:
            made.append(RedisBus(redis, prefix=prefix, queue_bound=queue_bound))
            await made[-1].start()
        return made[-1]

    yield make
    for bus in made:
        await bus.close()
    await redis.aclose()


@pytest.fixture
async def bus(make_bus: Callable[..., Awaitable[Any]]) -> Any:
    return await make_bus()


async def test_order_and_publisher_receives(bus: Any) -> None:
    got, done = await _collect(bus, "c")
    for i in range(100):
        await bus.publish("c", str(i).encode())
    await bus.publish("c", b"end")
    await asyncio.wait_for(done.wait(), 2)
    await asyncio.sleep(0.05)  # an echo from Redis would show up as a duplicate here
    assert got == [str(i).encode() for i in range(100)] + [b"end"]


async def test_channels_are_separate_and_failing_handler_survives(bus: Any) -> None:
    calls: list[bytes] = []

    async def flaky(message: bytes) -> None:
        calls.append(message)
        if message == b"boom":
            raise RuntimeError("handler bug")

    await bus.subscribe("a", flaky)
    other, done = await _collect(bus, "b")
    await bus.publish("a", b"boom")
    await bus.publish("a", b"after")
    await bus.publish("b", b"end")
    await asyncio.wait_for(done.wait(), 2)
    await asyncio.sleep(0.01)
    assert calls == [b"boom", b"after"]
    assert other == [b"end"]


async def test_slow_subscriber_is_bounded(make_bus: Callable[..., Awaitable[Any]]) -> None:
    bus = await make_bus(queue_bound=10)
    release = asyncio.Event()
    seen: list[bytes] = []

    async def slow(message: bytes) -> None:
        await release.wait()
        seen.append(message)

    sub = await bus.subscribe("s", slow)
    for i in range(100):
        await bus.publish("s", str(i).encode())
    release.set()
    await asyncio.sleep(0.05)
    assert len(seen) <= 11  # the one in the handler, then the bound
    assert seen[-1] == b"99"  # the newest survive
    assert sub.dropped >= 89


async def test_close_stops_delivery_and_releases_the_channel(bus: Any) -> None:
    first, _ = await _collect(bus, "x")
    second: list[bytes] = []

    async def handler(message: bytes) -> None:
        second.append(message)

    sub = await bus.subscribe("x", handler)
    await bus.publish("x", b"1")
    await asyncio.sleep(0.02)
    await sub.close()
    await bus.publish("x", b"2")
    await asyncio.sleep(0.02)
    assert first == [b"1", b"2"]
    assert second == [b"1"]
    assert bus.channels() == {"x"}
    for channel_sub in list(bus._local.by_channel["x"]):
        await channel_sub.close()
    assert bus.channels() == set()


# ---------------------------------------------------------------------------- Redis only


async def _shard_channels(redis: Redis, prefix: str) -> set[str]:
    sharded = await redis.pubsub_shardchannels(f"{prefix}*")
    plain = await redis.pubsub_channels(f"{prefix}*")
    names = {c.decode() if isinstance(c, bytes) else c for c in [*sharded, *plain]}
    return {c[len(prefix) :] for c in names if not c.endswith("probe")}


@pytest.fixture
async def nodes() -> AsyncIterator[Callable[..., Awaitable[RedisBus]]]:
    """Several RedisBus "nodes" on one Redis, under one random prefix."""
    prefix = f"test:{secrets.token_hex(4)}:"
    made: list[tuple[RedisBus, Redis]] = []

    async def make(url: str = REDIS_URL, **options: Any) -> RedisBus:
        redis = Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=1)
        node = RedisBus(redis, prefix=prefix, **options)
        await node.start()
        made.append((node, redis))
        return node

    yield make
    for node, redis in made:
        await node.close()
        await redis.aclose()


@pytest.mark.redis
@pytest.mark.parametrize("sharded", [True, False], ids=["sharded", "plain"])
async def test_nodes_receive_each_others_messages_in_order(
    nodes: Callable[..., Awaitable[RedisBus]], sharded: bool
) -> None:
    a, b, c = await nodes(sharded=sharded), await nodes(sharded=sharded), await nodes()
    on_a, done_a = await _collect(a, "room")
    on_b, done_b = await _collect(b, "room")
    for i in range(50):
        await a.publish("room", f"a{i}".encode())
    await a.publish("room", b"end")
    await asyncio.wait_for(asyncio.gather(done_a.wait(), done_b.wait()), 3)
    await asyncio.sleep(0.05)
    expected = [f"a{i}".encode() for i in range(50)] + [b"end"]
    assert on_a == expected  # its own, once (the Redis echo is skipped)
    assert on_b == expected
    assert a.echoes == 51 and b.echoes == 0
    assert c.received == 0  # no subscriber there: no traffic either
    assert a.sharded is sharded and c.sharded is True  # c probed a Redis 7


@pytest.mark.redis
async def test_a_node_subscribes_only_to_its_channels(
    nodes: Callable[..., Awaitable[RedisBus]],
) -> None:
    a, b = await nodes(), await nodes()
    redis = Redis.from_url(REDIS_URL)
    try:
        sub_a = await a.subscribe("room:1", _ignore)
        await b.subscribe("room:2", _ignore)
        assert await _shard_channels(redis, a.prefix) == {"room:1", "room:2"}
        numsub = await redis.pubsub_shardnumsub(a.prefix + "room:1")
        assert dict(numsub)[(a.prefix + "room:1").encode()] == 1  # one connection: node a's
        await b.publish("room:2", b"x")
        await b.publish("room:1", b"y")
        await eventually(lambda: a.received == 1)
        await sub_a.close()
        await eventually(lambda: _equal(_shard_channels(redis, a.prefix), {"room:2"}))
    finally:
        await redis.aclose()


@pytest.mark.redis
async def test_redis_restart_degrades_then_resubscribes(
    nodes: Callable[..., Awaitable[RedisBus]], tmp_path: Path
) -> None:
    states: list[bool] = []
    with private_redis(tmp_path) as server:
        a = await nodes(server.url, backoff_s=(0.05, 0.4), on_degraded=states.append)
        b = await nodes(server.url, backoff_s=(0.05, 0.4))
        on_b, _ = await _collect(b, "kept")
        gone = await b.subscribe("gone", _ignore)
        on_a, _ = await _collect(a, "kept")
        await eventually(lambda: states == [False])

        server.stop()
        await eventually(lambda: states == [False, True] and b.degraded)
        await a.publish("kept", b"during")  # neither raises nor waits; local delivery works
        await eventually(lambda: on_a == [b"during"])
        await gone.close()  # given up while Redis is away: not resubscribed later

        server.start()
        await eventually(lambda: states == [False, True, False] and not b.degraded)
        redis = Redis.from_url(server.url)
        try:
            assert await _shard_channels(redis, a.prefix) == {"kept"}
        finally:
            await redis.aclose()
        await a.publish("kept", b"after")
        await eventually(lambda: on_b == [b"after"])
        assert a.publish_dropped >= 1


async def _ignore(message: bytes) -> None:
    return None


async def _equal(value: Awaitable[set[str]], expected: set[str]) -> bool:
    return await value == expected
