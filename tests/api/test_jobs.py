"""POST /jobs, GET /jobs (pagination, offers), GET /jobs/{id} (visibility), job:offer."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import pytest
import socketio
from aiohttp.test_utils import TestClient

from tests.api.jobs_support import (
    admin,
    apply,
    contractor_at,
    offset,
    post_job,
    spot,
)
from tests.conftest import register

Client = TestClient[Any, Any]


async def test_post_job_returns_the_contract_shape(client: Client) -> None:
    lat, lng = spot()
    customer = await register(client, "customer")
    job = await post_job(
        client,
        customer,
        lat,
        lng,
        description="Kitchen sink",
        address="1 Main St",
        budget_cents=15_000,
        currency="eur",
        scheduled_for="2030-05-01T09:30:00+02:00",
    )
    assert job["id"]
    assert job["customer_id"] == customer["user"]["id"]
    assert "contractor_id" not in job
    assert job["location"] == {"lat": lat, "lng": lng}
    assert job["status"] == "open"
    assert job["trade"] == "plumbing"
    assert (job["description"], job["address"]) == ("Kitchen sink", "1 Main St")
    assert (job["budget_cents"], job["currency"]) == (15_000, "eur")
    assert job["scheduled_for"] == "2030-05-01T07:30:00.000Z"
    for key in ("created_at", "updated_at"):
        assert len(job[key]) == 24 and job[key].endswith("Z"), job[key]
    resp = await client.get(f"/api/v1/jobs/{job['id']}", headers=customer["auth"])
    assert resp.status == 200
    assert await resp.json() == job


async def test_defaults(client: Client) -> None:
    customer = await register(client, "customer")
    job = await post_job(client, customer, *spot())
    assert (job["description"], job["address"], job["budget_cents"]) == ("", None, None)
    assert job["currency"] == "usd" and job["scheduled_for"] is None


JOB = '"trade": "plumbing", "title": "Tap"'
BAD_JOBS = [
    (
        "unknown trade",
        '{"trade": "alchemy", "title": "x", "location": {"lat": 1, "lng": 1}}',
        "trade",
    ),
    ("lat 91", "{" + JOB + ', "location": {"lat": 91, "lng": 1}}', "location.lat"),
    ("lng string", "{" + JOB + ', "location": {"lat": 1, "lng": "1"}}', "location.lng"),
    ("lat 1e999", "{" + JOB + ', "location": {"lat": 1e999, "lng": 1}}', "location.lat"),
    ("NaN", "{" + JOB + ', "location": {"lat": NaN, "lng": 1}}', "body"),
    ("no location", "{" + JOB + "}", "body"),
    # REST bodies refuse fields they do not declare (a typo is told at once), naming them
    ("unknown field", "{" + JOB + ', "location": {"lat": 1, "lng": 1}, "budget": 5}', "budget"),
    ("unknown nested", "{" + JOB + ', "location": {"lat": 1, "lng": 1, "alt": 3}}', "location.alt"),
    (
        "budget string",
        "{" + JOB + ', "location": {"lat": 1, "lng": 1}, "budget_cents": "5"}',
        "budget_cents",
    ),
    (
        "budget float",
        "{" + JOB + ', "location": {"lat": 1, "lng": 1}, "budget_cents": 5.5}',
        "budget_cents",
    ),
    (
        "budget negative",
        "{" + JOB + ', "location": {"lat": 1, "lng": 1}, "budget_cents": -1}',
        "budget_cents",
    ),
    ("currency", "{" + JOB + ', "location": {"lat": 1, "lng": 1}, "currency": "USD"}', "currency"),
    (
        "naive time",
        "{" + JOB + ', "location": {"lat": 1, "lng": 1}, "scheduled_for": "2030-01-01T10:00:00"}',
        "scheduled_for",
    ),
    (
        "blank title",
        '{"trade": "plumbing", "title": "  ", "location": {"lat": 1, "lng": 1}}',
        "title",
    ),
]


@pytest.mark.parametrize(("name", "raw", "field"), BAD_JOBS, ids=[b[0] for b in BAD_JOBS])
async def test_bad_jobs_are_400(client: Client, name: str, raw: str, field: str) -> None:
    customer = await register(client, "customer")
    resp = await client.post(
        "/api/v1/jobs", data=raw, headers={**customer["auth"], "Content-Type": "application/json"}
    )
    assert resp.status == 400, name
    error = (await resp.json())["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]["fields"], error
    resp = await client.get("/api/v1/jobs", headers=customer["auth"])
    assert (await resp.json())["items"] == []


async def test_only_customers_post_jobs(client: Client) -> None:
    contractor = await register(client, "contractor")
    body = {"trade": "plumbing", "title": "x", "location": {"lat": 1, "lng": 1}}
    resp = await client.post("/api/v1/jobs", json=body, headers=contractor["auth"])
    assert resp.status == 403
    resp = await client.post("/api/v1/jobs", json=body)
    assert resp.status == 401


async def test_job_visibility(client: Client) -> None:
    lat, lng = spot()
    offered = await contractor_at(client, lat, lng)
    elsewhere = await contractor_at(client, *spot())
    customer = await register(client, "customer")
    other_customer = await register(client, "customer")
    boss = await admin(client)
    job = await post_job(client, customer, lat, lng)
    url = f"/api/v1/jobs/{job['id']}"
    for who in (customer, offered, boss):
        assert (await client.get(url, headers=who["auth"])).status == 200
    for who in (other_customer, elsewhere):
        resp = await client.get(url, headers=who["auth"])
        assert resp.status == 404
        assert (await resp.json())["error"]["code"] == "not_found"
    assert (await client.get("/api/v1/jobs/j_missing", headers=customer["auth"])).status == 404
    assert (await client.get(url)).status == 401


async def test_listing_pages_without_duplicates(client: Client) -> None:
    customer = await register(client, "customer")
    posted = [(await post_job(client, customer, *spot(), title=f"job {i}"))["id"] for i in range(7)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        resp = await client.get(f"/api/v1/jobs{query}", headers=customer["auth"])
        assert resp.status == 200
        page = await resp.json()
        seen += [j["id"] for j in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(posted))  # newest first, each once
    # Someone else's jobs never show.
    other = await register(client, "customer")
    assert (await (await client.get("/api/v1/jobs", headers=other["auth"])).json())["items"] == []


@pytest.mark.parametrize(
    "query",
    [
        "cursor=nonsense",
        "cursor=" + base64.urlsafe_b64encode(b"12.").decode(),
        "cursor=" + base64.urlsafe_b64encode(b"x.j_1").decode(),
        "cursor=%FF%FE",
        "limit=0",
        "limit=abc",
        "limit=101",
        "offered=maybe",
    ],
)
async def test_bad_listing_queries_are_400(client: Client, query: str) -> None:
    customer = await register(client, "customer")
    resp = await client.get(f"/api/v1/jobs?{query}", headers=customer["auth"])
    assert resp.status == 400, query
    error = (await resp.json())["error"]
    assert error["code"] == "validation_error"
    assert query.split("=")[0] in error["details"]["fields"]


async def test_contractor_listing_and_offers(client: Client) -> None:
    lat, lng = spot()
    near = await contractor_at(client, lat, lng)
    customer = await register(client, "customer")
    offered_job = await post_job(client, customer, lat, lng, title="offered")
    applied_job = await post_job(client, customer, lat, lng, title="applied")
    await apply(client, near, applied_job["id"])
    other_trade = await post_job(client, customer, lat, lng, trade="roofing")

    async def ids(query: str) -> list[str]:
        resp = await client.get(f"/api/v1/jobs{query}", headers=near["auth"])
        assert resp.status == 200, await resp.text()
        return [j["id"] for j in (await resp.json())["items"]]

    assert await ids("") == [applied_job["id"], offered_job["id"]]
    assert await ids("?offered=true") == [applied_job["id"], offered_job["id"]]
    assert other_trade["id"] not in await ids("")
    # A customer asking for offers: they receive none.
    resp = await client.get("/api/v1/jobs?offered=true", headers=customer["auth"])
    assert resp.status == 403


async def test_unavailable_or_uncovering_contractors_get_no_offer(client: Client) -> None:
    lat, lng = spot()
    resting = await contractor_at(client, lat, lng, available=False)
    small = await contractor_at(client, lat, lng + 0.2, radius_km=1)  # about 20 km away
    customer = await register(client, "customer")
    await post_job(client, customer, lat, lng)
    for who in (resting, small):
        resp = await client.get("/api/v1/jobs?offered=true", headers=who["auth"])
        assert (await resp.json())["items"] == []


async def test_offers_go_to_the_best_few(make_client: Any) -> None:
    client = await make_client(offer_limit=2)
    lat, lng = spot()
    far = await contractor_at(client, lat, lng, base=offset(lat, lng, 3000))
    mid = await contractor_at(client, lat, lng, base=offset(lat, lng, 2000))
    near = await contractor_at(client, lat, lng, base=offset(lat, lng, 100))
    customer = await register(client, "customer")
    job = await post_job(client, customer, lat, lng)
    for who, expected in ((near, True), (mid, True), (far, False)):
        resp = await client.get("/api/v1/jobs?offered=true", headers=who["auth"])
        got = [j["id"] for j in (await resp.json())["items"]]
        assert got == ([job["id"]] if expected else [])


async def test_job_offer_event_reaches_the_matched_contractor(client: Client) -> None:
    lat, lng = spot()
    near = await contractor_at(client, lat, lng, base=offset(lat, lng, 500))
    customer = await register(client, "customer")
    sio = socketio.AsyncClient()
    offers: asyncio.Queue[Any] = asyncio.Queue()
    sio.on("job:offer", offers.put_nowait)
    await sio.connect(
        str(client.make_url("/")), auth={"token": near["access_token"]}, transports=["websocket"]
    )
    try:
        job = await post_job(client, customer, lat, lng)
        event = await asyncio.wait_for(offers.get(), 5)
    finally:
        await sio.disconnect()
    assert event["job"] == job
    assert event["distance_m"] == pytest.approx(500, abs=5)
