"""Forward compatibility of socket payloads (the contract's rule, docs/PROTOCOL-NOTES.md
"Unknown fields"): every Socket.IO event payload ignores fields this version does not know,
while the fields it knows stay strictly checked; REST bodies refuse unknown fields.

Over the real port, as an app of a newer release (``altitude_m``) or an older SDK
(``speed``) would send them, on each path a ``location:update`` can take.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from typing import Any

import msgspec

import api
import hub
from api import keys
from api.routes import ROUTES
from hub.core.validation import RequestBody, SocketPayload
from tests.hub.realtime_support import (
    Client,
    RawSocket,
    connected,
    conversation,
    port_of,
    token_of,
)
from tests.hub.tracking_support import base_ts, tracked_job

# What a newer app (or an older SDK) adds to a point; none of it may reach a watcher.
UNKNOWN = {"altitude_m": 35.5, "speed": 11.0, "floor": {"level": 2}, "provider": "fused"}
LOCATION_KEYS = {"job_id", "contractor_id", "lat", "lng", "ts", "eta_s", "distance_m"}

# msgspec types that are not client payloads: what nodes tell each other. Also tolerant of
# unknown fields (msgspec's default), so two releases can run side by side during a rollout.
BETWEEN_NODES = {
    "hub.jobs.changes.JobEvent",
    "hub.tracking.live_state.LivePoint",
    "hub.trust.revocations.Cut",
}


def _hub_structs() -> list[type[msgspec.Struct]]:
    for package in (hub, api):
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if not module.name.endswith("__main__"):
                importlib.import_module(module.name)
    found: list[type[msgspec.Struct]] = []
    todo = [msgspec.Struct]
    while todo:
        for sub in todo.pop().__subclasses__():
            todo.append(sub)
            if sub.__module__.split(".")[0] in ("hub", "api"):
                found.append(sub)
    return found


def test_every_payload_type_follows_its_sides_rule() -> None:
    structs = _hub_structs()
    assert {s.__name__ for s in structs} >= {"Point", "SendPayload", "JobBody", "RefreshPayload"}
    for struct in structs:
        name = f"{struct.__module__}.{struct.__qualname__}"
        forbids = struct.__struct_config__.forbid_unknown_fields
        if issubclass(struct, SocketPayload):
            assert not forbids, f"{name}: a socket payload must ignore unknown fields"
        elif issubclass(struct, RequestBody):
            assert forbids, f"{name}: a REST body must refuse unknown fields"
        else:
            assert name in BETWEEN_NODES, f"{name}: derive it from SocketPayload or RequestBody"
            assert not forbids, name
    for route in ROUTES:
        if route.body is not None:
            assert issubclass(route.body, RequestBody), route.path


def _without_ack_id(reply: str | None, ack_id: int) -> Any:
    prefix = f"43{ack_id}"
    assert reply is not None and reply.startswith(prefix), reply
    return json.loads(reply[len(prefix) :])[0]


async def test_a_point_with_unknown_fields_is_taken_and_fanned_out_without_them(
    client: Client,
) -> None:
    t = await tracked_job(client)
    ts = base_ts()
    async with (
        connected(client, token_of(t.customer)) as customer,
        connected(client, token_of(t.contractor)) as contractor,
    ):
        assert (await customer.call("job:watch", {"job_id": t.job_id}))["ok"] is True
        sent = t.at(2000, ts, heading=90.0, speed_mps=11.0, **UNKNOWN)
        ack = await contractor.call("location:update", sent)
        assert ack == {"ok": True, "accepted": True}
        [got] = await customer.next("job:location")
        assert set(got) == LOCATION_KEYS | {"heading", "speed_mps"}
        assert (got["lat"], got["lng"], got["ts"], got["heading"], got["speed_mps"]) == (
            sent["lat"],
            sent["lng"],
            ts,
            90.0,
            11.0,
        )
        # an older SDK's "speed" is not "speed_mps": the point goes without a speed
        ack = await contractor.call("location:update", t.at(1990, ts + 1000, speed=12.0))
        assert ack == {"ok": True, "accepted": True}
        got = (await customer.next("job:location", 2))[1]
        assert set(got) == LOCATION_KEYS
        # a batch with unknown fields beside its points and inside them
        points = [t.at(1980 - 10 * i, ts + 2000 + 1000 * i, **UNKNOWN) for i in range(3)]
        ack = await contractor.call("location:batch", {"points": points, "sent_at": ts + 9000})
        assert ack == {"ok": True, "accepted": 3}
        got = (await customer.next("job:location", 3))[2]  # a batch fans out its newest point
        assert set(got) == LOCATION_KEYS and got["ts"] == ts + 4000
    latest = client.app[keys.LIVE_STATE].latest(t.contractor_id)
    assert latest is not None and latest.ts == ts + 4000
    assert client.app[keys.TRACKER].accepted == 5


async def test_known_fields_stay_strict_beside_unknown_ones(client: Client) -> None:
    t = await tracked_job(client)
    ts = base_ts()
    ok = t.at(2000, ts, **UNKNOWN)
    bad_updates: list[tuple[dict[str, Any], str]] = [
        ({**ok, "lat": "12"}, "lat"),  # a number as a string
        ({**ok, "lat": 91.0}, "lat"),
        ({**ok, "lng": True}, "lng"),
        ({**ok, "ts": None}, "ts"),  # NaN and infinities as clients' JSON sends them: null
        ({**ok, "ts": 1e300}, "ts"),
        ({**ok, "accuracy_m": -3}, "accuracy_m"),
        ({**ok, "heading": "north"}, "heading"),
    ]
    bad_batches: list[tuple[dict[str, Any], str]] = [
        ({"points": [ok, {**t.at(1990, ts + 1000, **UNKNOWN), "lat": "x"}]}, "points[1].lat"),
        # "latitude" is not "lat": that point misses its lat
        ({"points": [ok, {"lng": 0.1, "ts": ts + 1, "latitude": 51.5}]}, "points[1]"),
        ({"points": {"0": ok}, "version": 2}, "points"),
    ]
    async with (
        connected(client, token_of(t.customer)) as customer,
        connected(client, token_of(t.contractor)) as contractor,
    ):
        assert (await customer.call("job:watch", {"job_id": t.job_id}))["ok"] is True
        for data, field in bad_updates:
            ack = await contractor.call("location:update", data)
            assert ack["ok"] is False and ack["error"]["code"] == "validation_error", (data, ack)
            assert list(ack["error"]["details"]["fields"]) == [field], ack
        for data, field in bad_batches:
            ack = await contractor.call("location:batch", data)
            assert ack["ok"] is False and ack["error"]["code"] == "validation_error", (data, ack)
            assert list(ack["error"]["details"]["fields"]) == [field], ack
        # nothing was taken nor fanned out; the next good point is
        assert client.app[keys.TRACKER].accepted == 0
        assert (await contractor.call("location:update", ok))["accepted"] is True
        [got] = await customer.next("job:location")
        assert got["ts"] == ts


async def test_the_fast_path_and_python_socketios_path_answer_alike(client: Client) -> None:
    """``42<id>["location:update",{...}]`` on a websocket runs from the packet
    (``GuardedServer._event_now``); any other spacing takes python-socketio's path. The
    same payload gets the same answer either way."""
    t = await tracked_job(client)
    ts = base_ts()
    fast = '42{id}["location:update",{data}]'
    usual = '42{id}[ "location:update" , {data}]'
    raw = await RawSocket.open(port_of(client))
    try:
        await raw.connect(token_of(t.contractor))
        ack_id = 0
        for i, framing in enumerate((fast, usual)):
            point = json.dumps(t.at(900 - 10 * i, ts + 1000 * i, **UNKNOWN))
            ack_id += 1
            raw.send(framing.format(id=ack_id, data=point))
            assert _without_ack_id(await raw.recv(), ack_id) == {"ok": True, "accepted": True}
        answers = []
        for framing in (fast, usual):
            bad = json.dumps({**t.at(800, ts + 5000, **UNKNOWN), "lat": "51.5"})
            ack_id += 1
            raw.send(framing.format(id=ack_id, data=bad))
            answers.append(_without_ack_id(await raw.recv(), ack_id))
        assert answers[0] == answers[1]
        assert answers[0]["error"]["code"] == "validation_error"
        assert list(answers[0]["error"]["details"]["fields"]) == ["lat"]
    finally:
        await raw.close()
    assert client.app[keys.TRACKER].accepted == 2


async def test_unknown_fields_over_long_polling(client: Client) -> None:
    t = await tracked_job(client)
    async with connected(client, token_of(t.contractor), transports=("polling",)) as sock:
        assert sock.sio.transport() == "polling"
        p = t.at(400, base_ts(), **UNKNOWN)
        assert await sock.call("location:update", p) == {"ok": True, "accepted": True}
        bad = await sock.call("location:update", {**p, "lng": "0"})
        assert bad["error"]["code"] == "validation_error"
        assert list(bad["error"]["details"]["fields"]) == ["lng"]
    assert client.app[keys.TRACKER].accepted == 1


async def test_chat_events_with_unknown_fields_are_served(client: Client) -> None:
    pair = await conversation(client)
    cid = pair.conversation_id
    extra = {"reply_to": 7, "attachments": [{"kind": "photo"}], "client_version": "4.2.0"}
    async with (
        connected(client, token_of(pair.customer)) as sender,
        connected(client, token_of(pair.contractor)) as receiver,
    ):
        joined = await receiver.call("chat:join", {"conversation_id": cid, **extra})
        assert joined == {"ok": True, "messages": [], "more": False}
        ack = await sender.call(
            "chat:send", {"conversation_id": cid, "body": "hi", "client_msg_id": "c-1", **extra}
        )
        assert ack["ok"] is True, ack
        message = ack["message"]
        assert set(message) == {
            "id",
            "conversation_id",
            "seq",
            "sender_id",
            "body",
            "client_msg_id",
            "created_at",
        }
        assert (message["body"], message["seq"]) == ("hi", 1)
        assert await receiver.next("chat:message") == [message]
        assert await sender.call("chat:typing", {"conversation_id": cid, **extra}) == {"ok": True}
        read = {"conversation_id": cid, "seq": 1, **extra}
        assert await receiver.call("chat:read", read) == {"ok": True}
        # known fields are still checked, and name themselves
        for data, field in (
            ({"conversation_id": cid, "body": 5, "client_msg_id": "c-2", **extra}, "body"),
            ({"conversation_id": cid, "body": "x", "client_msg_id": "", **extra}, "client_msg_id"),
            ({"conversation_id": [cid], "body": "x", "client_msg_id": "c-2"}, "conversation_id"),
        ):
            ack = await sender.call("chat:send", data)
            assert ack["ok"] is False and ack["error"]["code"] == "validation_error", ack
            assert list(ack["error"]["details"]["fields"]) == [field], ack
    # stored: the history over REST has the one message
    resp = await client.get(f"/api/v1/conversations/{cid}/messages", headers=pair.customer["auth"])
    assert [m["body"] for m in (await resp.json())["items"]] == ["hi"]


async def test_watch_refresh_and_connect_take_unknown_fields(client: Client) -> None:
    t = await tracked_job(client)
    async with connected(client, token_of(t.customer)) as sock:
        ack = await sock.call("job:watch", {"job_id": t.job_id, "with_route": True})
        assert ack["ok"] is True and ack["job"]["id"] == t.job_id
        ack = await sock.call("auth:refresh", {"token": token_of(t.customer), "device": "x"})
        assert ack["ok"] is True
        ack = await sock.call("auth:refresh", {"token": 42, "device": "x"})
        assert ack["error"]["code"] == "validation_error"
        assert list(ack["error"]["details"]["fields"]) == ["token"]
        ack = await sock.call("job:unwatch", {"job_id": t.job_id, "why": "done"})
        assert ack == {"ok": True}
    # the connect's auth too: a newer app sends its version beside the token
    raw = await RawSocket.open(port_of(client))
    try:
        raw.send("40" + json.dumps({"token": token_of(t.contractor), "app_version": "5.0"}))
        reply = await raw.recv()
        assert reply is not None and reply.startswith("40{"), reply
        point = json.dumps(t.at(300, base_ts(), **UNKNOWN))
        raw.send(f'421["location:update",{point}]')
        assert _without_ack_id(await raw.recv(), 1) == {"ok": True, "accepted": True}
    finally:
        await raw.close()
