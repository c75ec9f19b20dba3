"""Tracking on two nodes joined by Redis: the contractor on one node, the watcher on the
other, status changes and share-link revocations made through the other node's REST."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from api import keys
from hub.engine.bus_redis import RedisBus
from tests.api.jobs_support import set_status
from tests.api.test_track_share import viewer
from tests.hub.realtime_support import connected, identities_of, token_of, until
from tests.hub.tracking_support import base_ts, tracked_job
from tests.support.processes import private_redis
from tests.support.waiting import eventually

pytestmark = pytest.mark.redis


async def test_points_and_changes_cross_nodes(make_client: Any, tmp_path: Path) -> None:
    with private_redis(tmp_path) as redis:
        node_a = await make_client(redis_url=redis.url)
        node_b = await make_client(redis_url=redis.url)
        if not isinstance(node_a.app[keys.BUS], RedisBus):
            pytest.skip("this app does not join nodes through Redis (api/app.py)")
        t = await tracked_job(node_a, "assigned")
        ts = base_ts()
        async with (
            connected(node_a, token_of(t.contractor)) as contractor,
            connected(node_b, token_of(t.customer)) as watcher,
        ):
            assert (await watcher.call("job:watch", {"job_id": t.job_id}))["ok"] is True
            # en_route through node b: node a's cache learns it over the bus
            code, _ = await set_status(node_b, t.contractor, t.job_id, "en_route")
            assert code == 200
            sent = 0

            async def send_until_watched() -> bool:
                nonlocal sent
                ack = await contractor.call("location:update", t.at(2000 - sent, ts + sent * 1000))
                assert ack == {"ok": True, "accepted": True}, ack
                sent += 1
                return bool(watcher.got("job:location"))

            await until_async(send_until_watched)
            point = watcher.got("job:location")[-1]
            assert point["job_id"] == t.job_id and point["eta_s"] > 0
            assert 1900 < point["distance_m"] <= 2001

            # node b counts the deliveries it made of node a's points (its /metrics)
            async def delivered_on(node: Any) -> float:
                text = await (await node.get("/metrics")).text()
                key = 'tradeshub_fanout_deliveries_total{kind="job_location"} '
                found = [line for line in text.splitlines() if line.startswith(key)]
                return float(found[0].split()[-1]) if found else 0.0

            async def counted() -> bool:
                return await delivered_on(node_b) >= len(watcher.got("job:location"))

            await eventually(counted, within=5)
            assert await delivered_on(node_a) == 0  # no watcher there

            # a link made and revoked on node b ends its viewer on node a
            resp = await node_b.post(f"/api/v1/jobs/{t.job_id}/share", headers=t.customer["auth"])
            link = await resp.json()
            async with viewer(node_a, link["token"]) as watching:
                sid = watching.sid
                assert (await watching.call("job:watch", {"job_id": t.job_id}))["ok"] is True
                resp = await node_b.delete(
                    f"/api/v1/jobs/{t.job_id}/share", headers=t.customer["auth"]
                )
                assert resp.status == 204
                await until(lambda: sid not in identities_of(node_a), "the viewer to be dropped")


async def until_async(check: Any, tries: int = 200) -> None:
    """Repeat ``check()`` (it sends a point) until it is true; bounded."""
    for _ in range(tries):
        if await check():
            return
    raise AssertionError("the watcher on the other node never got a point")


async def test_latest_point_and_noise_filter_cross_nodes(make_client: Any, tmp_path: Path) -> None:
    """The contractor streams to node a: a watcher who (re)watches on node b gets the latest
    point in its ack and in ``GET /track`` (the Redis live state); the contractor moving to
    node b keeps its noise filter (``prime``)."""
    with private_redis(tmp_path) as redis:
        node_a = await make_client(redis_url=redis.url)
        node_b = await make_client(redis_url=redis.url)
        if not isinstance(node_a.app[keys.BUS], RedisBus):
            pytest.skip("this app does not join nodes through Redis (api/app.py)")
        t = await tracked_job(node_a, "en_route")
        ts = base_ts()
        async with connected(node_a, token_of(t.contractor)) as contractor:
            for n in range(3):
                ack = await contractor.call("location:update", t.at(900 - n * 10, ts + n * 1000))
                assert ack == {"ok": True, "accepted": True}, ack
        last_ts = ts + 2000

        async def watched_on_b() -> bool:
            async with connected(node_b, token_of(t.customer)) as watcher:
                ack = await watcher.call("job:watch", {"job_id": t.job_id})
            assert ack["ok"] is True, ack
            return bool(ack.get("location", {}).get("ts") == last_ts)

        # written behind on node a (every 0.1 s), then read by node b's watch
        await eventually(watched_on_b)
        resp = await node_b.get(f"/api/v1/jobs/{t.job_id}/track", headers=t.customer["auth"])
        body = await resp.json()
        assert resp.status == 200 and body["location"]["ts"] == last_ts
        assert 870 < body["distance_m"] <= 881 and body["eta_s"] > 0

        async with connected(node_b, token_of(t.contractor)) as contractor:
            # older than node a's last point: node b knows it, so this is noise there too
            ack = await contractor.call("location:update", t.at(500, last_ts - 500))
            assert ack == {"ok": True, "accepted": False}, ack
            ack = await contractor.call("location:update", t.at(870, last_ts + 1000))
            assert ack == {"ok": True, "accepted": True}, ack
