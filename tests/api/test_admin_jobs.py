"""Admins: they list every customer's jobs, newest first and page by page, but take no part
in a job (no posting, no applying, no offers)."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.api.jobs_support import admin, contractor_at, post_job, spot
from tests.conftest import register

Client = TestClient[Any, Any]


async def test_admins_list_every_customers_jobs_newest_first(client: Client) -> None:
    boss = await admin(client)
    first, second = await register(client, "customer"), await register(client, "customer")
    posted = [
        (await post_job(client, who, *spot(), title=f"job {i}"))["id"]
        for i, who in enumerate((first, second, first))
    ]
    seen: list[str] = []
    cursor = None
    pages = 0
    while pages < 2:  # the session's other jobs, older than these, may follow
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        resp = await client.get(f"/api/v1/jobs{query}", headers=boss["auth"])
        assert resp.status == 200, await resp.text()
        page = await resp.json()
        seen += [job["id"] for job in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen[:3] == list(reversed(posted))
    assert len(set(seen)) == len(seen)
    # A customer still sees only their own.
    resp = await client.get("/api/v1/jobs", headers=first["auth"])
    assert [job["id"] for job in (await resp.json())["items"]] == [posted[2], posted[0]]


async def test_admins_take_no_part_in_a_job(client: Client) -> None:
    boss = await admin(client)
    lat, lng = spot()
    await contractor_at(client, lat, lng)
    customer = await register(client, "customer")
    job = await post_job(client, customer, lat, lng)

    resp = await client.post(
        "/api/v1/jobs",
        json={"trade": "plumbing", "title": "Admin's tap", "location": {"lat": lat, "lng": lng}},
        headers=boss["auth"],
    )
    assert resp.status == 403
    assert (await resp.json())["error"] == {
        "code": "forbidden",
        "message": "only customer accounts post jobs",
    }
    resp = await client.post(
        f"/api/v1/jobs/{job['id']}/applications",
        json={"quote_cents": 100, "message": "me too"},
        headers=boss["auth"],
    )
    assert resp.status == 403
    assert (await resp.json())["error"] == {
        "code": "forbidden",
        "message": "only contractor accounts apply to jobs",
    }
    resp = await client.get("/api/v1/jobs?offered=true", headers=boss["auth"])
    assert resp.status == 403
    assert (await resp.json())["error"] == {
        "code": "forbidden",
        "message": "only contractors receive offers",
    }
    # Nothing of that was stored: the job has no application, the admin no job.
    resp = await client.get(f"/api/v1/jobs/{job['id']}/applications", headers=customer["auth"])
    assert await resp.json() == []
    resp = await client.get("/api/v1/jobs?limit=1", headers=boss["auth"])
    assert [j["id"] for j in (await resp.json())["items"]] == [job["id"]]
