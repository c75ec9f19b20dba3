"""PUT /contractors/me and GET /contractors/{id}: profiles, validation, permissions."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.api.jobs_support import circle, contractor_at, spot
from tests.conftest import register

Client = TestClient[Any, Any]

SQUARE = {
    "type": "Polygon",
    "coordinates": [[[2.0, 48.0], [2.1, 48.0], [2.1, 48.1], [2.0, 48.1], [2.0, 48.0]]],
}


async def test_profile_round_trip_and_public_view(client: Client) -> None:
    lat, lng = spot()
    reg = await contractor_at(
        client, lat, lng, trades=["plumbing", "hvac", "plumbing"], base={"lat": lat, "lng": lng}
    )
    own = reg["profile"]
    assert own["id"] == reg["user"]["id"]
    assert own["trades"] == ["plumbing", "hvac"]  # duplicates dropped, order kept
    assert own["service_area"] == circle(lat, lng)
    assert own["base"] == {"lat": lat, "lng": lng}
    assert own["available"] is True
    assert own["updated_at"].endswith("Z")

    viewer = await register(client, "customer")
    resp = await client.get(f"/api/v1/contractors/{reg['user']['id']}", headers=viewer["auth"])
    assert resp.status == 200
    assert await resp.json() == {
        "id": reg["user"]["id"],
        "name": "Test contractor",
        "trades": ["plumbing", "hvac"],
        "rating": 0,
        "verified": False,
        "available": True,
    }


async def test_polygon_area_is_stored_canonically(client: Client) -> None:
    reg = await register(client, "contractor")
    # GeoJSON's own rule (RFC 7946): a bbox and foreign members are allowed, and dropped
    area = {**SQUARE, "bbox": [2.0, 48.0, 2.1, 48.1], "name": "Paris 1"}
    body = {"trades": ["roofing"], "service_area": area, "available": False}
    resp = await client.put("/api/v1/contractors/me", json=body, headers=reg["auth"])
    assert resp.status == 200, await resp.text()
    profile = await resp.json()
    assert profile["service_area"]["type"] == "Polygon"
    assert "bbox" not in profile["service_area"] and "name" not in profile["service_area"]
    assert profile["available"] is False
    assert "base" not in profile


async def test_contractor_without_profile_has_defaults(client: Client) -> None:
    reg = await register(client, "contractor")
    resp = await client.get(f"/api/v1/contractors/{reg['user']['id']}", headers=reg["auth"])
    body = await resp.json()
    assert body["trades"] == [] and body["available"] is False


async def test_profile_permissions(client: Client) -> None:
    customer = await register(client, "customer")
    body = {"trades": ["plumbing"], "service_area": circle(1, 1), "available": True}
    resp = await client.put("/api/v1/contractors/me", json=body, headers=customer["auth"])
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "forbidden"
    resp = await client.put("/api/v1/contractors/me", json=body)
    assert resp.status == 401
    resp = await client.get(f"/api/v1/contractors/{customer['user']['id']}")
    assert resp.status == 401
    for missing in (customer["user"]["id"], "u_nope"):
        resp = await client.get(f"/api/v1/contractors/{missing}", headers=customer["auth"])
        assert resp.status == 404, missing
        assert (await resp.json())["error"]["code"] == "not_found"


def _bad(raw_area: str) -> str:
    return '{"trades": ["plumbing"], "available": true, "service_area": ' + raw_area + "}"


BOW_TIE = '{"type": "Polygon", "coordinates": [[[0,0],[1,1],[1,0],[0,1],[0,0]]]}'

# (name, raw JSON body, a field that must be named in details.fields)
BAD_BODIES = [
    ("not geojson", _bad('{"type": "Point", "coordinates": [1, 2]}'), "service_area.type"),
    (
        "open ring",
        _bad('{"type": "Polygon", "coordinates": [[[0,0],[1,0],[1,1]]]}'),
        "service_area.coordinates",
    ),
    ("self-intersecting", _bad(BOW_TIE), "service_area.coordinates"),
    (
        "lat 91",
        _bad('{"center": {"lat": 91, "lng": 0}, "radius_km": 5}'),
        "service_area.center.lat",
    ),
    (
        "radius 10,000 km",
        _bad('{"center": {"lat": 1, "lng": 0}, "radius_km": 10000}'),
        "service_area.radius_km",
    ),
    (
        "string radius",
        _bad('{"center": {"lat": 1, "lng": 0}, "radius_km": "5"}'),
        "service_area.radius_km",
    ),
    (
        "string lat",
        _bad('{"center": {"lat": "1", "lng": 0}, "radius_km": 5}'),
        "service_area.center.lat",
    ),
    ("NaN token", _bad('{"center": {"lat": NaN, "lng": 0}, "radius_km": 5}'), "body"),
    ("Infinity token", _bad('{"center": {"lat": 1, "lng": Infinity}, "radius_km": 5}'), "body"),
    ("1e999", _bad('{"center": {"lat": 1e999, "lng": 0}, "radius_km": 5}'), "service_area"),
    (
        "empty trades",
        '{"trades": [], "available": true, "service_area": {"center": {"lat": 1, "lng": 0},'
        ' "radius_km": 5}}',
        "trades",
    ),
    (
        "unknown trade",
        '{"trades": ["plumbing", "alchemy"], "available": true, "service_area": {"center":'
        ' {"lat": 1, "lng": 0}, "radius_km": 5}}',
        "trades[1]",
    ),
    (
        "trades not a list",
        '{"trades": "plumbing", "available": true, "service_area": {"center":'
        ' {"lat": 1, "lng": 0}, "radius_km": 5}}',
        "trades",
    ),
    (
        "available as string",
        '{"trades": ["plumbing"], "available": "yes", "service_area": {"center":'
        ' {"lat": 1, "lng": 0}, "radius_km": 5}}',
        "available",
    ),
    (
        "base lat 91",
        '{"trades": ["plumbing"], "available": true, "base": {"lat": 91, "lng": 0},'
        ' "service_area": {"center": {"lat": 1, "lng": 0}, "radius_km": 5}}',
        "base.lat",
    ),
    (
        "base 1e999",
        '{"trades": ["plumbing"], "available": true, "base": {"lat": 1, "lng": 1e999},'
        ' "service_area": {"center": {"lat": 1, "lng": 0}, "radius_km": 5}}',
        "base.lng",
    ),
    (
        "unknown field",
        '{"trades": ["plumbing"], "available": true, "colour": "red",'
        ' "service_area": {"center": {"lat": 1, "lng": 0}, "radius_km": 5}}',
        "colour",
    ),
    (
        "unknown field of the circle",
        '{"trades": ["plumbing"], "available": true,'
        ' "service_area": {"center": {"lat": 1, "lng": 0}, "radius_km": 5, "units": "mi"}}',
        "service_area.units",
    ),
    (
        "unknown field of the centre",
        '{"trades": ["plumbing"], "available": true,'
        ' "service_area": {"center": {"lat": 1, "lng": 0, "alt": 9}, "radius_km": 5}}',
        "service_area.center.alt",
    ),
    (
        "unknown field of the base",
        '{"trades": ["plumbing"], "available": true, "base": {"lat": 1, "lng": 1, "alt": 9},'
        ' "service_area": {"center": {"lat": 1, "lng": 0}, "radius_km": 5}}',
        "base.alt",
    ),
]


@pytest.mark.parametrize(("name", "raw", "field"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
async def test_bad_profiles_are_400_and_store_nothing(
    client: Client, pg_dsn: str, name: str, raw: str, field: str
) -> None:
    lat, lng = spot()
    reg = await contractor_at(client, lat, lng)
    before = await _stored(pg_dsn, reg["user"]["id"])
    resp = await client.put(
        "/api/v1/contractors/me",
        data=raw,
        headers={**reg["auth"], "Content-Type": "application/json"},
    )
    assert resp.status == 400, name
    error = (await resp.json())["error"]
    assert error["code"] == "validation_error"
    fields = error["details"]["fields"]
    assert any(key == field or key.startswith(field) for key in fields), (name, fields)
    # The profile is what it was before the refused request.
    resp = await client.get(f"/api/v1/contractors/{reg['user']['id']}", headers=reg["auth"])
    public = await resp.json()
    assert public["trades"] == ["plumbing"] and public["available"] is True
    assert await _stored(pg_dsn, reg["user"]["id"]) == before


async def _stored(dsn: str, user_id: str) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT trades, service_area::text AS area, available, base_lat, base_lng, updated_at"
            " FROM contractor_profiles WHERE user_id = $1",
            user_id,
        )
    finally:
        await conn.close()
    assert row is not None
    return dict(row)
