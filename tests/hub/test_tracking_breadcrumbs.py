"""Breadcrumbs: downsampled per job (a point per 5 s or per 25 m), written in batches, read
back by GET /jobs/{id}/track with the latest point, ETA and distance."""

from __future__ import annotations

from typing import Any

import pytest

from api import keys
from api.db import create_pool
from hub.tracking.breadcrumbs import BreadcrumbWriter
from tests.api.jobs_support import admin, apply, contractor_at, post_job, spot
from tests.conftest import register
from tests.hub.realtime_support import Client, connected, token_of
from tests.hub.tracking_support import Tracked, base_ts, north, tracked_job


async def track(client: Client, who: dict[str, Any] | None, job_id: str) -> tuple[int, Any]:
    headers = who["auth"] if who else {}
    resp = await client.get(f"/api/v1/jobs/{job_id}/track", headers=headers)
    return resp.status, await resp.json()


async def drive(client: Client, t: Tracked, points: list[dict[str, Any]]) -> None:
    async with connected(client, token_of(t.contractor)) as sock:
        for p in points:
            ack = await sock.call("location:update", p)
            assert ack == {"ok": True, "accepted": True}, (p, ack)


async def test_breadcrumb_is_downsampled_and_read_back(client: Client) -> None:
    t = await tracked_job(client)
    ts = base_ts()
    # 2 m/s for 10 s (the 5 s rule samples), then 20 m/s for 5 s (the 25 m rule samples)
    slow = [t.at(2000 - 2 * i, ts + i * 1000, accuracy_m=5.0) for i in range(11)]
    fast = [t.at(1980 - 20 * i, ts + (10 + i) * 1000, speed_mps=20.0) for i in range(1, 6)]
    await drive(client, t, slow + fast)
    status, body = await track(client, t.customer, t.job_id)
    assert status == 200, body
    assert [round(p["ts"] - ts) for p in body["breadcrumb"]] == [0, 5000, 10_000, 12_000, 14_000]
    assert body["breadcrumb"][0] == {**slow[0], "accuracy_m": 5.0}
    assert body["breadcrumb"][3] == {**fast[1], "speed_mps": 20.0}
    assert body["job_id"] == t.job_id and body["status"] == "en_route"
    assert body["location"] == fast[-1]
    assert 1875 < body["distance_m"] < 1885 and body["eta_s"] > 60
    assert set(body) == {"job_id", "status", "location", "eta_s", "distance_m", "breadcrumb"}


async def test_points_outside_an_active_job_leave_no_breadcrumb(client: Client) -> None:
    t = await tracked_job(client, "assigned")
    ts = base_ts()
    await drive(client, t, [t.at(900 - 100 * i, ts + i * 10_000) for i in range(3)])
    status, body = await track(client, t.customer, t.job_id)
    assert status == 200
    assert body == {"job_id": t.job_id, "status": "assigned", "breadcrumb": []}


async def test_batched_points_fill_the_breadcrumb(client: Client) -> None:
    t = await tracked_job(client)
    ts = base_ts()
    points = [t.at(3000 - 4 * i, ts + i * 1000) for i in range(60)]  # a minute offline
    async with connected(client, token_of(t.contractor)) as sock:
        ack = await sock.call("location:batch", {"points": points})
        assert ack == {"ok": True, "accepted": 60}
    _, body = await track(client, t.customer, t.job_id)
    assert [round(p["ts"] - ts) for p in body["breadcrumb"]] == [i * 5000 for i in range(12)]
    assert body["location"] == points[-1]


async def test_who_may_read_the_track(client: Client) -> None:
    lat, lng = spot()
    chosen = await contractor_at(client, lat, lng)
    applicant = await contractor_at(client, lat, lng)
    customer = await register(client, "customer")
    job = await post_job(client, customer, lat, lng)
    application = await apply(client, chosen, job["id"])
    await apply(client, applicant, job["id"])
    resp = await client.post(
        f"/api/v1/jobs/{job['id']}/applications/{application['id']}/accept",
        headers=customer["auth"],
    )
    assert resp.status == 200
    staff = await admin(client)
    stranger = await register(client, "customer")
    for who, expected in (
        (customer, 200),
        (chosen, 200),
        (staff, 200),
        (applicant, 403),
        (stranger, 404),
        (None, 401),
    ):
        status, body = await track(client, who, job["id"])
        assert status == expected, (who and who["user"]["role"], body)
        if status >= 400:
            assert set(body) == {"error"}
    status, body = await track(client, customer, "j_unknown")
    assert status == 404 and body["error"]["code"] == "not_found"


async def test_breadcrumb_writes_are_batched(client: Client) -> None:
    """Many contractors' points cost one statement per flush, not one per point."""
    jobs = [await tracked_job(client) for _ in range(4)]
    pool = client.app[keys.POOL]
    writer = BreadcrumbWriter(pool)  # no task of its own: flushed by hand here
    ts = base_ts()
    for i in range(50):
        for t in jobs:
            lat, lng = north(*t.site, 1000 - 10 * i)
            writer.add((t.job_id, ts + i * 1000, t.contractor_id, lat, lng, 5.0, None, None))
    writer.add(("j_gone", ts, jobs[0].contractor_id, 1.0, 2.0, None, None, None))  # skipped
    assert writer.pending == 201
    assert await writer.flush() == 201
    assert writer.writes == 1 and writer.pending == 0
    assert await writer.flush() == 0 and writer.writes == 1  # nothing pending: no statement
    for t in jobs:
        _, body = await track(client, t.customer, t.job_id)
        assert len(body["breadcrumb"]) == 50


async def test_breadcrumb_buffer_is_bounded_and_survives_a_failed_write(
    client: Client, pg_dsn: str
) -> None:
    t = await tracked_job(client)
    broken = await create_pool(pg_dsn, 1, 1)
    await broken.close()  # every acquire fails now
    writer = BreadcrumbWriter(broken, max_pending=10)
    ts = base_ts()
    for i in range(15):
        writer.add((t.job_id, ts + i, t.contractor_id, 1.0, 2.0, None, None, None))
    assert writer.pending == 10 and writer.dropped == 5
    with pytest.raises(Exception):  # noqa: B017 - whatever the closed pool raises
        await writer.flush()
    assert writer.pending == 10  # kept for the next attempt
    writer.add((t.job_id, ts + 100, t.contractor_id, 1.0, 2.0, None, None, None))
    assert writer.pending == 10 and writer.dropped == 6  # the oldest went
