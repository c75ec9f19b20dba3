"""Push notifications end to end: REST and sockets in, firebase-admin out to a local fake FCM.

Each hub here is a real app (create_app) on the session's PostgreSQL, pushing through
firebase-admin to :mod:`tests.fakes.fcm`, reached through a service-account JSON whose
token_uri points at the fake and FCM_ENDPOINT. The outbox is the session's, shared like a
cluster's: assertions look at this test's device tokens only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from api import keys
from tests.api.jobs_support import assigned_job, contractor_at, post_job, set_status, spot
from tests.api.push_support import (
    Client,
    add_device,
    fcm,
    hub,
    pushes_to,
    say,
)
from tests.conftest import register
from tests.fakes.fcm import QUOTA_EXCEEDED, UNAVAILABLE, FakeFcm
from tests.hub.realtime_support import connected, conversation, token_of
from tests.support.waiting import eventually

__all__ = ["fcm", "hub"]  # fixtures


async def test_chat_to_an_offline_customer_is_pushed_with_the_contract_fields(
    hub: Client, fcm: FakeFcm
) -> None:
    pair = await conversation(hub)
    token = await add_device(hub, pair.customer, "ios")
    message = await say(hub, pair.contractor, pair.conversation_id, "On my way,   bringing\nparts")
    [push] = await pushes_to(fcm, token, 1)
    assert push["token"] == token
    assert push["notification"] == {
        "title": pair.contractor["user"]["name"],
        "body": "On my way, bringing parts",
    }
    assert push["data"] == {
        "kind": "chat:message",
        "conversation_id": pair.conversation_id,
        "seq": str(message["seq"]),
    }
    collapse = f"chat:{pair.conversation_id}"
    assert push["android"]["collapse_key"] == collapse
    assert push["android"]["priority"] == "high"
    assert push["android"]["ttl"] == "3600s"
    assert push["apns"]["headers"]["apns-collapse-id"] == collapse
    assert push["apns"]["headers"]["apns-priority"] == "10"
    assert push["webpush"]["headers"]["Urgency"] == "high"
    assert fcm.per_token()[token] == 1


async def test_each_status_of_an_en_route_job_is_pushed_to_the_offline_customer(
    hub: Client, fcm: FakeFcm
) -> None:
    customer, contractor, job = await assigned_job(hub)
    token = await add_device(hub, customer)
    seen = 0
    for status in ("en_route", "arrived", "in_progress", "completed"):
        code, _ = await set_status(hub, contractor, job["id"], status)
        assert code == 200
        if status != "in_progress":  # the customer is there when work starts: not pushed
            seen += 1
            pushes = await pushes_to(fcm, token, seen)
            assert pushes[-1]["data"] == {
                "kind": "job:status",
                "job_id": job["id"],
                "status": status,
            }
    bodies = [p["notification"]["body"] for p in fcm.delivered_to(token)]
    assert bodies == [
        "Your contractor is on the way",
        "Your contractor has arrived",
        "Your job is completed",
    ]
    titles = {p["notification"]["title"] for p in fcm.delivered_to(token)}
    assert titles == {"Leaking tap"}
    priorities = [p["android"]["priority"] for p in fcm.delivered_to(token)]
    assert priorities == ["normal", "high", "normal"]
    assert {p["android"]["collapse_key"] for p in fcm.delivered_to(token)} == {f"job:{job['id']}"}
    # A cancelled job is pushed too, and the one who acted gets nothing about it.
    customer2, contractor2, job2 = await assigned_job(hub)
    token2 = await add_device(hub, customer2)
    contractor_token = await add_device(hub, contractor2)
    assert (await set_status(hub, contractor2, job2["id"], "en_route"))[0] == 200
    assert (await set_status(hub, customer2, job2["id"], "cancelled"))[0] == 200
    pushes = await pushes_to(fcm, token2, 1)
    [to_contractor] = await pushes_to(fcm, contractor_token, 1)
    assert to_contractor["data"]["status"] == "cancelled"
    assert [p["data"]["status"] for p in pushes] == ["en_route"]


async def test_the_en_route_push_carries_the_eta_when_the_contractor_is_tracked(
    hub: Client, fcm: FakeFcm
) -> None:
    customer, contractor, job = await assigned_job(hub)
    token = await add_device(hub, customer)
    lat, lng = job["location"]["lat"], job["location"]["lng"]
    async with connected(hub, token_of(contractor)) as sock:
        import time

        ack = await sock.call(
            "location:update", {"lat": lat + 0.02, "lng": lng, "ts": time.time() * 1000}
        )
        assert ack["ok"] and ack["accepted"]
        assert (await set_status(hub, contractor, job["id"], "en_route"))[0] == 200
    [push] = await pushes_to(fcm, token, 1)
    eta = int(push["data"]["eta_s"])
    assert 200 < eta < 600  # about 2.2 km, with the detour factor, at city speed
    assert "arriving in about" in push["notification"]["body"]


async def test_an_online_user_gets_no_push_and_no_notification(hub: Client, fcm: FakeFcm) -> None:
    pair = await conversation(hub)
    online = await add_device(hub, pair.customer)
    offline = await add_device(hub, pair.contractor)
    async with connected(hub, token_of(pair.customer)) as customer:
        await say(hub, pair.contractor, pair.conversation_id, "customer is online")
        await customer.next("chat:message")
        # The contractor (no socket) answers: their own device gets nothing about it, and
        # the customer's reply below is their cue.
        await say(hub, pair.customer, pair.conversation_id, "contractor is offline")
        [push] = await pushes_to(fcm, offline, 1)
    assert push["notification"]["body"] == "contractor is offline"
    assert fcm.delivered_to(online) == []
    resp = await hub.get("/api/v1/notifications", headers=pair.customer["auth"])
    assert (await resp.json())["items"] == []


async def test_two_devices_get_one_push_each(hub: Client, fcm: FakeFcm) -> None:
    pair = await conversation(hub)
    phone = await add_device(hub, pair.customer, "android")
    tablet = await add_device(hub, pair.customer, "web")
    await add_device(hub, pair.customer, "android", phone)  # registering again is harmless
    await say(hub, pair.contractor, pair.conversation_id, "hello")
    await pushes_to(fcm, phone, 1)
    await pushes_to(fcm, tablet, 1)
    await say(hub, pair.contractor, pair.conversation_id, "second")
    await pushes_to(fcm, phone, 2)
    await pushes_to(fcm, tablet, 2)
    counts = fcm.per_token()
    assert (counts[phone], counts[tablet]) == (2, 2)


async def test_an_unregistered_token_is_deleted(hub: Client, fcm: FakeFcm) -> None:
    pair = await conversation(hub)
    dead = await add_device(hub, pair.customer)
    alive = await add_device(hub, pair.customer)
    fcm.unregistered.add(dead)
    await say(hub, pair.contractor, pair.conversation_id, "anyone?")
    await pushes_to(fcm, alive, 1)
    worker = hub.app[keys.PUSH_WORKER]
    await eventually(lambda: worker.pruned == 1)
    resp = await hub.delete(f"/api/v1/devices/{dead}", headers=pair.customer["auth"])
    assert resp.status == 404  # gone already
    await say(hub, pair.contractor, pair.conversation_id, "still there?")
    await pushes_to(fcm, alive, 2)
    assert fcm.delivered_to(dead) == []
    metrics = await (await hub.get("/metrics")).text()
    assert "tradeshub_push_tokens_pruned_total 1.0" in metrics


async def test_unavailable_and_quota_answers_are_retried_and_delivered_once(
    hub: Client, fcm: FakeFcm
) -> None:
    pair = await conversation(hub)
    token = await add_device(hub, pair.customer)
    fcm.script[token].extend([UNAVAILABLE, QUOTA_EXCEEDED])  # each with Retry-After: 1
    await say(hub, pair.contractor, pair.conversation_id, "are you there?")
    [push] = await pushes_to(fcm, token, 1, within=15)
    assert push["notification"]["body"] == "are you there?"
    worker = hub.app[keys.PUSH_WORKER]
    await eventually(lambda: worker.sent == 1)  # recorded just after FCM answered
    assert (worker.retried, worker.failed) == (2, 0)
    await say(hub, pair.contractor, pair.conversation_id, "after the outage")
    await pushes_to(fcm, token, 2, within=15)
    await eventually(lambda: worker.sent == 2)
    assert len(fcm.delivered_to(token)) == 2
    metrics = await (await hub.get("/metrics")).text()
    assert "tradeshub_push_retried_total 2.0" in metrics
    assert "tradeshub_push_sent_total 2.0" in metrics


async def test_a_push_that_keeps_failing_is_marked_failed_after_its_attempts(
    make_client: Any, fcm: FakeFcm, tmp_path: Path
) -> None:
    from tests.api.push_support import push_settings

    hub = await make_client(**push_settings(fcm, tmp_path, push_max_attempts=2))
    pair = await conversation(hub)
    token = await add_device(hub, pair.customer)
    fcm.script[token].extend([UNAVAILABLE, UNAVAILABLE])
    await say(hub, pair.contractor, pair.conversation_id, "lost")
    worker = hub.app[keys.PUSH_WORKER]
    await eventually(lambda: worker.failed == 1, within=15)
    assert fcm.delivered_to(token) == []
    async with hub.app[keys.POOL].acquire() as conn:
        row = await conn.fetchrow("SELECT state, attempts FROM push_outbox WHERE token = $1", token)
    assert (row["state"], row["attempts"]) == ("failed", 2)
    metrics = await (await hub.get("/metrics")).text()
    assert "tradeshub_push_failed_total 1.0" in metrics


async def test_an_offer_to_an_offline_contractor_is_pushed(hub: Client, fcm: FakeFcm) -> None:
    lat, lng = spot()
    contractor = await contractor_at(hub, lat, lng)
    token = await add_device(hub, contractor)
    customer = await register(hub, "customer")
    job = await post_job(hub, customer, lat, lng, title="Burst pipe under the sink")
    [push] = await pushes_to(fcm, token, 1)
    assert push["data"] == {"kind": "job:offer", "job_id": job["id"]}
    assert push["notification"] == {
        "title": "New job near you",
        "body": "Burst pipe under the sink",
    }
    resp = await hub.get("/api/v1/notifications", headers=contractor["auth"])
    [item] = (await resp.json())["items"]
    assert item["kind"] == "job:offer" and item["payload"]["job"]["id"] == job["id"]


async def test_a_burst_collapses_into_one_push_per_device(hub: Client, fcm: FakeFcm) -> None:
    pair = await conversation(hub)
    token = await add_device(hub, pair.customer)
    fcm.held.clear()  # FCM slow: the first push is in flight while the burst is written
    await say(hub, pair.contractor, pair.conversation_id, "1")
    await eventually(lambda: fcm.requests_to[token] == 1)
    for i in range(2, 11):
        await say(hub, pair.contractor, pair.conversation_id, str(i))
    fcm.held.set()
    pushes = await pushes_to(fcm, token, 2)
    assert [p["notification"]["body"] for p in pushes] == ["1", "10"]
    assert {p["android"]["collapse_key"] for p in pushes} == {f"chat:{pair.conversation_id}"}
    await eventually(lambda: hub.app[keys.PUSH_WORKER].collapsed == 8)
    # The inbox keeps every message.
    resp = await hub.get("/api/v1/notifications?limit=100", headers=pair.customer["auth"])
    assert len((await resp.json())["items"]) == 10


async def test_an_unreadable_notification_fails_alone(hub: Client, fcm: FakeFcm) -> None:
    pair = await conversation(hub)
    token = await add_device(hub, pair.customer)
    async with hub.app[keys.POOL].acquire() as conn:  # a row no release of the hub wrote
        notification = await conn.fetchval(
            "INSERT INTO notifications (user_id, kind, payload)"
            " VALUES ($1, 'chat:message', $2) RETURNING id",
            pair.customer_id,
            {"unexpected": True},
        )
        await conn.execute(
            "INSERT INTO push_outbox (notification_id, token, collapse_key)"
            " VALUES ($1, $2, 'chat:elsewhere')",
            notification,
            token,
        )
    await say(hub, pair.contractor, pair.conversation_id, "still delivered")
    [push] = await pushes_to(fcm, token, 1)
    assert push["notification"]["body"] == "still delivered"

    async def state() -> Any:
        async with hub.app[keys.POOL].acquire() as conn:
            return await conn.fetchval(
                "SELECT state FROM push_outbox WHERE notification_id = $1", notification
            )

    async def failed() -> bool:
        return await state() == "failed"

    await eventually(failed)
