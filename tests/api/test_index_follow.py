"""Every node's contractor index follows profile changes through the bus."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from api.keys import BUS, MATCHER, POOL
from hub.jobs.matching import ContractorMatcher
from tests.api.jobs_support import circle, contractor_at, post_job, spot
from tests.conftest import register

Client = TestClient[Any, Any]


async def _until(check: Any, within_s: float = 1.0) -> float:
    """Poll ``check()`` until true; return the seconds it took (fail after ``within_s``)."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < within_s, "not within the time limit"
        await asyncio.sleep(0.005)
    return time.monotonic() - started


async def test_another_node_follows_a_profile_change_within_a_second(client: Client) -> None:
    app = client.app
    assert app is not None
    # A second node: its own matcher and index on the same database and bus.
    other = ContractorMatcher(app[POOL], app[BUS])
    await other.start()
    try:
        lat, lng = spot()
        reg = await contractor_at(client, lat, lng, trades=["locksmith"])
        cid = reg["user"]["id"]
        await _until(
            lambda: [m.contractor_id for m in other.rank(lat, lng, "locksmith", 5)] == [cid]
        )

        far_lat, far_lng = spot()
        body = {"trades": ["glazing"], "service_area": circle(far_lat, far_lng), "available": True}
        resp = await client.put("/api/v1/contractors/me", json=body, headers=reg["auth"])
        assert resp.status == 200
        await _until(lambda: other.rank(far_lat, far_lng, "glazing", 5) != [])
        assert other.rank(lat, lng, "locksmith", 5) == []

        body["available"] = False
        resp = await client.put("/api/v1/contractors/me", json=body, headers=reg["auth"])
        await _until(lambda: other.rank(far_lat, far_lng, "glazing", 5) == [])
    finally:
        await other.stop()


async def test_same_node_sees_its_own_change_at_once(client: Client) -> None:
    lat, lng = spot()
    reg = await contractor_at(client, lat, lng, available=False)
    customer = await register(client, "customer")
    job = await post_job(client, customer, lat, lng)
    resp = await client.get(f"/api/v1/jobs/{job['id']}/matches", headers=customer["auth"])
    assert await resp.json() == []
    body = {"trades": ["plumbing"], "service_area": circle(lat, lng), "available": True}
    resp = await client.put("/api/v1/contractors/me", json=body, headers=reg["auth"])
    resp = await client.get(f"/api/v1/jobs/{job['id']}/matches", headers=customer["auth"])
    assert [m["contractor"]["id"] for m in await resp.json()] == [reg["user"]["id"]]


async def test_change_written_elsewhere_arrives_by_invalidation(
    client: Client, pg_dsn: str
) -> None:
    lat, lng = spot()
    reg = await contractor_at(client, lat, lng)
    app = client.app
    assert app is not None
    matcher = app[MATCHER]
    assert matcher.rank(lat, lng, "plumbing", 5)
    conn = await asyncpg.connect(pg_dsn)
    try:
        await conn.execute(
            "UPDATE contractor_profiles SET available = false WHERE user_id = $1", reg["user"]["id"]
        )
    finally:
        await conn.close()
    await matcher.invalidate(reg["user"]["id"])
    await _until(lambda: matcher.rank(lat, lng, "plumbing", 5) == [])


async def test_a_new_node_loads_profiles_from_postgres(client: Client, make_client: Any) -> None:
    lat, lng = spot()
    reg = await contractor_at(client, lat, lng, trades=["moving"])
    fresh = await make_client()
    customer = await register(fresh, "customer")
    job = await post_job(fresh, customer, lat, lng, trade="moving")
    resp = await fresh.get("/api/v1/jobs?offered=true", headers=reg["auth"])
    assert [j["id"] for j in (await resp.json())["items"]] == [job["id"]]
