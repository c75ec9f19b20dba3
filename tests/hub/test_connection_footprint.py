"""What an idle connection keeps and what an event costs: the trimmed paths still behave.

Each connected socket costs memory for as long as it lives, and every location point takes
the event path (docs/BENCHMARKS.md). These tests pin the trims: no handshake timer after the
connect, no queue in an idle bus subscription, plain dicts for rooms, the lean engine path
for a new websocket with a slimmer environ (engineio still answers every other request), the
middleware bypass of websocket upgrades only, plain text events decoded without a Packet, and
the socket event counter.
"""

from __future__ import annotations

import asyncio
import base64
import os
from typing import Any

from aiohttp.test_utils import make_mocked_request
from bidict import bidict

from api import keys
from hub.engine.bus import MemoryBus
from hub.engine.eio import _opens_websocket
from tests.conftest import register
from tests.hub.realtime_support import (
    Client,
    RawSocket,
    connected,
    port_of,
    sio_of,
    token_of,
    until,
)

WS_HEADERS = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Version": "13",
}


async def test_connected_socket_keeps_no_handshake_timer(client: Client) -> None:
    sio = sio_of(client)
    user = await register(client)
    raw = await RawSocket.open(port_of(client))
    try:
        assert len(sio._handshakes) == 1  # waiting for the Socket.IO connect
        await raw.connect(token_of(user))
        assert sio._handshakes == {}
    finally:
        await raw.close()


async def test_refused_connect_keeps_its_timer(client: Client) -> None:
    sio = sio_of(client)
    raw = await RawSocket.open(port_of(client))
    try:
        raw.send('40{"token":"bad"}')
        reply = await raw.recv()
        assert reply is not None and reply.startswith("44"), reply
        assert len(sio._handshakes) == 1  # so the refused client is still dropped in time
    finally:
        await raw.close()


async def test_rooms_are_plain_dicts_but_the_sid_index(client: Client) -> None:
    user = await register(client)
    manager = sio_of(client).manager
    async with connected(client, token_of(user)) as sock:
        rooms = manager.rooms["/"]
        assert isinstance(rooms[None], bidict)  # sid <-> engine sid, read both ways
        for name in (sock.sid, f"user:{user['user']['id']}"):
            assert type(rooms[name]).__mro__[1] is dict, type(rooms[name])
            assert dict(rooms[name]) == {sock.sid: manager.eio_sid_from_sid(sock.sid, "/")}
        assert dict(manager.get_participants("/", f"user:{user['user']['id']}")) == dict(
            rooms[sock.sid]
        )
        assert manager.sid_from_eio_sid(manager.eio_sid_from_sid(sock.sid, "/"), "/") == sock.sid
        await sio_of(client).emit("hello", {"n": 1}, room=f"user:{user['user']['id']}")
        assert await sock.next("hello") == [{"n": 1}]
    await until(lambda: f"user:{user['user']['id']}" not in manager.rooms.get("/", {}), "leave")


async def test_idle_bus_subscription_has_no_queue() -> None:
    bus = MemoryBus()
    got: list[bytes] = []

    async def handler(message: bytes) -> None:
        got.append(message)

    sub = await bus.subscribe("c", handler)
    assert sub._queue is None
    await bus.publish("c", b"one")
    await bus.publish("c", b"two")
    for _ in range(100):
        if len(got) == 2:
            break
        await asyncio.sleep(0.01)
    assert got == [b"one", b"two"]
    await sub.close()
    await bus.close()


def test_only_a_new_websocket_session_takes_the_lean_path() -> None:
    def req(query: str, headers: dict[str, str] | None = None, method: str = "GET") -> Any:
        return make_mocked_request(method, f"/socket.io/?{query}", headers=headers or {})

    ws = ["polling", "websocket"]
    assert _opens_websocket(req("EIO=4&transport=websocket", WS_HEADERS), ws)
    assert not _opens_websocket(req("EIO=4&transport=websocket", WS_HEADERS), ["polling"])
    assert not _opens_websocket(req("EIO=4&transport=websocket"), ws)  # no upgrade
    assert not _opens_websocket(req("EIO=3&transport=websocket", WS_HEADERS), ws)
    assert not _opens_websocket(req("EIO=4&transport=polling", WS_HEADERS), ws)
    assert not _opens_websocket(req("EIO=4&transport=websocket&sid=x", WS_HEADERS), ws)
    assert not _opens_websocket(req("EIO=4&transport=websocket&j=1", WS_HEADERS), ws)
    assert not _opens_websocket(req("EIO=4&transport=websocket", WS_HEADERS, "POST"), ws)
    assert not _opens_websocket(object(), ws)


async def test_engineio_still_answers_what_the_lean_path_leaves(client: Client) -> None:
    key = base64.b64encode(os.urandom(16)).decode()
    headers = {**WS_HEADERS, "Sec-WebSocket-Key": key}
    resp = await client.get("/socket.io/?EIO=3&transport=websocket", headers=headers)
    assert resp.status == 400
    assert "unsupported version" in await resp.text()
    resp = await client.get("/socket.io/?EIO=4&transport=websocket")  # no upgrade headers
    assert resp.status == 400
    assert "Invalid websocket upgrade" in await resp.text()
    resp = await client.get("/socket.io/?EIO=4&transport=websocket&sid=nope", headers=headers)
    assert resp.status == 400
    assert "Invalid session" in await resp.text()
    # polling still goes through the whole middleware chain (security headers, request id)
    resp = await client.get("/socket.io/?EIO=4&transport=polling", headers={"X-Request-ID": "r1"})
    assert resp.status == 200
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Request-ID"] == "r1"
    await resp.read()


async def test_websocket_session_is_counted_and_served(client: Client) -> None:
    user = await register(client)
    async with connected(client, token_of(user)) as sock:
        assert sock.sid in client.app[keys.GATEWAY].identities
        ack = await sock.call("job:unwatch", {"job_id": "j_none"})
        assert ack == {"ok": True}


async def test_websocket_environ_keeps_what_an_app_reads(client: Client) -> None:
    user = await register(client)
    async with connected(client, token_of(user)) as sock:
        environ = sio_of(client).get_environ(sock.sid)
        assert environ["REQUEST_METHOD"] == "GET"
        assert environ["PATH_INFO"] == "/socket.io/"
        assert "transport=websocket" in environ["QUERY_STRING"]
        assert environ["HTTP_UPGRADE"].lower() == "websocket"
        assert "HTTP_HOST" in environ and "aiohttp.request" in environ
        assert "wsgi.version" not in environ and "SERVER_SOFTWARE" not in environ


def test_plain_events_skip_the_packet_decode_and_nothing_else() -> None:
    from hub.engine.guard import _plain_event

    assert _plain_event('2["location:update",{"lat":1}]') == (None, '["location:update",{"lat":1}]')
    assert _plain_event('217["job:watch",{}]') == (17, '["job:watch",{}]')
    assert _plain_event("2" + "9" * 15 + '["e"]') == (int("9" * 15), '["e"]')
    for other in (
        "2" + "9" * 16 + '["e"]',  # a long id: python-socketio's own checks
        '2/chat,["e"]',  # another namespace
        '21-["e",{"_placeholder":true,"num":0}]',  # binary attachments
        '3["e"]',  # an ACK
        "2",
        '2{"a":1}',
        "2²[]",  # a digit, but not an ASCII one
        b'2["e"]',
        None,
    ):
        assert _plain_event(other) is None, other


async def test_plain_event_packets_behave_as_before(client: Client) -> None:
    """Acks, unknown events, reserved names and broken JSON through the fast path."""
    user = await register(client)
    raw = await RawSocket.open(port_of(client))
    try:
        await raw.connect(token_of(user))
        # Engine.IO MESSAGE ("4") carrying the Socket.IO packet
        raw.send('425["job:unwatch",{"job_id":"j1"}]')
        assert await raw.recv() == '435[{"ok":true}]'
        raw.send('426["no:such",{}]')
        reply = await raw.recv()
        assert reply is not None and reply.startswith('436[{"ok":false') and "not_found" in reply
        raw.send('427["disconnect"]')  # reserved: answered, never dispatched
        reply = await raw.recv()
        assert reply is not None and reply.startswith('437[{"ok":false') and "not_found" in reply
        raw.send('42["job:unwatch",{"job_id":"j1"}]')  # no ack asked: none sent
        raw.send('428["job:unwatch",{"job_id":"j1"}]')
        assert await raw.recv() == '438[{"ok":true}]'
        raw.send('42["job:unwatch",{oops')  # not JSON: the client is dropped
        assert await raw.closed_by_server()
    finally:
        await raw.close()


async def test_socket_events_are_counted(client: Client) -> None:
    user = await register(client)
    async with connected(client, token_of(user)) as sock:
        for _ in range(2):
            assert await sock.call("job:unwatch", {"job_id": "j1"}) == {"ok": True}
        assert (await sock.call("job:unwatch", {}))["ok"] is False
    resp = await client.get("/metrics")
    text = await resp.text()
    assert 'tradeshub_socket_events_total{event="job:unwatch",outcome="ok"} 2.0' in text
    assert (
        'tradeshub_socket_events_total{event="job:unwatch",outcome="validation_error"} 1.0' in text
    )


async def test_an_accepted_websocket_drops_its_http_parser_and_shares_writer_parts(
    client: Client,
) -> None:
    """Both ways into a websocket session (direct, and polling upgraded) slim the connection
    (``hub.engine.eio._slim``), and the slimmed connections still carry traffic both ways and
    close cleanly."""
    users = [await register(client) for _ in range(2)]
    eio = sio_of(client).eio
    async with (
        connected(client, token_of(users[0])) as direct,
        connected(client, token_of(users[1]), transports=("polling", "websocket")) as upgraded,
    ):
        await until(lambda: upgraded.sio.transport() == "websocket", "the upgrade")
        writers = []
        for sock in (direct, upgraded):
            eio_sid = sio_of(client).manager.eio_sid_from_sid(sock.sid, "/")
            response = eio.sockets[eio_sid]._sock
            assert response._req.protocol._parser is None
            writers.append(response._writer)
        for name in ("get_random_bits", "_send_lock", "_background_tasks"):
            assert getattr(writers[0], name) is getattr(writers[1], name), name
        assert writers[0].get_random_bits is eio.writer_parts.random_bits
        for sock, user in ((direct, users[0]), (upgraded, users[1])):
            room = f"user:{user['user']['id']}"
            await sio_of(client).emit("hello", {"to": room}, room=room)
            assert await sock.next("hello") == [{"to": room}]
            ack = await sock.call("auth:refresh", {"token": token_of(user)})
            assert ack["ok"] is True
    await until(lambda: not eio.sockets, "both sessions to end")
