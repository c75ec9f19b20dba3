"""BusManager on two or three in-process "nodes": Socket.IO servers on their own ports, joined
by one shared MemoryBus (the bus of one process standing in for the network) or by RedisBus
instances on the shared Redis. Real python-socketio clients connect to each node."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import TestServer
from redis.asyncio import Redis

from hub.engine.bus import MemoryBus
from hub.engine.bus_redis import RedisBus
from hub.engine.manager import BusManager
from tests.conftest import REDIS_URL
from tests.support.waiting import eventually


@dataclass
class Node:
    sio: socketio.AsyncServer
    manager: BusManager
    server: TestServer
    latest: list[tuple[Any, ...]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return str(self.server.make_url("/"))


@dataclass
class Client:
    sio: socketio.AsyncClient
    events: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def sid(self) -> str:
        sid: str | None = self.sio.get_sid()
        assert sid is not None
        return sid

    def named(self, event: str) -> list[Any]:
        return [data for name, data in self.events if name == event]


def _server(manager: BusManager) -> socketio.AsyncServer:
    sio = socketio.AsyncServer(async_mode="aiohttp", client_manager=manager)

    @sio.event  # type: ignore[untyped-decorator]
    async def connect(sid: str, environ: dict[str, Any], auth: dict[str, Any]) -> None:
        for room in auth.get("rooms", []):
            await sio.enter_room(sid, room)

    @sio.on("leave")  # type: ignore[untyped-decorator]
    async def leave(sid: str, room: str) -> str:
        await sio.leave_room(sid, room)
        return "ok"

    return sio


class Cluster:
    def __init__(self, make_bus: Callable[[], Awaitable[Any]]) -> None:
        self._make_bus = make_bus
        self.nodes: list[Node] = []
        self.clients: list[Client] = []

    async def node(self) -> Node:
        manager = BusManager(await self._make_bus())
        await manager.start()
        sio = _server(manager)
        app = web.Application()
        sio.attach(app)
        server = TestServer(app)
        await server.start_server()
        node = Node(sio, manager, server)
        manager.on_latest(lambda *args: node.latest.append(args))
        self.nodes.append(node)
        return node

    async def client(self, node: Node, *rooms: str) -> Client:
        client = Client(socketio.AsyncClient(reconnection=False))

        @client.sio.on("*")  # type: ignore[untyped-decorator]
        async def any_event(event: str, *args: Any) -> None:
            client.events.append((event, args[0] if args else None))

        @client.sio.on("ask")  # type: ignore[untyped-decorator]
        async def ask(data: Any) -> Any:
            return {"answer": data}

        await client.sio.connect(node.url, auth={"rooms": list(rooms)}, transports=["websocket"])
        self.clients.append(client)
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.sio.disconnect()
        for node in self.nodes:
            await node.sio.shutdown()
            await node.server.close()
            await node.manager.close()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def cluster(request: Any) -> AsyncIterator[Cluster]:
    buses: list[Any] = []
    redis = Redis.from_url(REDIS_URL)
    prefix = f"test:{secrets.token_hex(4)}:"
    shared = MemoryBus()

    async def make_bus() -> Any:
        if request.param == "memory":
            return shared  # every node on one in-process bus
        bus = RedisBus(redis, prefix=prefix)
        await bus.start()
        buses.append(bus)
        return bus

    made = Cluster(make_bus)
    yield made
    await made.close()
    for bus in buses:
        await bus.close()
    await shared.close()
    await redis.aclose()


async def test_room_emit_reaches_every_node_in_order(cluster: Cluster) -> None:
    a, b, c = await cluster.node(), await cluster.node(), await cluster.node()
    on_a = await cluster.client(a, "room:1")
    on_b = await cluster.client(b, "room:1")
    on_c = await cluster.client(c, "room:2")
    for i in range(50):
        await a.sio.emit("tick", {"i": i}, room="room:1")
    await eventually(lambda: len(on_b.named("tick")) == 50)
    expected = [{"i": i} for i in range(50)]
    assert on_a.named("tick") == expected
    assert on_b.named("tick") == expected
    assert on_c.events == []
    assert c.manager.subscribed_rooms() == {None, "room:2"}  # no channel for room:1 there
    assert a.manager.subscribed_rooms() == {None, "room:1"}


async def test_a_room_is_held_while_it_has_local_members(cluster: Cluster) -> None:
    a, b = await cluster.node(), await cluster.node()
    one = await cluster.client(b, "room:x")
    two = await cluster.client(b, "room:x")
    assert "room:x" in b.manager.subscribed_rooms()
    await one.sio.call("leave", "room:x")
    assert "room:x" in b.manager.subscribed_rooms()  # two is still in it
    await two.sio.disconnect()
    await eventually(lambda: "room:x" not in b.manager.subscribed_rooms())
    await a.sio.emit("late", 1, room="room:x")
    await asyncio.sleep(0.1)
    assert one.named("late") == []


async def test_several_rooms_reach_each_socket_once(cluster: Cluster) -> None:
    a, b = await cluster.node(), await cluster.node()
    both_here = await cluster.client(a, "job:1", "user:1")
    both_there = await cluster.client(b, "job:1", "user:1")
    one_there = await cluster.client(b, "user:2")
    skipped = await cluster.client(b, "job:1")
    await a.sio.emit(
        "job:status", {"s": "done"}, room=["job:1", "user:1", "user:2"], skip_sid=skipped.sid
    )
    await a.sio.emit("end", None, room=["job:1", "user:2"])
    await eventually(lambda: len(one_there.named("end")) == 1 and both_there.named("end"))
    await asyncio.sleep(0.05)
    for client in (both_here, both_there, one_there):
        assert client.named("job:status") == [{"s": "done"}]
    assert skipped.named("job:status") == []


async def test_one_socket_on_another_node(cluster: Cluster) -> None:
    a, b = await cluster.node(), await cluster.node()
    there = await cluster.client(b)
    await a.sio.emit("direct", "hello", to=there.sid)
    await eventually(lambda: there.named("direct") == ["hello"])
    assert await a.sio.call("ask", 42, to=there.sid, timeout=3) == {"answer": 42}
    await a.sio.enter_room(there.sid, "room:late")
    await eventually(lambda: "room:late" in b.manager.subscribed_rooms())
    await a.sio.emit("joined", 1, room="room:late")
    await eventually(lambda: there.named("joined") == [1])
    await a.sio.disconnect(there.sid)
    await eventually(lambda: not there.sio.connected)


async def test_broadcast_to_everyone_and_ignore_queue(cluster: Cluster) -> None:
    a, b = await cluster.node(), await cluster.node()
    here = await cluster.client(a)
    there = await cluster.client(b)
    await a.sio.emit("all", 1)
    await a.sio.emit("local-only", 2, ignore_queue=True)
    await eventually(lambda: there.named("all") == [1] and here.named("all") == [1])
    await asyncio.sleep(0.05)
    assert here.named("local-only") == [2]
    assert there.named("local-only") == []


async def test_publish_latest_calls_the_callback_where_members_are(cluster: Cluster) -> None:
    a, b, c = await cluster.node(), await cluster.node(), await cluster.node()
    watcher_a = await cluster.client(a, "job:9")
    await cluster.client(b, "job:9")
    await cluster.client(c, "job:other")
    await a.manager.publish_latest("job:9", "job:location", {"lat": 1}, "job:9", watcher_a.sid)
    await eventually(lambda: len(b.latest) == 1)
    expected = ("job:9", "job:location", {"lat": 1}, "job:9", watcher_a.sid)
    assert a.latest == [expected]  # the publisher's node, at once
    assert b.latest == [expected]
    assert c.latest == []


async def test_publish_latest_without_a_callback_emits() -> None:
    bus = MemoryBus()
    cluster = Cluster(lambda: _same(bus))
    try:
        a, b = await cluster.node(), await cluster.node()
        b.manager._on_latest = None
        there = await cluster.client(b, "job:5")
        a.manager.publish_latest_nowait("job:5", "job:location", {"lat": 2}, "job:5")
        await eventually(lambda: there.named("job:location") == [{"lat": 2}])
    finally:
        await cluster.close()
        await bus.close()


async def _same(bus: MemoryBus) -> MemoryBus:
    return bus


def test_sids_name_their_node() -> None:
    manager = BusManager(MemoryBus(), node_id="abcd2345")
    assert manager._node_of("~abcd2345~Zx9") == "abcd2345"
    assert manager._node_of("user:1") is None
    assert manager._node_of(None) is None
    with pytest.raises(ValueError):
        BusManager(MemoryBus(), node_id="short")
