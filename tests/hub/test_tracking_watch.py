"""job:watch / job:unwatch and job:location over the real port: who gets which points, the
late joiner's ack, who may watch, and the contractor -> job cache following status changes."""

from __future__ import annotations

from typing import Any

from tests.api.jobs_support import admin, apply, contractor_at, post_job, set_status, spot
from tests.conftest import register
from tests.hub.realtime_support import Client, Sock, connected, token_of
from tests.hub.tracking_support import base_ts, tracked_job

LOCATION_KEYS = {"job_id", "contractor_id", "lat", "lng", "ts"}


async def watch(sock: Sock, job_id: str) -> Any:
    return await sock.call("job:watch", {"job_id": job_id})


async def send(sock: Sock, p: dict[str, Any]) -> None:
    ack = await sock.call("location:update", p)
    assert ack == {"ok": True, "accepted": True}, (p, ack)


async def test_watchers_get_each_accepted_point_with_eta_and_distance(client: Client) -> None:
    t = await tracked_job(client)
    ts = base_ts()
    async with (
        connected(client, token_of(t.customer)) as customer,
        connected(client, token_of(t.customer)) as customers_tablet,
        connected(client, token_of(t.contractor)) as contractor,
    ):
        ack = await watch(customer, t.job_id)
        assert ack == {"ok": True, "job": {"id": t.job_id, "status": "en_route"}}
        assert (await watch(customers_tablet, t.job_id))["ok"] is True
        first = t.at(2000, ts, accuracy_m=6.5, heading=180.0, speed_mps=11.0)
        await send(contractor, first)
        [got] = await customer.next("job:location")
        assert set(got) == LOCATION_KEYS | {
            "accuracy_m",
            "heading",
            "speed_mps",
            "eta_s",
            "distance_m",
        }
        assert {k: got[k] for k in ("lat", "lng", "ts", "accuracy_m", "heading", "speed_mps")} == {
            k: first[k] for k in ("lat", "lng", "ts", "accuracy_m", "heading", "speed_mps")
        }
        assert got["job_id"] == t.job_id and got["contractor_id"] == t.contractor_id
        assert 1990 < got["distance_m"] < 2010
        assert got["eta_s"] > 60
        # noise is not fanned out: a repeat, then a real point as the marker
        ack = await contractor.call("location:update", {**first, "ts": ts + 1000})
        assert ack["accepted"] is False
        await send(contractor, t.at(1990, ts + 2000))
        points = await customer.next("job:location", 2)
        assert [p["ts"] for p in points] == [ts, ts + 2000]
        assert set(points[1]) == LOCATION_KEYS | {"eta_s", "distance_m"}  # optional ones left out
        assert [p["ts"] for p in await customers_tablet.next("job:location", 2)] == [ts, ts + 2000]
        # the contractor did not watch: no echo of its own points
        assert contractor.got("job:location") == []


async def test_points_go_to_their_job_only(client: Client) -> None:
    a = await tracked_job(client)
    b = await tracked_job(client)
    ts = base_ts()
    async with (
        connected(client, token_of(a.customer)) as a_customer,
        connected(client, token_of(b.customer)) as b_watcher,
        connected(client, token_of(a.contractor)) as a_contractor,
        connected(client, token_of(b.contractor)) as b_contractor,
    ):
        assert (await watch(b_watcher, b.job_id))["ok"] is True
        for i in range(3):
            await send(a_contractor, a.at(1000 - i * 10, ts + i * 1000))
        await send(b_contractor, b.at(500, ts))  # marker for b's watcher
        before = await b_watcher.events_until("job:location", lambda p: p["job_id"] == b.job_id)
        assert "job:location" not in before
        # a's customer was connected but not watching: nothing until it watches
        assert (await watch(a_customer, a.job_id))["ok"] is True
        await send(a_contractor, a.at(900, ts + 10_000))
        [only] = await a_customer.next("job:location")
        assert only["ts"] == ts + 10_000
        assert [p["job_id"] for p in b_watcher.got("job:location")] == [b.job_id]


async def test_late_joiner_gets_the_latest_point_in_the_ack(client: Client) -> None:
    t = await tracked_job(client)
    ts = base_ts()
    async with connected(client, token_of(t.contractor)) as contractor:
        await send(contractor, t.at(3000, ts))
        await send(contractor, t.at(2990, ts + 1000, heading=10.0))
        async with connected(client, token_of(t.customer)) as late:
            ack = await watch(late, t.job_id)
            assert ack["ok"] is True and ack["job"] == {"id": t.job_id, "status": "en_route"}
            assert ack["location"] == {**t.at(2990, ts + 1000), "heading": 10.0}
            assert 2980 < ack["distance_m"] < 3000 and ack["eta_s"] > 60
        code, _ = await set_status(client, t.contractor, t.job_id, "arrived")
        assert code == 200
        async with connected(client, token_of(t.customer)) as late:
            ack = await watch(late, t.job_id)
            assert ack["job"]["status"] == "arrived" and ack["eta_s"] == 0
            assert ack["location"]["ts"] == ts + 1000
        code, _ = await set_status(client, t.contractor, t.job_id, "in_progress")
        async with connected(client, token_of(t.customer)) as late:
            ack = await watch(late, t.job_id)
            assert ack["location"]["ts"] == ts + 1000
            assert "eta_s" not in ack and "distance_m" not in ack
        code, _ = await set_status(client, t.contractor, t.job_id, "completed")
        async with connected(client, token_of(t.customer)) as late:
            ack = await watch(late, t.job_id)
            assert ack == {"ok": True, "job": {"id": t.job_id, "status": "completed"}}


async def test_in_progress_and_arrived_points(client: Client) -> None:
    t = await tracked_job(client)
    ts = base_ts()
    async with (
        connected(client, token_of(t.customer)) as customer,
        connected(client, token_of(t.contractor)) as contractor,
    ):
        await watch(customer, t.job_id)
        code, _ = await set_status(client, t.contractor, t.job_id, "arrived")
        assert code == 200
        await send(contractor, t.at(400, ts))
        code, _ = await set_status(client, t.contractor, t.job_id, "in_progress")
        await send(contractor, t.at(380, ts + 1000))
        arrived, working = await customer.next("job:location", 2)
        assert arrived["eta_s"] == 0 and 390 < arrived["distance_m"] < 410
        assert "eta_s" not in working and "distance_m" not in working


async def test_points_go_to_the_job_only_while_it_is_active(client: Client) -> None:
    t = await tracked_job(client, "assigned")
    ts = base_ts()
    async with (
        connected(client, token_of(t.customer)) as customer,
        connected(client, token_of(t.contractor)) as contractor,
    ):
        await watch(customer, t.job_id)
        await send(contractor, t.at(5000, ts))  # accepted (live position), not fanned out
        code, _ = await set_status(client, t.contractor, t.job_id, "en_route")
        assert code == 200
        await send(contractor, t.at(4990, ts + 1000))
        statuses = await customer.next("job:status")
        [first] = await customer.next("job:location")
        assert first["ts"] == ts + 1000
        assert [s["status"] for s in statuses] == ["en_route"]
        code, _ = await set_status(client, t.customer, t.job_id, "cancelled")
        assert code == 200
        await send(contractor, t.at(4980, ts + 2000))
        await settle(customer)
        assert [p["ts"] for p in customer.got("job:location")] == [ts + 1000]


async def settle(sock: Sock) -> None:
    """A round trip: the server writes its ack after every event it wrote to this socket
    before, and the client handles packets in order, so those events were recorded."""
    assert await sock.call("job:unwatch", {"job_id": "j_settle"}) == {"ok": True}


async def test_unwatch_stops_the_points(client: Client) -> None:
    t = await tracked_job(client)
    ts = base_ts()
    async with (
        connected(client, token_of(t.customer)) as customer,
        connected(client, token_of(t.contractor)) as contractor,
    ):
        await watch(customer, t.job_id)
        await send(contractor, t.at(1000, ts))
        await customer.next("job:location")
        assert await customer.call("job:unwatch", {"job_id": t.job_id}) == {"ok": True}
        await send(contractor, t.at(990, ts + 1000))
        await watch(customer, t.job_id)
        await send(contractor, t.at(980, ts + 2000))
        await until_ts(customer, ts + 2000)
        assert [p["ts"] for p in customer.got("job:location")] == [ts, ts + 2000]
        # unwatching a job one does not watch (or that does not exist) is harmless
        assert await customer.call("job:unwatch", {"job_id": "j_nope"}) == {"ok": True}
        ack = await customer.call("job:unwatch", {"job": t.job_id})
        assert ack["ok"] is False and ack["error"]["code"] == "validation_error"


async def until_ts(sock: Sock, ts: float) -> None:
    await sock.events_until("job:location", lambda p: p["ts"] == ts)


async def test_who_may_watch(client: Client) -> None:
    lat, lng = spot()
    chosen = await contractor_at(client, lat, lng)
    other_applicant = await contractor_at(client, lat, lng)
    customer = await register(client, "customer")
    job = await post_job(client, customer, lat, lng)
    application = await apply(client, chosen, job["id"])
    await apply(client, other_applicant, job["id"])
    resp = await client.post(
        f"/api/v1/jobs/{job['id']}/applications/{application['id']}/accept",
        headers=customer["auth"],
    )
    assert resp.status == 200
    stranger_customer = await register(client, "customer")
    stranger_contractor = await register(client, "contractor")
    staff = await admin(client)
    expected = [
        (customer, "ok"),
        (chosen, "ok"),
        (staff, "ok"),
        (other_applicant, "forbidden"),  # may see the job (docs/JOBS.md), may not watch it
        (stranger_customer, "not_found"),
        (stranger_contractor, "not_found"),
    ]
    for who, outcome in expected:
        async with connected(client, token_of(who)) as sock:
            ack = await watch(sock, job["id"])
            got = "ok" if ack["ok"] else ack["error"]["code"]
            assert got == outcome, (who["user"]["role"], ack)
            missing = await watch(sock, "j_00000000000000000000000000")
            assert missing["error"]["code"] == "not_found"
            for bad in ({}, {"job_id": 5}, {"job_id": ""}, {"job_id": "x" * 65}, "j", None):
                ack = await sock.call("job:watch", bad)
                assert ack["error"]["code"] == "validation_error", (bad, ack)
