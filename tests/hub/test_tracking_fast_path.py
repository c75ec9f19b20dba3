"""``location:update`` takes the server's fast path (``GuardedServer._event_now``: run from the
packet, ack written straight to the websocket) when it arrives as a plain text event on a
websocket; every other way of sending it takes python-socketio's path. Both must answer the
same: these tests send it each way over the real port."""

from __future__ import annotations

import json

from api import keys
from tests.hub.realtime_support import Client, RawSocket, connected, port_of, token_of, until
from tests.hub.tracking_support import base_ts, tracked_job


async def test_location_update_over_long_polling(client: Client) -> None:
    t = await tracked_job(client)
    async with connected(client, token_of(t.contractor), transports=("polling",)) as sock:
        assert sock.sio.transport() == "polling"
        p = t.at(400, base_ts())
        assert await sock.call("location:update", p) == {"ok": True, "accepted": True}
        assert await sock.call("location:update", p) == {"ok": True, "accepted": False}
        bad = await sock.call("location:update", {"lat": 1})
        assert bad["ok"] is False and bad["error"]["code"] == "validation_error"
    assert client.app[keys.TRACKER].accepted == 1


async def test_every_framing_of_location_update_answers_alike(client: Client) -> None:
    t = await tracked_job(client)
    tracker = client.app[keys.TRACKER]
    raw = await RawSocket.open(port_of(client))
    try:
        await raw.connect(token_of(t.contractor))
        points = [json.dumps(t.at(900 - 10 * i, base_ts() + 1000 * i)) for i in range(4)]
        # no ack id: taken, nothing answered (the next reply is the next ack's)
        raw.send(f'42["location:update",{points[0]}]')
        await until(lambda: tracker.accepted == 1, "the unacknowledged point")
        raw.send(f'427["location:update",{points[1]}]')
        assert await raw.recv() == '437[{"ok":true,"accepted":true}]'
        # unusual spacing: not the fast path's prefix, python-socketio's path, same answer
        raw.send(f'428[ "location:update" , {points[2]}]')
        assert await raw.recv() == '438[{"ok":true,"accepted":true}]'
        raw.send(f'429["location:update",{points[2]}]')  # a repeat
        assert await raw.recv() == '439[{"ok":true,"accepted":false}]'
        for framing in ('4210["location:update"]', '4210["location:update",null]'):
            raw.send(framing)
            reply = await raw.recv()
            assert reply is not None and reply.startswith("4310["), reply
            ack = json.loads(reply[4:])[0]
            assert ack["ok"] is False and ack["error"]["code"] == "validation_error", ack
        raw.send(f'4211["location:update",{points[3]},"extra"]')  # extra arguments are ignored
        assert await raw.recv() == '4311[{"ok":true,"accepted":true}]'
    finally:
        await raw.close()
    assert tracker.accepted == 4


async def test_only_a_connected_socket_is_served(client: Client) -> None:
    """An Engine.IO session that never sent the Socket.IO CONNECT is not in namespace "/":
    its location:update is ignored (python-socketio's rule), by either path."""
    t = await tracked_job(client)
    raw = await RawSocket.open(port_of(client))
    try:
        raw.send(f'421["location:update",{json.dumps(t.at(500, base_ts()))}]')
        await raw.connect(token_of(t.contractor))  # the next reply is the CONNECT's
        raw.send(f'422["location:update",{json.dumps(t.at(490, base_ts() + 1000))}]')
        assert await raw.recv() == '432[{"ok":true,"accepted":true}]'
    finally:
        await raw.close()
    assert client.app[keys.TRACKER].accepted == 1


async def test_a_customer_is_refused_on_the_fast_path(client: Client) -> None:
    t = await tracked_job(client)
    raw = await RawSocket.open(port_of(client))
    try:
        await raw.connect(token_of(t.customer))
        raw.send(f'423["location:update",{json.dumps(t.at(500, base_ts()))}]')
        reply = await raw.recv()
        assert reply is not None and reply.startswith("433["), reply
        assert json.loads(reply[3:])[0]["error"]["code"] == "forbidden"
    finally:
        await raw.close()
    assert client.app[keys.TRACKER].accepted == 0
