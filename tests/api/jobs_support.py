"""Helpers for the job tests: isolated places, profiles, jobs, the status walk.

The session's database is shared by every test, and each app loads every profile into its
index at start, so each test works at its own random place far from the others'.
"""

from __future__ import annotations

import random
from typing import Any

from aiohttp.test_utils import TestClient

from api.keys import ACCOUNTS
from tests.conftest import PASSWORD, register, unique_email

Client = TestClient[Any, Any]


def spot() -> tuple[float, float]:
    """A random place of its own (1 km circles around two spots rarely meet)."""
    return round(random.uniform(-60, 60), 6), round(random.uniform(-170, 170), 6)


def offset(lat: float, lng: float, metres_north: float) -> dict[str, float]:
    """A point ``metres_north`` north of ``(lat, lng)``."""
    return {"lat": lat + metres_north / 111_000.0, "lng": lng}


def circle(lat: float, lng: float, radius_km: float = 5.0) -> dict[str, Any]:
    return {"center": {"lat": lat, "lng": lng}, "radius_km": radius_km}


async def contractor_at(
    client: Client,
    lat: float,
    lng: float,
    *,
    trades: list[str] | None = None,
    radius_km: float = 5.0,
    available: bool = True,
    base: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Register a contractor whose circle covers ``(lat, lng)``; return the registration."""
    reg = await register(client, "contractor")
    body: dict[str, Any] = {
        "trades": trades or ["plumbing"],
        "service_area": circle(lat, lng, radius_km),
        "available": available,
    }
    if base is not None:
        body["base"] = base
    resp = await client.put("/api/v1/contractors/me", json=body, headers=reg["auth"])
    assert resp.status == 200, await resp.text()
    reg["profile"] = await resp.json()
    return reg


async def post_job(
    client: Client, customer: dict[str, Any], lat: float, lng: float, **extra: Any
) -> dict[str, Any]:
    body = {"trade": "plumbing", "title": "Leaking tap", "location": {"lat": lat, "lng": lng}}
    body.update(extra)
    resp = await client.post("/api/v1/jobs", json=body, headers=customer["auth"])
    assert resp.status == 201, await resp.text()
    job: dict[str, Any] = await resp.json()
    return job


async def apply(
    client: Client, contractor: dict[str, Any], job_id: str, quote_cents: int = 10_000
) -> dict[str, Any]:
    resp = await client.post(
        f"/api/v1/jobs/{job_id}/applications",
        json={"quote_cents": quote_cents, "message": "Can do today"},
        headers=contractor["auth"],
    )
    assert resp.status == 201, await resp.text()
    application: dict[str, Any] = await resp.json()
    return application


async def assigned_job(client: Client) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A customer, a contractor, and the customer's job assigned to that contractor."""
    lat, lng = spot()
    contractor = await contractor_at(client, lat, lng)
    customer = await register(client, "customer")
    job = await post_job(client, customer, lat, lng)
    application = await apply(client, contractor, job["id"])
    resp = await client.post(
        f"/api/v1/jobs/{job['id']}/applications/{application['id']}/accept",
        headers=customer["auth"],
    )
    assert resp.status == 200, await resp.text()
    return customer, contractor, await resp.json()


async def set_status(
    client: Client, who: dict[str, Any], job_id: str, status: str
) -> tuple[int, dict[str, Any]]:
    resp = await client.post(
        f"/api/v1/jobs/{job_id}/status", json={"status": status}, headers=who["auth"]
    )
    body: dict[str, Any] = await resp.json()
    return resp.status, body


async def admin(client: Client) -> dict[str, Any]:
    """An admin account, logged in, with ``auth`` headers."""
    app = client.app
    assert app is not None
    email = unique_email("admin")
    await app[ACCOUNTS].create_admin(email, PASSWORD)
    resp = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    data: dict[str, Any] = await resp.json()
    data["auth"] = {"Authorization": f"Bearer {data['access_token']}"}
    return data
