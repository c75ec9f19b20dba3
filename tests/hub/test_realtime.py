"""The Socket.IO layer over the real port: connect auth, origins, both transports, bad input,
transport limits (frame size, handshake timeout, stalled readers), credential expiry."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest

from api import keys
from tests.conftest import register
from tests.hub.realtime_support import (
    Client,
    RawSocket,
    connected,
    conversation,
    identities_of,
    port_of,
    refused,
    sio_of,
    token_of,
    until,
    url_of,
)

MakeClient = Callable[..., Any]


def session_closed(client: Client, sid: str) -> bool:
    sockets = sio_of(client).eio.sockets
    return sid not in sockets or bool(sockets[sid].closed)


def unauthorized(data: Any) -> bool:
    return isinstance(data, dict) and data.get("error", {}).get("code") == "unauthorized"


async def test_connect_without_token_is_refused(client: Client) -> None:
    assert unauthorized(await refused(client, None))
    assert unauthorized(await refused(client, {}))
    assert unauthorized(await refused(client, {"token": 42}))


async def test_connect_with_bad_token_is_refused(client: Client) -> None:
    user = await register(client)
    assert unauthorized(await refused(client, {"token": "not-a-jwt"}))
    assert unauthorized(await refused(client, {"token": user["access_token"][:-3] + "abc"}))
    # a refresh token is not an access token
    assert unauthorized(await refused(client, {"token": user["refresh_token"]}))


async def test_connect_with_expired_token_is_refused(make_client: MakeClient) -> None:
    client = await make_client(jwt_access_expiry_s=1)
    user = await register(client)
    tokens = client.app[keys.TOKENS]
    expires_at = tokens.verify(user["access_token"], "access").exp
    await until(lambda: tokens.now() >= expires_at, "the token to expire")
    data = await refused(client, {"token": user["access_token"]})
    assert unauthorized(data)
    assert "expired" in data["error"]["message"]


async def test_foreign_browser_origin_is_refused(make_client: MakeClient) -> None:
    client = await make_client(cors_origins=("https://app.example",))
    user = await register(client)
    token = token_of(user)
    data = await refused(client, {"token": token}, headers={"Origin": "https://evil.example"})
    assert unauthorized(data)
    # the listed origin, the hub's own and none at all (native apps) are accepted
    own = url_of(client).rstrip("/")
    for headers in ({"Origin": "https://app.example"}, {"Origin": own}, {}):
        async with connected(client, token, headers=headers) as sock:
            assert (await sock.call("chat:join", {"conversation_id": "nope"}))["ok"] is False


async def test_long_polling_works_and_answers_cors_for_listed_origins(
    make_client: MakeClient,
) -> None:
    client = await make_client(cors_origins=("https://app.example",))
    pair = await conversation(client)
    async with (
        connected(client, token_of(pair.customer), transports=("polling",)) as polling,
        connected(client, token_of(pair.contractor)) as ws,
    ):
        sent = {"conversation_id": pair.conversation_id, "body": "over polling"}
        ack = await polling.call("chat:send", {**sent, "client_msg_id": "p1"})
        assert ack["ok"] is True
        assert (await ws.next("chat:message"))[0]["body"] == "over polling"
        await ws.call("chat:send", {**sent, "body": "to polling", "client_msg_id": "w1"})
        assert (await polling.next("chat:message"))[0]["body"] == "to polling"
    for origin, allowed in (("https://app.example", True), ("https://evil.example", False)):
        resp = await client.get("/socket.io/?EIO=4&transport=polling", headers={"Origin": origin})
        assert resp.status == 200  # engine.io opens; the gateway refuses at the connect
        assert (resp.headers.get("Access-Control-Allow-Origin") == origin) is allowed
        await resp.read()


async def test_unknown_events_and_bad_payloads_do_no_harm(client: Client) -> None:
    user = await register(client)
    async with connected(client, token_of(user)) as sock:
        ack = await sock.call("no:such:event", {"x": 1})
        assert ack["ok"] is False and ack["error"]["code"] == "not_found"
        await sock.sio.emit("no:such:event", {"x": 1})  # no ack asked: nothing comes back
        # reserved names never reach the connect/disconnect handlers
        for reserved in ("connect", "disconnect"):
            ack = await sock.call(reserved, {"token": user["access_token"]})
            assert ack["error"]["code"] == "not_found"
        payload: Any
        for payload in (None, [], "text", 12, True, {"token": 5}):
            ack = await sock.call("auth:refresh", payload)
            assert ack["ok"] is False
            assert ack["error"]["code"] in ("validation_error", "unauthorized")
        assert sock.sid in identities_of(client)
        ack = await sock.call("auth:refresh", {"token": user["access_token"]})
        assert ack["ok"] is True


async def test_malformed_socketio_packets_drop_only_that_client(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    user = await register(client)
    async with connected(client, token_of(user)) as bystander:
        for bad in ("4garbage", "42{}", "42", "42[]", "421[", "41[1"):
            raw = await RawSocket.open(port_of(client))
            try:
                await raw.connect(token_of(user))
                raw.send(bad)
                assert await raw.closed_by_server(), bad
            finally:
                await raw.close()
        assert (await bystander.call("auth:refresh", {"token": token_of(user)}))["ok"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_frame_over_the_limit_closes_only_that_client(client: Client) -> None:
    pair = await conversation(client)
    async with (
        connected(client, token_of(pair.customer)) as big,
        connected(client, token_of(pair.contractor)) as other,
    ):
        limit = client.app[keys.SETTINGS].socket_max_frame_bytes
        big_sid = big.sid
        await big.sio.emit(
            "chat:send",
            {"conversation_id": pair.conversation_id, "body": "x" * limit, "client_msg_id": "b"},
        )
        await until(lambda: big_sid not in identities_of(client), "the big sender to go")
        await until(lambda: bool(big.disconnect_reasons), "the client to see the close")
        ack = await other.call(
            "chat:send",
            {"conversation_id": pair.conversation_id, "body": "still here", "client_msg_id": "s"},
        )
        assert ack["ok"] is True and ack["message"]["seq"] == 1  # the big one was not stored


async def test_disconnected_socket_is_cleaned_up_at_once(client: Client) -> None:
    user = await register(client)
    async with connected(client, token_of(user)) as sock:
        sid = sock.sid
        assert sid in identities_of(client)
    await until(lambda: sid not in identities_of(client), "the identity to go")
    await until(lambda: not sio_of(client).eio.sockets, "the engine.io session to go")
    presence = client.app[keys.PRESENCE]
    assert await presence.online_among([user["user"]["id"]]) == set()


async def test_vanished_websocket_is_cleaned_up_at_once(client: Client) -> None:
    user = await register(client)
    raw = await RawSocket.open(port_of(client))
    sid = await raw.connect(token_of(user))
    assert sid in identities_of(client)
    raw.writer.transport.abort()  # no close frame: the TCP connection just ends
    await until(lambda: sid not in identities_of(client), "the identity to go")
    await until(lambda: not sio_of(client).eio.sockets, "the engine.io session to go")


async def test_polling_client_that_stops_polling_is_dropped(client: Client) -> None:
    sio = sio_of(client)
    sio.eio.max_backlog_packets = 20
    pair = await conversation(client)
    base = "/socket.io/?EIO=4&transport=polling"
    resp = await client.get(base)
    opening = await resp.text()
    eio_sid = opening[opening.index('"sid":"') + 7 :].split('"')[0]
    resp = await client.post(
        f"{base}&sid={eio_sid}", data="40" + json.dumps({"token": token_of(pair.contractor)})
    )
    assert resp.status == 200
    await resp.read()
    resp = await client.get(f"{base}&sid={eio_sid}")
    assert (await resp.text()).startswith("40{")  # connected; and now it never polls again
    assert len(identities_of(client)) == 1
    for i in range(40):
        resp = await client.post(
            f"/api/v1/conversations/{pair.conversation_id}/messages",
            json={"body": f"m{i}", "client_msg_id": f"m{i}"},
            headers=pair.customer["auth"],
        )
        assert resp.status == 201
        await resp.read()
    await until(lambda: not identities_of(client), "the stalled polling client to go")
    assert sio.eio.sockets[eio_sid].queue.qsize() <= 1  # the backlog was freed (CLOSE left)


async def test_client_that_never_connects_to_a_namespace_is_dropped(client: Client) -> None:
    sio = sio_of(client)
    sio.connect_timeout = 0.2
    raw = await RawSocket.open(port_of(client))
    try:
        assert await raw.closed_by_server()
    finally:
        await raw.close()
    await until(lambda: not sio.eio.sockets, "the engine.io session to go")


async def test_refused_client_that_stays_is_dropped(client: Client) -> None:
    sio = sio_of(client)
    sio.connect_timeout = 0.2
    raw = await RawSocket.open(port_of(client))
    try:
        raw.send('40{"token":"bad"}')
        reply = await raw.recv()
        assert reply is not None and reply.startswith("44"), reply  # CONNECT_ERROR
        assert await raw.closed_by_server()
    finally:
        await raw.close()


async def test_malformed_polling_body_closes_that_session_cleanly(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    user = await register(client)
    base = "/socket.io/?EIO=4&transport=polling"
    for body in (b"\xff\xfe\x00", b"garbage", b"4" + b"\x1e" * 40, b"42{}", b"40{bad json"):
        resp = await client.get(base)
        opening = await resp.text()
        sid = opening[opening.index('"sid":"') + 7 :].split('"')[0]
        resp = await client.post(f"{base}&sid={sid}", data=body)
        assert resp.status in (200, 400)
        await resp.read()
        await until(partial(session_closed, client, sid), "the session to close")
        resp = await client.get(f"{base}&sid={sid}")  # the last poll: CLOSE, or unknown
        assert resp.status == 400 or (await resp.text()).endswith("1"), body
        await resp.read()
    async with connected(client, token_of(user), transports=("polling",)) as sock:
        assert (await sock.call("auth:refresh", {"token": token_of(user)}))["ok"] is True
    # no traceback (engineio logs its one-line "Invalid session" once per process, by design)
    assert not [r for r in caplog.records if r.exc_info or "handler error" in r.getMessage()]


async def test_client_that_stops_reading_is_dropped_and_others_keep_receiving(
    client: Client,
) -> None:
    sio = sio_of(client)
    sio.eio.max_backlog_bytes = 64 * 1024
    pair = await conversation(client)
    raw = await RawSocket.open(port_of(client), rcvbuf=2048)
    try:
        await raw.connect(token_of(pair.contractor))
        raw_count = len(identities_of(client))
        raw.stop_reading()
        async with connected(client, token_of(pair.contractor)) as reader:
            assert len(identities_of(client)) == raw_count + 1
            body = "y" * 3000
            sent = 0
            while len(identities_of(client)) > 1:  # until the stalled socket is gone
                resp = await client.post(
                    f"/api/v1/conversations/{pair.conversation_id}/messages",
                    json={"body": body, "client_msg_id": f"m{sent}"},
                    headers=pair.customer["auth"],
                )
                assert resp.status == 201
                await resp.read()
                sent += 1
                assert sent < 5000, "the stalled socket was never dropped"
            received = await reader.next("chat:message", sent)
            assert [m["seq"] for m in received] == list(range(1, sent + 1))
    finally:
        await raw.close()


async def test_expired_socket_is_told_and_dropped_unless_refreshed(
    make_client: MakeClient,
) -> None:
    client = await make_client(jwt_access_expiry_s=4)
    user = await register(client)
    other = await register(client)
    tokens = client.app[keys.TOKENS]
    role = user["user"]["role"]
    async with (
        connected(client, token_of(user)) as stale,
        connected(client, token_of(user)) as fresh,
    ):
        long_lived = tokens.issue(user["user"]["id"], role, "access", 3600).token
        ack = await fresh.call("auth:refresh", {"token": long_lived})
        assert ack["ok"] is True and ack["expires_at"].endswith("Z")
        wrong = await fresh.call("auth:refresh", {"token": token_of(other)})
        assert wrong["error"]["code"] == "forbidden"
        bad = await fresh.call("auth:refresh", {"token": "junk"})
        assert bad["error"]["code"] == "unauthorized"

        expired = await stale.next("auth:expired")
        assert expired[0]["error"]["code"] == "unauthorized"
        await until(lambda: bool(stale.disconnect_reasons), "the stale socket to be dropped")
        assert stale.disconnect_reasons[0] == stale.sio.reason.SERVER_DISCONNECT
        # the refreshed socket outlived the original token and works
        assert (await fresh.call("chat:join", {"conversation_id": "x"}))["error"][
            "code"
        ] == "not_found"
        assert fresh.sid in identities_of(client)


async def test_polling_session_upgrades_to_websocket(client: Client) -> None:
    user = await register(client)
    async with connected(client, token_of(user), transports=("polling", "websocket")) as sock:
        await until(lambda: sock.sio.transport() == "websocket", "the upgrade")
        assert (await sock.call("auth:refresh", {"token": token_of(user)}))["ok"] is True
