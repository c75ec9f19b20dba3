"""GET /jobs/{id}/matches: ranking, positions, limit, permissions."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from api.keys import MATCHER
from geo.matching import score
from tests.api.jobs_support import admin, apply, assigned_job, contractor_at, offset, post_job, spot
from tests.conftest import register

Client = TestClient[Any, Any]


async def _matches(client: Client, who: dict[str, Any], job_id: str, query: str = "") -> Any:
    resp = await client.get(f"/api/v1/jobs/{job_id}/matches{query}", headers=who["auth"])
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def _set_rating(
    client: Client, dsn: str, user_id: str, rating: float, verified: bool
) -> None:
    """Rating and verification have no endpoint yet: write them and invalidate, as the
    code that changes them will."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "UPDATE contractor_profiles SET rating = $2, verified = $3 WHERE user_id = $1",
            user_id,
            rating,
            verified,
        )
    finally:
        await conn.close()
    app = client.app
    assert app is not None
    await app[MATCHER].invalidate(user_id)


async def test_matches_rank_by_score_with_verified_first(client: Client, pg_dsn: str) -> None:
    lat, lng = spot()
    near = await contractor_at(client, lat, lng, base=offset(lat, lng, 1_000))
    far = await contractor_at(client, lat, lng, base=offset(lat, lng, 4_000))
    rated = await contractor_at(client, lat, lng, base=offset(lat, lng, 3_000))
    verified = await contractor_at(client, lat, lng, base=offset(lat, lng, 4_500))
    await _set_rating(client, pg_dsn, rated["user"]["id"], 5.0, False)
    await _set_rating(client, pg_dsn, verified["user"]["id"], 0.0, True)
    customer = await register(client, "customer")
    job = await post_job(client, customer, lat, lng)
    expected = [verified, rated, near, far]  # 0.4 of rating beats 2 km (about 0.07)
    for _ in range(100):  # the invalidations travel through the bus
        found = await _matches(client, customer, job["id"])
        if [m["contractor"]["id"] for m in found] == [e["user"]["id"] for e in expected]:
            break
        await asyncio.sleep(0.01)
    else:
        pytest.fail(f"unexpected order {found}")
    first = found[0]
    assert first["contractor"] == {
        "id": verified["user"]["id"],
        "name": "Test contractor",
        "trades": ["plumbing"],
        "rating": 0,
        "verified": True,
        "available": True,
    }
    for m in found:
        assert set(m) == {"contractor", "distance_m", "eta_s", "score"}
        assert m["eta_s"] > 0
        assert m["score"] == pytest.approx(
            score(m["distance_m"], m["contractor"]["rating"]), abs=1e-4
        )
    assert found[2]["distance_m"] == pytest.approx(1_000, rel=0.01)
    limited = await _matches(client, customer, job["id"], "?limit=2")
    assert [m["contractor"]["id"] for m in limited] == [e["user"]["id"] for e in expected[:2]]


async def test_distance_from_live_then_base_then_area_centre(client: Client) -> None:
    lat, lng = spot()
    centre = await contractor_at(client, lat, lng)  # no base: the circle's centre, 0 m
    based = await contractor_at(client, lat, lng, base=offset(lat, lng, 2_000))
    customer = await register(client, "customer")
    job = await post_job(client, customer, *offset(lat, lng, 500).values())
    found = {m["contractor"]["id"]: m for m in await _matches(client, customer, job["id"])}
    assert found[centre["user"]["id"]]["distance_m"] == pytest.approx(500, rel=0.01)
    assert found[based["user"]["id"]]["distance_m"] == pytest.approx(1_500, rel=0.01)

    live = {based["user"]["id"]: (job["location"]["lat"], job["location"]["lng"])}
    app = client.app
    assert app is not None
    app[MATCHER].use_live_positions(live.get)
    found = await _matches(client, customer, job["id"])
    assert found[0]["contractor"]["id"] == based["user"]["id"]
    assert found[0]["distance_m"] == 0 and found[0]["eta_s"] == 0


async def test_matches_permissions(client: Client) -> None:
    customer, contractor, job = await assigned_job(client)
    url = f"/api/v1/jobs/{job['id']}/matches"
    assert (await client.get(url, headers=(await admin(client))["auth"])).status == 200
    assert (await client.get(url, headers=contractor["auth"])).status == 403
    other = await register(client, "customer")
    assert (await client.get(url, headers=other["auth"])).status == 404
    assert (await client.get(url)).status == 401
    resp = await client.get(url + "?limit=0", headers=customer["auth"])
    assert resp.status == 400
    assert "limit" in (await resp.json())["error"]["details"]["fields"]


async def test_offered_contractor_may_not_read_matches(client: Client) -> None:
    lat, lng = spot()
    offered = await contractor_at(client, lat, lng)
    customer = await register(client, "customer")
    job = await post_job(client, customer, lat, lng)
    await apply(client, offered, job["id"])
    resp = await client.get(f"/api/v1/jobs/{job['id']}/matches", headers=offered["auth"])
    assert resp.status == 403
