"""Chat over the real port: python-socketio clients, conversations opened through REST."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from api import keys
from hub.notifications import store as notifications
from tests.conftest import register
from tests.hub.realtime_support import (
    Client,
    Pair,
    connected,
    conversation,
    identities_of,
    token_of,
)

MakeClient = Callable[..., Any]


def send(pair: Pair, body: str, client_msg_id: str) -> dict[str, Any]:
    return {"conversation_id": pair.conversation_id, "body": body, "client_msg_id": client_msg_id}


async def post(client: Client, pair: Pair, who: dict[str, Any], body: str, cmid: str) -> Any:
    resp = await client.post(
        f"/api/v1/conversations/{pair.conversation_id}/messages",
        json={"body": body, "client_msg_id": cmid},
        headers=who["auth"],
    )
    return resp.status, await resp.json()


async def test_send_reaches_every_socket_of_the_participants(client: Client) -> None:
    pair = await conversation(client)
    async with (
        connected(client, token_of(pair.customer)) as sender,
        connected(client, token_of(pair.customer)) as senders_phone,
        connected(client, token_of(pair.contractor)) as receiver,
    ):
        joined = await receiver.call("chat:join", {"conversation_id": pair.conversation_id})
        assert joined == {"ok": True, "messages": [], "more": False}
        ack = await sender.call("chat:send", send(pair, "  Hello there  ", "c-1"))
        assert ack["ok"] is True
        message = ack["message"]
        assert message == {
            "id": message["id"],
            "conversation_id": pair.conversation_id,
            "seq": 1,
            "sender_id": pair.customer_id,
            "body": "Hello there",
            "client_msg_id": "c-1",
            "created_at": message["created_at"],
        }
        assert message["created_at"].endswith("Z") and len(message["created_at"]) == 24
        assert (await receiver.next("chat:message")) == [message]
        assert (await senders_phone.next("chat:message")) == [message]
        # the sending socket has the ack instead; a later marker shows nothing else came
        await receiver.call("chat:send", send(pair, "marker", "k-1"))
        before_marker = await sender.events_until("chat:message", lambda m: m["body"] == "marker")
        assert "chat:message" not in before_marker


async def test_messages_arrive_in_order(client: Client) -> None:
    pair = await conversation(client)
    async with (
        connected(client, token_of(pair.customer)) as sender,
        connected(client, token_of(pair.contractor)) as receiver,
    ):
        acks = await asyncio.gather(
            *(sender.call("chat:send", send(pair, f"n{i}", f"o-{i}")) for i in range(8))
        )
        assert [a["message"]["seq"] for a in acks] == list(range(1, 9))
        got = await receiver.next("chat:message", 8)
        assert [m["body"] for m in got] == [f"n{i}" for i in range(8)]
        assert [m["seq"] for m in got] == list(range(1, 9))


async def test_resend_returns_the_stored_message_and_stores_nothing(client: Client) -> None:
    pair = await conversation(client)
    async with connected(client, token_of(pair.customer)) as sender:
        first = await sender.call("chat:send", send(pair, "once", "same"))
        again = await sender.call("chat:send", send(pair, "once, edited", "same"))
        assert again == first
        status, rest = await post(client, pair, pair.customer, "once", "same")
        assert status == 201 and rest == first["message"]
        # the same client_msg_id from the other participant is a different message
        status, theirs = await post(client, pair, pair.contractor, "mine", "same")
        assert status == 201 and theirs["seq"] == 2
    resp = await client.get(
        f"/api/v1/conversations/{pair.conversation_id}/messages", headers=pair.customer["auth"]
    )
    assert [m["seq"] for m in (await resp.json())["items"]] == [1, 2]


async def test_two_nodes_sending_concurrently_get_gapless_seqs(
    client: Client, make_client: MakeClient
) -> None:
    pair = await conversation(client)
    other_node = await make_client()
    sends = [
        post(
            client if i % 2 else other_node,
            pair,
            pair.customer if i % 3 else pair.contractor,
            f"m{i}",
            f"id-{i}",
        )
        for i in range(100)
    ]
    results = await asyncio.gather(*sends)
    assert {status for status, _ in results} == {201}
    assert sorted(m["seq"] for _, m in results) == list(range(1, 101))
    again = await asyncio.gather(
        *(
            post(
                other_node if i % 2 else client,
                pair,
                pair.customer if i % 3 else pair.contractor,
                f"m{i}",
                f"id-{i}",
            )
            for i in range(100)
        )
    )
    assert [m for _, m in again] == [m for _, m in results]  # resends store nothing
    resp = await client.get(
        f"/api/v1/conversations/{pair.conversation_id}/messages?after_seq=0&limit=200",
        headers=pair.contractor["auth"],
    )
    page = await resp.json()
    assert [m["seq"] for m in page["items"]] == list(range(1, 101))
    assert page["more"] is False


async def test_duplicate_sends_racing_store_one_message(client: Client) -> None:
    pair = await conversation(client)
    results = await asyncio.gather(
        *(post(client, pair, pair.customer, "dup", "racing") for _ in range(10))
    )
    assert {m["id"] for _, m in results} == {results[0][1]["id"]}
    _, next_one = await post(client, pair, pair.customer, "next", "after-race")
    assert next_one["seq"] == 2  # no seq was burnt by the losers


async def test_reconnect_replays_exactly_the_missed_messages(client: Client) -> None:
    pair = await conversation(client)
    async with connected(client, token_of(pair.customer)) as sender:
        async with connected(client, token_of(pair.contractor)) as receiver:
            for i in range(3):
                await sender.call("chat:send", send(pair, f"before {i}", f"b{i}"))
            seen = await receiver.next("chat:message", 3)
            last_seen = seen[-1]["seq"]
        for i in range(4):
            await sender.call("chat:send", send(pair, f"missed {i}", f"m{i}"))
        async with connected(client, token_of(pair.contractor)) as receiver:
            replay = await receiver.call(
                "chat:join", {"conversation_id": pair.conversation_id, "after_seq": last_seen}
            )
            assert [m["body"] for m in replay["messages"]] == [f"missed {i}" for i in range(4)]
            assert [m["seq"] for m in replay["messages"]] == [4, 5, 6, 7]
            assert replay["more"] is False
            client.app[keys.CHAT].page_size = 3
            first = await receiver.call("chat:join", {"conversation_id": pair.conversation_id})
            assert [m["seq"] for m in first["messages"]] == [1, 2, 3] and first["more"] is True
            rest = await receiver.call(
                "chat:join", {"conversation_id": pair.conversation_id, "after_seq": 6}
            )
            assert [m["seq"] for m in rest["messages"]] == [7] and rest["more"] is False


async def test_outsiders_get_not_found(client: Client) -> None:
    pair = await conversation(client)
    outsider = await register(client, "customer")
    cid = pair.conversation_id
    async with connected(client, token_of(outsider)) as sock:
        for event, data in (
            ("chat:send", send(pair, "let me in", "x")),
            ("chat:join", {"conversation_id": cid}),
            ("chat:typing", {"conversation_id": cid}),
            ("chat:read", {"conversation_id": cid, "seq": 1}),
            ("chat:join", {"conversation_id": "cv_does_not_exist"}),
        ):
            ack = await sock.call(event, data)
            assert ack["ok"] is False and ack["error"]["code"] == "not_found", (event, ack)
    for method, path in (
        ("GET", f"/api/v1/conversations/{cid}/messages"),
        ("POST", f"/api/v1/conversations/{cid}/messages"),
    ):
        resp = await client.request(
            method, path, json={"body": "hi", "client_msg_id": "o"}, headers=outsider["auth"]
        )
        assert resp.status == 404
        assert (await resp.json())["error"]["code"] == "not_found"
    resp = await client.get("/api/v1/conversations", headers=outsider["auth"])
    assert await resp.json() == []


async def test_bad_payloads_are_answered_and_harmless(client: Client) -> None:
    pair = await conversation(client)
    cid = pair.conversation_id
    bad: list[tuple[str, Any]] = [
        ("chat:send", None),
        ("chat:send", []),
        ("chat:send", "hello"),
        ("chat:send", 7),
        ("chat:send", {}),
        ("chat:send", {"conversation_id": cid, "body": "no id"}),
        ("chat:send", {"conversation_id": cid, "client_msg_id": "no body"}),
        ("chat:send", {"conversation_id": cid, "body": 5, "client_msg_id": "x"}),
        ("chat:send", {"conversation_id": [cid], "body": "x", "client_msg_id": "x"}),
        ("chat:send", {"conversation_id": cid, "body": "x", "client_msg_id": ""}),
        ("chat:send", {"conversation_id": cid, "body": "x" * 4001, "client_msg_id": "x"}),
        ("chat:send", {"conversation_id": cid, "body": "", "client_msg_id": "x"}),
        ("chat:send", {"conversation_id": cid, "body": " \n\t \u3000 ", "client_msg_id": "x"}),
        ("chat:send", {"conversation_id": cid, "body": "\x00\x07", "client_msg_id": "x"}),
        ("chat:send", {"conversation_id": cid, "body": 5, "client_msg_id": "x", "extra": 1}),
        ("chat:join", {"conversation_id": cid, "after_seq": -1}),
        ("chat:join", {"conversation_id": cid, "after_seq": "3"}),
        ("chat:join", {"conversation_id": cid, "after_seq": 1.5}),
        ("chat:read", {"conversation_id": cid}),
        ("chat:read", {"conversation_id": cid, "seq": True}),
        ("chat:typing", {}),
    ]
    async with connected(client, token_of(pair.customer)) as sock:
        for event, data in bad:
            ack = await sock.call(event, data)
            assert ack["ok"] is False, (event, data)
            assert ack["error"]["code"] == "validation_error", (event, ack)
        ack = await sock.call("chat:send", send(pair, "x" * 4000, "max"))
        assert ack["ok"] is True and len(ack["message"]["body"]) == 4000
        ack = await sock.call("chat:send", send(pair, "\ta\x00b\u0007c\r\n\td\u200d ", "ctl"))
        assert ack["message"]["body"] == "abc\n\td\u200d"
        assert ack["message"]["seq"] == 2
        assert sock.sid in identities_of(client)
    body: Any
    for body in ({"body": "x" * 4001, "client_msg_id": "r"}, {"body": "  "}, [], {"body": 1}):
        resp = await client.post(
            f"/api/v1/conversations/{cid}/messages", json=body, headers=pair.customer["auth"]
        )
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == "validation_error"


async def test_typing_is_throttled_per_user_and_conversation(client: Client) -> None:
    pair = await conversation(client)
    async with (
        connected(client, token_of(pair.customer)) as typist,
        connected(client, token_of(pair.contractor)) as watcher,
    ):
        for _ in range(3):
            assert await typist.call("chat:typing", {"conversation_id": pair.conversation_id}) == {
                "ok": True
            }
        await typist.call("chat:send", send(pair, "marker", "t-1"))
        before = await watcher.events_until("chat:message", lambda m: m["body"] == "marker")
        assert before.count("chat:typing") == 1
        assert watcher.got("chat:typing")[0] == {
            "conversation_id": pair.conversation_id,
            "user_id": pair.customer_id,
        }
        assert "chat:typing" not in typist.got("chat:typing")


async def test_read_positions_never_move_backwards(client: Client) -> None:
    pair = await conversation(client)
    cid = pair.conversation_id
    async with (
        connected(client, token_of(pair.customer)) as writer,
        connected(client, token_of(pair.contractor)) as reader,
    ):
        for i in range(5):
            await writer.call("chat:send", send(pair, f"m{i}", f"r{i}"))
        assert await reader.call("chat:read", {"conversation_id": cid, "seq": 3}) == {"ok": True}
        assert await reader.call("chat:read", {"conversation_id": cid, "seq": 1}) == {"ok": True}
        assert await reader.call("chat:read", {"conversation_id": cid, "seq": 99}) == {"ok": True}
        await reader.call("chat:send", send(pair, "marker", "r-marker"))
        await writer.events_until("chat:message", lambda m: m["body"] == "marker")
        assert writer.got("chat:read") == [
            {"conversation_id": cid, "user_id": pair.contractor_id, "seq": 3},
            {"conversation_id": cid, "user_id": pair.contractor_id, "seq": 5},
        ]
    resp = await client.get("/api/v1/conversations", headers=pair.contractor["auth"])
    (listed,) = await resp.json()
    assert listed == {
        "id": cid,
        "job_id": pair.job_id,
        "participant_ids": [pair.customer_id, pair.contractor_id],
        "last_seq": 6,
        "last_read_seq": 5,
    }


async def test_presence_is_announced_to_partners_without_flapping(client: Client) -> None:
    pair = await conversation(client)
    async with connected(client, token_of(pair.contractor)) as partner:
        async with connected(client, token_of(pair.customer)):
            online = await partner.next("presence")
            assert online == [{"user_id": pair.customer_id, "online": True}]
        # a quick reconnect within the grace is not announced
        async with connected(client, token_of(pair.customer)) as back:
            await asyncio.sleep(2.5)  # longer than the offline grace
            await back.call("chat:send", send(pair, "marker", "p-1"))
            before = await partner.events_until("chat:message", lambda m: m["body"] == "marker")
            assert before.count("presence") == 1
        offline = await partner.next("presence", 2)
        assert offline[1] == {"user_id": pair.customer_id, "online": False}


async def test_send_rate_is_limited_per_socket(client: Client) -> None:
    pair = await conversation(client)
    async with (
        connected(client, token_of(pair.customer)) as fast,
        connected(client, token_of(pair.customer)) as other,
    ):
        acks = await asyncio.gather(
            *(fast.call("chat:send", send(pair, f"f{i}", f"f{i}")) for i in range(40))
        )
        limited = [a for a in acks if not a["ok"]]
        assert limited and all(a["error"]["code"] == "rate_limited" for a in limited)
        assert limited[0]["error"]["details"]["retry_after_s"] >= 1
        assert sum(a["ok"] for a in acks) >= 10
        # another socket of the same user has its own bucket; the fast one stays connected
        assert (await other.call("chat:send", send(pair, "other", "o")))["ok"] is True
        assert fast.sid in identities_of(client)
        await asyncio.sleep(1.1)
        assert (await fast.call("chat:send", send(pair, "later", "later")))["ok"] is True


async def test_offline_participant_gets_a_notification(client: Client) -> None:
    pair = await conversation(client)
    async with connected(client, token_of(pair.customer)) as sender:
        ack = await sender.call("chat:send", send(pair, "are you there?", "n-1"))
    pool = client.app[keys.POOL]
    for _ in range(1000):  # the fan-out follows the ack
        async with pool.acquire() as conn:
            got = await notifications.for_user(conn, pair.contractor_id)
        if ("chat:message", ack["message"]) in got:
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("no offline notification recorded")
    async with pool.acquire() as conn:
        mine = await notifications.for_user(conn, pair.customer_id)
    assert not [kind for kind, _ in mine if kind == "chat:message"]


async def test_rest_history_pages_and_listing_order(client: Client) -> None:
    pair = await conversation(client)
    second = await conversation(client, customer=pair.customer)
    cid = pair.conversation_id
    for i in range(7):
        await post(client, pair, pair.customer, f"m{i}", f"h{i}")
    await post(client, second, second.contractor, "newest", "n")
    resp = await client.get("/api/v1/conversations", headers=pair.customer["auth"])
    listed = await resp.json()
    assert [c["id"] for c in listed] == [second.conversation_id, cid]

    async def page(query: str) -> tuple[list[int], bool]:
        resp = await client.get(
            f"/api/v1/conversations/{cid}/messages{query}", headers=pair.contractor["auth"]
        )
        assert resp.status == 200, await resp.text()
        body = await resp.json()
        return [m["seq"] for m in body["items"]], body["more"]

    assert await page("") == ([1, 2, 3, 4, 5, 6, 7], False)
    assert await page("?limit=3") == ([5, 6, 7], True)
    assert await page("?before_seq=5&limit=3") == ([2, 3, 4], True)
    assert await page("?before_seq=4&limit=3") == ([1, 2, 3], False)
    assert await page("?after_seq=2&limit=3") == ([3, 4, 5], True)
    assert await page("?after_seq=4&limit=3") == ([5, 6, 7], False)
    assert await page("?after_seq=1&before_seq=5&limit=10") == ([2, 3, 4], False)
    assert await page("?after_seq=1&before_seq=5&limit=2") == ([2, 3], True)
    for bad in ("?limit=0", "?limit=201", "?after_seq=-1", "?before_seq=x"):
        resp = await client.get(
            f"/api/v1/conversations/{cid}/messages{bad}", headers=pair.contractor["auth"]
        )
        assert resp.status == 400, bad
        await resp.read()


async def test_rest_post_reaches_sockets(client: Client) -> None:
    pair = await conversation(client)
    async with connected(client, token_of(pair.customer)) as own:
        status, message = await post(client, pair, pair.customer, "from the web", "w-1")
        assert status == 201
        assert (await own.next("chat:message")) == [message]


async def test_unread_state_is_per_user(client: Client) -> None:
    pair = await conversation(client)
    await post(client, pair, pair.customer, "one", "u1")
    resp = await client.get("/api/v1/conversations", headers=pair.contractor["auth"])
    (listed,) = await resp.json()
    assert (listed["last_seq"], listed["last_read_seq"]) == (1, 0)
