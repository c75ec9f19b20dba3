"""A stored service area that no longer parses (written by hand, or by a release with looser
checks) must not take a node's start down: that contractor is left out of matching, the log
names them, and saving a valid profile brings them back."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.api.jobs_support import circle, contractor_at, post_job, spot
from tests.conftest import register

Client = TestClient[Any, Any]

# A "polygon" whose ring has two points: GeoJSON-shaped, but no area.
BROKEN_AREA = '{"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}'


async def _matched(client: Client, who: dict[str, Any], job_id: str) -> list[str]:
    resp = await client.get(f"/api/v1/jobs/{job_id}/matches", headers=who["auth"])
    assert resp.status == 200, await resp.text()
    return [m["contractor"]["id"] for m in await resp.json()]


async def test_a_node_starts_without_the_contractor_whose_area_does_not_parse(
    client: Client, make_client: Any, pg_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    lat, lng = spot()
    good = await contractor_at(client, lat, lng)
    broken = await contractor_at(client, lat, lng)
    broken_id = broken["user"]["id"]
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(
            "UPDATE contractor_profiles SET service_area = $2::jsonb WHERE user_id = $1",
            broken_id,
            BROKEN_AREA,
        )
        caplog.set_level(logging.ERROR, logger="hub.jobs.matching")
        node = await make_client()  # a new node loads every profile at start
        resp = await node.get("/health")
        assert resp.status == 200
        bad_rows = [
            r for r in caplog.records if r.getMessage() == "stored service area does not parse"
        ]
        assert [getattr(r, "user_id", None) for r in bad_rows] == [broken_id]

        customer = await register(node, "customer")
        job = await post_job(node, customer, lat, lng)
        assert await _matched(node, customer, job["id"]) == [good["user"]["id"]]
        resp = await node.get("/api/v1/jobs?offered=true", headers=broken["auth"])
        assert (await resp.json())["items"] == []  # no offer either

        # Saving a valid profile repairs the row and this node's index.
        resp = await node.put(
            "/api/v1/contractors/me",
            json={"trades": ["plumbing"], "service_area": circle(lat, lng), "available": True},
            headers=broken["auth"],
        )
        assert resp.status == 200, await resp.text()
        for _ in range(200):  # the invalidation travels through the bus
            found = await _matched(node, customer, job["id"])
            if broken_id in found:
                break
            await asyncio.sleep(0.02)
        assert sorted(found) == sorted([good["user"]["id"], broken_id])
    finally:
        # Other tests' nodes load every profile too: leave no broken row behind.
        await conn.execute(
            "UPDATE contractor_profiles SET service_area = $2::jsonb WHERE user_id = $1"
            " AND service_area = $3::jsonb",
            broken_id,
            f'{{"center": {{"lat": {lat}, "lng": {lng}}}, "radius_km": 5.0}}',
            BROKEN_AREA,
        )
        await conn.close()
