"""Presence contract cases on MemoryPresence and RedisPresence; then what only Redis shows:
several nodes, leases that lapse when a node dies, and a Redis that loses its data."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from hub.realtime.presence import MemoryPresence
from hub.realtime.presence_redis import RedisPresence
from tests.conftest import REDIS_URL
from tests.support.processes import private_redis
from tests.support.waiting import eventually

Nodes = Callable[..., Awaitable[list[Any]]]


class _RedisNodes:
    """Builds RedisPresence views ("nodes") under one random prefix; closes them all."""

    def __init__(self) -> None:
        self.prefix = f"test:{secrets.token_hex(4)}:presence:"
        self.clients: list[Redis] = []
        self.made: list[RedisPresence] = []

    async def __call__(self, n: int = 1, url: str = REDIS_URL, **options: Any) -> list[Any]:
        for _ in range(n):
            self.clients.append(Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=1))
            self.made.append(RedisPresence(self.clients[-1], prefix=self.prefix, **options))
        return self.made[-n:]

    async def close(self) -> None:
        for presence in self.made:
            await presence.close()
        for client in self.clients:
            await client.aclose()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def nodes(request: Any) -> AsyncIterator[Nodes]:
    """``await nodes(n)``: n views of one presence (memory: one node seen n times)."""
    if request.param == "memory":

        async def memory(n: int = 1) -> list[Any]:
            return [MemoryPresence()] * n

        yield memory
        return
    redis_nodes = _RedisNodes()
    yield redis_nodes
    await redis_nodes.close()


@pytest.fixture
async def redis_nodes() -> AsyncIterator[Nodes]:
    made = _RedisNodes()
    yield made
    await made.close()


def _user() -> str:
    return f"u{secrets.token_hex(4)}"


async def test_first_socket_comes_online_last_one_goes_offline(nodes: Nodes) -> None:
    (presence,) = await nodes(1)
    user = _user()
    assert await presence.connect(user, "s1") is True
    assert await presence.connect(user, "s1") is False  # idempotent per socket
    assert await presence.connect(user, "s2") is False
    assert await presence.disconnect(user, "s1") is False
    assert await presence.disconnect(user, "s1") is False  # idempotent
    assert await presence.online_among([user]) == {user}
    assert await presence.disconnect(user, "s2") is True
    assert await presence.disconnect(user, "s2") is False
    assert await presence.online_among([user]) == set()
    assert await presence.connect(user, "s3") is True  # online again


async def test_three_sockets_and_a_stranger(nodes: Nodes) -> None:
    (presence,) = await nodes(1)
    user = _user()
    assert [await presence.connect(user, s) for s in ("s1", "s2", "s3")] == [True, False, False]
    assert await presence.disconnect(user, "s2") is False
    assert await presence.disconnect(user, "s1") is False
    assert await presence.disconnect(user, "nope") is False  # never connected
    assert await presence.connect(user, "s3") is False
    assert await presence.online_among([user]) == {user}
    assert await presence.disconnect(user, "s3") is True


async def test_online_among_answers_for_a_batch(nodes: Nodes) -> None:
    (presence,) = await nodes(1)
    a, b, c = _user(), _user(), _user()
    await presence.connect(a, "sa")
    await presence.connect(c, "sc")
    assert await presence.online_among([a, b, c, a]) == {a, c}
    assert await presence.online_among([]) == set()


async def test_sockets_on_two_nodes_count_as_one_user(nodes: Nodes) -> None:
    one, two = await nodes(2)
    user = _user()
    assert await one.connect(user, "on-one") is True
    assert await two.connect(user, "on-two") is False
    assert await two.online_among([user]) == {user}
    assert await one.disconnect(user, "on-one") is False
    assert await two.disconnect(user, "on-two") is True
    assert await one.online_among([user]) == set()


# ---------------------------------------------------------------------------- Redis only


@pytest.mark.redis
async def test_a_dead_nodes_sockets_lapse_and_a_live_nodes_are_renewed(
    redis_nodes: Nodes,
) -> None:
    dead, alive, observer = await redis_nodes(3, ttl_s=0.3)
    gone, stays = _user(), _user()
    await dead.connect(gone, "s-dead")  # never renews: the process "died"
    await alive.start()
    await alive.connect(stays, "s-alive")
    await asyncio.sleep(0.6)
    assert await observer.online_among([gone, stays]) == {stays}
    assert await observer.connect(gone, "s-new") is True  # offline -> online again


@pytest.mark.redis
async def test_renewal_restores_entries_after_redis_lost_them(
    redis_nodes: Nodes, tmp_path: Path
) -> None:
    with private_redis(tmp_path) as server:
        (presence,) = await redis_nodes(1, url=server.url, ttl_s=0.6)
        await presence.start()
        user = _user()
        await presence.connect(user, "s1")
        server.stop()  # a restart without persistence: every key is gone
        assert await presence.connect(user, "s2") is False  # logged, not raised
        other = _user()
        assert await presence.online_among([user, other]) == {user}  # this node's knowledge
        server.start()

        async def online() -> bool:
            try:
                online_now: set[str] = await presence.online_among([user])
            except RedisError:
                return False
            return online_now == {user}

        await eventually(online, within=3)
        assert await presence.disconnect(user, "s1") is False  # s2 is still there
        assert await presence.disconnect(user, "s2") is True
