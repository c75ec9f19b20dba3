"""RedisBus on a Redis Cluster of the test's own (three primaries): shard channels live on the
primary owning their slot, each node keeps one link per such primary, and a primary that is
killed and comes back gets its channels resubscribed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from redis.asyncio.cluster import RedisCluster

from hub.engine.bus_redis import RedisBus
from hub.engine.manager import BusManager
from tests.support.processes import RedisClusterProcesses
from tests.support.waiting import eventually

pytestmark = [pytest.mark.slow, pytest.mark.redis]

ROOMS = [f"room:{i}" for i in range(24)]


@pytest.fixture(scope="module")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisClusterProcesses]:
    cluster = RedisClusterProcesses(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


async def test_sharded_channels_follow_their_primaries(
    redis_cluster: RedisClusterProcesses,
) -> None:
    clients = [
        RedisCluster.from_url(redis_cluster.url, socket_connect_timeout=0.5, socket_timeout=1)
        for _ in range(2)
    ]
    states: list[bool] = []
    a = RedisBus(clients[0], prefix="c:", backoff_s=(0.05, 0.5))
    b = RedisBus(clients[1], prefix="c:", backoff_s=(0.05, 0.5), on_degraded=states.append)
    got: dict[str, list[bytes]] = {room: [] for room in ROOMS}
    try:
        await a.start()
        await b.start()
        for room in ROOMS:

            async def handler(message: bytes, room: str = room) -> None:
                got[room].append(message)

            await b.subscribe(room, handler)
        links = {name: len(link.channels) for name, link in b._links.items() if link.channels}
        assert len(links) == 3 and sum(links.values()) == len(ROOMS)  # spread over primaries
        assert b.sharded is True

        for room in ROOMS:
            for i in range(5):
                await a.publish(room, str(i).encode())
        await eventually(lambda: all(len(v) == 5 for v in got.values()))
        assert all(v == [b"0", b"1", b"2", b"3", b"4"] for v in got.values())  # in order

        redis_cluster.kill(2)
        await eventually(lambda: b.degraded)
        redis_cluster.restart(2)
        await eventually(lambda: not b.degraded, within=15)
        assert states[-2:] == [True, False]
        await asyncio.sleep(0.5)  # the clients' slot maps settle after the restart

        async def delivered_after() -> bool:
            for room in ROOMS:
                if got[room][-1:] != [b"after"]:
                    await a.publish(room, b"after")
            await asyncio.sleep(0.2)
            return all(v[-1:] == [b"after"] for v in got.values())

        await eventually(delivered_after, within=10)
    finally:
        await a.close()
        await b.close()
        for client in clients:
            await client.aclose()


async def test_manager_node_ids_and_cluster_bus(redis_cluster: RedisClusterProcesses) -> None:
    client = RedisCluster.from_url(redis_cluster.url)
    bus = RedisBus(client, prefix="m:")
    manager = BusManager(bus)
    try:
        await bus.start()
        await manager.start()  # the node channel, on the primary of its slot
        assert bus.channels() == {f"sio:n:{manager.node_id}"}
    finally:
        await manager.close()
        await bus.close()
        await client.aclose()
