"""Arrival detection over the real port: two accepted points in a row within 100 m, or one
held 20 s of device time (repeats), move en_route to arrived; job:status follows."""

from __future__ import annotations

from typing import Any

from api import keys
from hub.notifications import store as notifications
from tests.hub.realtime_support import Client, Sock, connected, token_of
from tests.hub.tracking_support import Tracked, base_ts, tracked_job
from tests.support.waiting import eventually


async def send(sock: Sock, p: dict[str, Any], accepted: bool = True) -> None:
    ack = await sock.call("location:update", p)
    assert ack == {"ok": True, "accepted": accepted}, (p, ack)


async def job_status(client: Client, t: Tracked) -> str:
    resp = await client.get(f"/api/v1/jobs/{t.job_id}", headers=t.customer["auth"])
    return str((await resp.json())["status"])


async def settle(sock: Sock) -> None:
    """A round trip after which every event written to ``sock`` before was recorded."""
    assert await sock.call("job:unwatch", {"job_id": "j_settle"}) == {"ok": True}


async def test_two_points_in_a_row_within_100_m_arrive(client: Client) -> None:
    t = await tracked_job(client)
    ts = base_ts()
    async with (
        connected(client, token_of(t.customer)) as watcher,
        connected(client, token_of(t.customer)) as customers_phone,  # not watching
        connected(client, token_of(t.contractor)) as contractor,
    ):
        assert (await watcher.call("job:watch", {"job_id": t.job_id}))["ok"] is True
        await send(contractor, t.at(300, ts))
        await send(contractor, t.at(95, ts + 15_000))  # inside, once
        await send(contractor, t.at(150, ts + 18_000))  # outside again: the run restarts
        await send(contractor, t.at(90, ts + 25_000))  # inside, once
        await settle(watcher)
        assert watcher.got("job:status") == []
        await send(contractor, t.at(60, ts + 30_000))  # inside, twice in a row
        [arrived] = await watcher.next("job:status")
        assert arrived["job_id"] == t.job_id and arrived["status"] == "arrived"
        assert (await customers_phone.next("job:status"))[0]["status"] == "arrived"
        assert (await contractor.next("job:status"))[0]["status"] == "arrived"
        assert await job_status(client, t) == "arrived"
        await send(contractor, t.at(20, ts + 40_000))
        latest = (await watcher.next("job:location", 6))[-1]
        assert latest["eta_s"] == 0 and 15 < latest["distance_m"] < 25
        await settle(watcher)
        assert len(watcher.got("job:status")) == 1
    assert client.app[keys.TRACKER].arrivals == 1


async def test_one_point_held_20_s_of_device_time_arrives(client: Client) -> None:
    t = await tracked_job(client)
    ts = base_ts()
    held = t.at(40, ts + 10_000, accuracy_m=12.0)
    async with (
        connected(client, token_of(t.customer)) as watcher,
        connected(client, token_of(t.contractor)) as contractor,
    ):
        await watcher.call("job:watch", {"job_id": t.job_id})
        await send(contractor, t.at(500, ts))
        await send(contractor, held)
        # the phone keeps reporting the same fix: repeats are noise, but time passes
        await send(contractor, {**held, "ts": ts + 20_000}, accepted=False)
        await send(contractor, {**held, "ts": ts + 29_999}, accepted=False)
        await settle(watcher)
        assert watcher.got("job:status") == []
        assert await job_status(client, t) == "en_route"
        await send(contractor, {**held, "ts": ts + 30_000}, accepted=False)  # 20 s held
        [arrived] = await watcher.next("job:status")
        assert arrived["status"] == "arrived"


async def test_arrival_of_an_offline_customer_is_notified(client: Client) -> None:
    t = await tracked_job(client)
    ts = base_ts()
    async with connected(client, token_of(t.contractor)) as contractor:
        await send(contractor, t.at(50, ts))
        await send(contractor, t.at(45, ts + 1000))
        await contractor.next("job:status")

    async def recorded() -> list[tuple[str, dict[str, Any]]]:
        async with client.app[keys.POOL].acquire() as conn:
            return await notifications.for_user(conn, t.customer_id)

    await eventually(recorded)
    kinds = [(kind, payload["status"]) for kind, payload in await recorded()]
    assert ("job:status", "arrived") in kinds


async def test_no_arrival_outside_en_route(client: Client) -> None:
    t = await tracked_job(client, "assigned")
    ts = base_ts()
    async with connected(client, token_of(t.contractor)) as contractor:
        await send(contractor, t.at(10, ts))
        await send(contractor, t.at(5, ts + 1000))
        await settle(contractor)
    assert await job_status(client, t) == "assigned"
    assert client.app[keys.TRACKER].arrivals == 0
