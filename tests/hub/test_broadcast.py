"""RoomBroadcaster and the hub engine over a real port.

Clients: python-socketio's AsyncClient (websocket, polling, and polling upgraded to
websocket), plus :class:`RawClient`, a minimal Engine.IO websocket client on a raw socket with
a tiny receive buffer, whose reading the test can pause: the "watcher that cannot keep up".
No assertion depends on timing; waits are bounded polls of a condition.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import socketio
from aiohttp import web
from aiohttp.test_utils import TestServer

from hub.engine.broadcast import RoomBroadcaster
from hub.engine.eio import HubServer, HubSocket, Wire, ws_frame
from tests.hub.realtime_support import RawSocket, until

ROOM = "job-1"


def has(got: list[Any], n: int) -> Callable[[], bool]:
    return lambda: len(got) == n


@dataclass
class Hub:
    sio: Any
    fan: RoomBroadcaster
    server: TestServer
    counts: list[int] = field(default_factory=list)  # broadcast() results
    disconnects: list[tuple[str, str]] = field(default_factory=list)  # (sid, reason)

    @property
    def port(self) -> int:
        assert self.server.port is not None
        return self.server.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def session(self, sid: str, namespace: str = "/") -> HubSocket:
        sock: HubSocket = self.sio.eio.sockets[self.sio.manager.eio_sid_from_sid(sid, namespace)]
        return sock


HubFactory = Callable[..., Awaitable[Hub]]


@pytest.fixture
async def start_hub() -> AsyncIterator[HubFactory]:
    """Start hubs on free ports; the 'join'/'location:update' protocol on "/" and "/tracking"."""
    started: list[Hub] = []

    async def start(**options: Any) -> Hub:
        sio = HubServer(async_handlers=False, **options)
        hub = Hub(sio, RoomBroadcaster(sio), TestServer(web.Application(), host="127.0.0.1"))
        rooms: dict[tuple[str, str], str] = {}  # (namespace, sid) -> room

        for ns in ("/", "/tracking"):

            async def join(sid: str, data: dict[str, str], ns: str = ns) -> dict[str, bool]:
                await sio.enter_room(sid, data["room"], namespace=ns)
                rooms[ns, sid] = data["room"]
                return {"ok": True}

            async def location(sid: str, data: dict[str, Any], ns: str = ns) -> None:
                room = rooms[ns, sid]
                n = hub.fan.broadcast(
                    room, "job:location", data, key=room, namespace=ns, skip_sid=sid
                )
                hub.counts.append(n)

            async def disconnect(sid: str, reason: str, ns: str = ns) -> None:
                hub.disconnects.append((sid, reason))

            sio.on("join", join, namespace=ns)
            sio.on("location:update", location, namespace=ns)
            sio.on("disconnect", disconnect, namespace=ns)

        sio.attach(hub.server.app)
        await hub.server.start_server()
        started.append(hub)
        return hub

    yield start
    for hub in started:
        await hub.sio.shutdown()
        await hub.server.close()


@pytest.fixture
async def clients() -> AsyncIterator[list[socketio.AsyncClient]]:
    made: list[socketio.AsyncClient] = []
    yield made
    for c in made:
        if c.connected:
            await c.disconnect()


async def watcher(
    hub: Hub,
    made: list[socketio.AsyncClient],
    transports: list[str] | None = None,
    namespace: str = "/",
) -> tuple[socketio.AsyncClient, list[Any]]:
    """A connected AsyncClient that joined ROOM and records 'job:location' payloads."""
    c = socketio.AsyncClient()
    made.append(c)
    got: list[Any] = []
    c.on("job:location", got.append, namespace=namespace)
    await c.connect(hub.url, transports=transports or ["websocket"], namespaces=[namespace])
    assert await c.call("join", {"room": ROOM}, namespace=namespace) == {"ok": True}
    return c, got


class RawClient(RawSocket):
    """:class:`RawSocket` on this module's hub (no auth). It reads every frame as it comes
    and never answers pings (the mute client's test relies on that)."""

    sid = ""

    @classmethod
    async def start(cls, port: int) -> RawClient:
        """Open the websocket and connect to namespace "/"."""
        client = await cls.open(port)
        client.send("40")
        connected = await client.recv()
        assert connected.startswith("40{"), connected
        client.sid = json.loads(connected[2:])["sid"]
        return client

    async def join(self, room: str) -> None:
        self.send("420" + json.dumps(["join", {"room": room}], separators=(",", ":")))
        assert await self.recv() == '430[{"ok":true}]'

    async def recv(self) -> str:
        opcode, payload = await self.frame()
        assert opcode == 0x1, opcode
        return payload.decode()


def event_of(text: str) -> tuple[str, Any] | None:
    """('event', arg) of a '42[...]' Socket.IO EVENT on "/", else None."""
    if not text.startswith("42["):
        return None
    name, arg = json.loads(text[2:])
    return name, arg


async def test_watchers_get_the_payload_and_the_publisher_is_skipped(
    start_hub: HubFactory, clients: list[socketio.AsyncClient]
) -> None:
    hub = await start_hub()
    _, got1 = await watcher(hub, clients)
    _, got2 = await watcher(hub, clients)
    publisher, pub_got = await watcher(hub, clients)

    points = [
        {"lat": 52.5 + i / 1e4, "lng": 13.4, "heading": 90, "speed": 12.5, "ts": i}
        for i in range(5)
    ]
    for p in points:
        await publisher.emit("location:update", p)
    await until(lambda: len(got1) == 5 and len(got2) == 5, "both watchers")

    assert got1 == points and got2 == points
    assert hub.counts == [2] * 5  # two recipients each time: the publisher is skipped
    # Frames on one connection are ordered, so after an ack round trip on the publisher's
    # socket, anything broadcast to it would already have arrived.
    assert await publisher.call("join", {"room": ROOM}) == {"ok": True}
    assert pub_got == []


async def test_namespace_prefix_in_the_frame(
    start_hub: HubFactory, clients: list[socketio.AsyncClient]
) -> None:
    hub = await start_hub()
    _, got = await watcher(hub, clients, namespace="/tracking")
    publisher, _ = await watcher(hub, clients, namespace="/tracking")
    await publisher.emit("location:update", {"ts": 1}, namespace="/tracking")
    await until(lambda: got == [{"ts": 1}], "the /tracking watcher")


async def test_polling_watcher_receives_latest_wins(
    start_hub: HubFactory, clients: list[socketio.AsyncClient]
) -> None:
    # short ping settings only to bound engineio's long-poll wait at teardown (see below)
    hub = await start_hub(ping_interval=1, ping_timeout=1)
    _, ws_got = await watcher(hub, clients)
    poller, poll_got = await watcher(hub, clients, transports=["polling"])
    assert poller.transport() == "polling"

    # broadcast() is synchronous: 50 calls in a row run before the polling GET can be answered,
    # so the poller's queue holds one packet for the key, updated in place to the newest.
    for seq in range(50):
        assert hub.fan.broadcast(ROOM, "job:location", {"seq": seq}, key=ROOM) == 2
    await until(lambda: len(ws_got) == 50 and bool(poll_got), "both watchers")
    assert ws_got == [{"seq": s} for s in range(50)]  # the websocket watcher gets every point
    assert poll_got == [{"seq": 49}]

    hub.fan.broadcast(ROOM, "job:location", {"seq": 50}, key=ROOM)
    await until(lambda: len(poll_got) == 2, "the next point")
    assert poll_got == [{"seq": 49}, {"seq": 50}]
    # A polling AsyncClient's disconnect leaves a long-poll that holds aiohttp's shutdown
    # for ping_interval + ping_timeout (stock python-engineio behaves the same).


async def test_polling_session_upgraded_to_websocket_gets_a_wire(
    start_hub: HubFactory, clients: list[socketio.AsyncClient]
) -> None:
    hub = await start_hub()
    c, got = await watcher(hub, clients, transports=["polling", "websocket"])
    await until(lambda: hub.session(c.get_sid()).wire is not None, "the upgrade")
    chats: list[Any] = []
    c.on("chat:message", chats.append)

    hub.fan.broadcast(ROOM, "job:location", {"seq": 1}, key=ROOM)
    await hub.sio.emit("chat:message", {"text": "hi"}, to=c.get_sid())
    await until(lambda: got == [{"seq": 1}] and chats == [{"text": "hi"}], "both events")
    assert c.transport() == "websocket"


async def test_slow_watcher_gets_latest_wins_bounded_and_all_chat(
    start_hub: HubFactory, clients: list[socketio.AsyncClient]
) -> None:
    high_water = 16 * 1024
    hub = await start_hub(wire_high_water=high_water, wire_low_water=0)
    _, fast_got = await watcher(hub, clients)
    slow = await RawClient.start(hub.port)
    try:
        await slow.join(ROOM)
        wire = hub.session(slow.sid).wire
        assert wire is not None
        slow.stop_reading()

        pad = "x" * 1000
        sent = 0

        def point(seq: int) -> dict[str, Any]:
            return {"seq": seq, "pad": pad}

        # Broadcast, letting the fast watcher keep up, until the slow one's buffer is full.
        while wire.latest is None:
            assert sent < 20_000, "the slow watcher never became congested"
            hub.fan.broadcast(ROOM, "job:location", point(sent), key=ROOM)
            sent += 1
            if sent % 20 == 0:
                await until(has(fast_got, sent), "the fast watcher")
        for _ in range(50):  # and more while it is congested
            hub.fan.broadcast(ROOM, "job:location", point(sent), key=ROOM)
            sent += 1
        frame_size = len(wire.latest[ROOM])
        # Bounded: one held frame per key, and the write buffer stopped at the threshold.
        assert list(wire.latest) == [ROOM]
        assert wire.transport.get_write_buffer_size() <= high_water + frame_size

        # Chat to the congested socket is written, never dropped nor coalesced...
        for n in range(20):
            await hub.sio.emit("chat:message", {"n": n}, to=slow.sid)
        for _ in range(10):  # ...and locations keep coalescing behind it.
            hub.fan.broadcast(ROOM, "job:location", point(sent), key=ROOM)
            sent += 1
        assert list(wire.latest) == [ROOM]

        await until(lambda: len(fast_got) == sent, "the fast watcher")
        assert [p["seq"] for p in fast_got] == list(range(sent))  # every point, in order

        slow.resume_reading()
        seqs: list[int] = []
        chats: list[int] = []
        while not seqs or seqs[-1] != sent - 1:
            ev = event_of(await asyncio.wait_for(slow.recv(), 10))
            assert ev is not None
            if ev[0] == "job:location":
                seqs.append(ev[1]["seq"])
            else:
                chats.append(ev[1]["n"])
        assert chats == list(range(20))
        assert seqs == sorted(set(seqs))  # never an older point after a newer one
        assert len(seqs) < sent  # superseded points were dropped
        await until(lambda: wire.latest is None, "the monitor to release the wire")
    finally:
        await slow.close()


async def test_watcher_congested_too_long_is_disconnected(
    start_hub: HubFactory, clients: list[socketio.AsyncClient]
) -> None:
    hub = await start_hub(wire_high_water=1024, wire_low_water=0, wire_max_stall=0.2)
    _, fast_got = await watcher(hub, clients)
    slow = await RawClient.start(hub.port)
    try:
        await slow.join(ROOM)
        wire = hub.session(slow.sid).wire
        assert wire is not None
        slow.stop_reading()
        sent = 0
        while wire.latest is None:
            assert sent < 20_000, "the slow watcher never became congested"
            hub.fan.broadcast(ROOM, "job:location", {"seq": sent, "pad": "x" * 1000}, key=ROOM)
            sent += 1
            if sent % 20 == 0:
                await until(has(fast_got, sent), "the fast watcher")
        await until(lambda: any(sid == slow.sid for sid, _ in hub.disconnects), "the abort")
        assert hub.fan.broadcast(ROOM, "job:location", {"seq": sent}, key=ROOM) == 1
        await until(lambda: len(fast_got) == sent + 1, "the fast watcher")
    finally:
        await slow.close()


async def test_pings_and_ping_timeout(
    start_hub: HubFactory, clients: list[socketio.AsyncClient]
) -> None:
    hub = await start_hub(ping_interval=0.2, ping_timeout=0.5)
    alive, _ = await watcher(hub, clients)  # AsyncClient answers pings
    mute = await RawClient.start(hub.port)  # never answers
    try:
        frames: list[tuple[int, bytes]] = []
        while not frames or frames[-1][0] != 0x8:  # until the websocket CLOSE frame
            frames.append(await asyncio.wait_for(mute.frame(), 10))
        texts = [payload for opcode, payload in frames if opcode == 0x1]
        assert texts == [b"2", b"1"]  # Engine.IO PING, then CLOSE after the timeout
        await until(lambda: (mute.sid, "ping timeout") in hub.disconnects, "disconnect")
        assert alive.connected
        assert await alive.call("join", {"room": ROOM}) == {"ok": True}
    finally:
        await mute.close()


async def test_server_disconnect_of_a_websocket_session(
    start_hub: HubFactory, clients: list[socketio.AsyncClient]
) -> None:
    hub = await start_hub()
    c, _ = await watcher(hub, clients)
    gone = asyncio.Event()
    c.on("disconnect", lambda *reason: gone.set())
    sid = c.get_sid()
    await hub.sio.disconnect(sid)
    await asyncio.wait_for(gone.wait(), 10)
    assert [s for s, _ in hub.disconnects] == [sid]
    await until(lambda: not hub.sio.eio.sockets, "the session to be dropped")
    assert hub.fan.broadcast(ROOM, "job:location", {"seq": 0}, key=ROOM) == 0


def test_needs_the_hub_engine() -> None:
    with pytest.raises(TypeError):
        RoomBroadcaster(socketio.AsyncServer(async_mode="aiohttp"))


class _FakeTransport(asyncio.Transport):
    def __init__(self, buffered: int = 0) -> None:
        super().__init__()
        self.buffered = buffered
        self.frames: list[bytes] = []

    def write(self, data: Any) -> None:
        self.frames.append(bytes(data))

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def is_closing(self) -> bool:
        return False


async def test_members_open_retired_congested_and_skipped() -> None:
    """The broadcaster's inline write path: an open member is written to, a retired one
    (closing websocket) is not counted, a congested one has the frame held, the skipped
    sid gets nothing."""

    sio = HubServer(async_mode="aiohttp")
    eio = sio.eio
    transports = {
        "open": _FakeTransport(),
        "retired": _FakeTransport(),
        "congested": _FakeTransport(buffered=eio.wire_monitor.high_water + 1),
        "skipped": _FakeTransport(),
    }
    wires = {}
    sids = {}
    for name, transport in transports.items():
        eio_sid = eio.generate_id()
        sock = HubSocket(eio, eio_sid)
        sock.connected = sock.upgraded = True
        sock.wire = wires[name] = Wire(transport, eio.wire_monitor)
        eio.sockets[eio_sid] = sock
        sids[name] = await sio.manager.connect(eio_sid, "/")
        await sio.manager.enter_room(sids[name], "/", ROOM)
    wires["retired"].retire()
    fan = RoomBroadcaster(sio)
    sent = fan.broadcast(ROOM, "job:location", {"seq": 1}, key=ROOM, skip_sid=sids["skipped"])
    assert sent == 2  # open (written) + congested (held)
    assert transports["open"].frames == [ws_frame(b'42["job:location",{"seq":1}]')]
    assert transports["retired"].frames == transports["skipped"].frames == []
    assert transports["congested"].frames == []
    assert wires["congested"].latest == {ROOM: ws_frame(b'42["job:location",{"seq":1}]')}
    eio.wire_monitor._wires.clear()  # no flush timer left behind
    if eio.wire_monitor._timer is not None:
        eio.wire_monitor._timer.cancel()
