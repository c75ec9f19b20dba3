"""SocketCount contract on MemorySocketCount and RedisSocketCount: a node's own sockets count
as they are now; with Redis, other nodes' reports count until they lapse, and a node that
closes or whose Redis is away does not break the count."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from hub.realtime.socket_count import MemorySocketCount, RedisSocketCount, SocketCount
from tests.conftest import REDIS_URL
from tests.support.waiting import eventually


class Local:
    def __init__(self, count: int = 0) -> None:
        self.count = count

    def __call__(self) -> int:
        return self.count


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def make(request: Any) -> AsyncIterator[Any]:
    """``make(local)``: a node's SocketCount (memory: the node alone)."""
    made: list[SocketCount] = []
    clients: list[Redis] = []
    key = f"test:{secrets.token_hex(4)}:sockets"

    def build(local: Local, **options: Any) -> SocketCount:
        if request.param == "memory":
            count: SocketCount = MemorySocketCount.of(local, "scope")
        else:
            clients.append(Redis.from_url(REDIS_URL))
            count = RedisSocketCount(clients[-1], f"n{len(made)}", local, key=key, **options)
        made.append(count)
        return count

    build.kind = request.param  # type: ignore[attr-defined]
    yield build
    for count in made:
        await count.close()
    for client in clients:
        await client.aclose()


async def test_own_sockets_count_as_they_are_now(make: Any) -> None:
    local = Local(3)
    count = make(local)
    await count.start()
    assert await count.total() == 3
    local.count = 5
    assert await count.total() == 5


@pytest.mark.redis
async def test_other_nodes_count_until_their_report_lapses(make: Any) -> None:
    if make.kind != "redis":
        pytest.skip("one node in memory")
    a, b = Local(2), Local(7)
    node_a = make(a, interval_s=0.05, ttl_s=0.3)
    node_b = make(b, interval_s=0.05, ttl_s=0.3)
    await node_a.start()
    await node_b.start()
    await eventually(lambda: _is(node_a, 9))
    b.count = 1
    await eventually(lambda: _is(node_a, 3))
    await node_b.close()  # a node that stops takes its count with it
    await eventually(lambda: _is(node_a, 2))


@pytest.mark.redis
async def test_a_dead_nodes_report_lapses(make: Any) -> None:
    if make.kind != "redis":
        pytest.skip("one node in memory")
    survivor = make(Local(1), interval_s=0.05, ttl_s=0.3)
    dead = make(Local(10), interval_s=0.05, ttl_s=0.3)
    await survivor.start()
    await dead.report()  # reported once, then never again (killed)
    assert await survivor.total() == 11
    await asyncio.sleep(0.4)
    assert await survivor.total() == 1


@pytest.mark.redis
async def test_redis_away_answers_the_nodes_own_count() -> None:
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    count = RedisSocketCount(client, "n", Local(4), key="test:unreachable")
    await count.start()
    try:
        assert await count.total() == 4
    finally:
        await count.close()
        await client.aclose()


async def _is(count: SocketCount, expected: int) -> bool:
    return await count.total() == expected
