"""Applications: apply (opens the conversation), list, accept."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.api.jobs_support import admin, apply, contractor_at, post_job, spot
from tests.conftest import register

Client = TestClient[Any, Any]


async def _open_job(client: Client, contractors: int = 2) -> tuple[Any, list[Any], Any]:
    lat, lng = spot()
    found = [await contractor_at(client, lat, lng) for _ in range(contractors)]
    customer = await register(client, "customer")
    job = await post_job(client, customer, lat, lng)
    return customer, found, job


async def test_apply_opens_the_conversation(client: Client, pg_dsn: str) -> None:
    customer, (contractor, _), job = await _open_job(client)
    application = await apply(client, contractor, job["id"], quote_cents=12_345)
    assert application["job_id"] == job["id"]
    assert application["contractor_id"] == contractor["user"]["id"]
    assert (application["quote_cents"], application["message"]) == (12_345, "Can do today")
    assert application["status"] == "pending"
    assert application["created_at"].endswith("Z")
    conn = await asyncpg.connect(pg_dsn)
    try:
        conversation = await conn.fetchrow(
            "SELECT job_id, customer_id, contractor_id FROM conversations WHERE id = $1",
            application["conversation_id"],
        )
        members = await conn.fetch(
            "SELECT user_id FROM conversation_members WHERE conversation_id = $1",
            application["conversation_id"],
        )
    finally:
        await conn.close()
    assert conversation is not None
    assert dict(conversation) == {
        "job_id": job["id"],
        "customer_id": customer["user"]["id"],
        "contractor_id": contractor["user"]["id"],
    }
    assert {m["user_id"] for m in members} == {customer["user"]["id"], contractor["user"]["id"]}
    # The applicant now lists and sees the job.
    resp = await client.get(f"/api/v1/jobs/{job['id']}", headers=contractor["auth"])
    assert resp.status == 200


async def test_apply_rules(client: Client) -> None:
    customer, (contractor, _), job = await _open_job(client)
    stranger = await contractor_at(client, *spot())
    url = f"/api/v1/jobs/{job['id']}/applications"
    body = {"quote_cents": 100}
    await apply(client, contractor, job["id"])
    resp = await client.post(url, json=body, headers=contractor["auth"])
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "conflict"
    resp = await client.post(url, json=body, headers=stranger["auth"])  # never offered
    assert resp.status == 404
    resp = await client.post(url, json=body, headers=customer["auth"])
    assert resp.status == 403
    resp = await client.post(
        "/api/v1/jobs/j_missing/applications", json=body, headers=contractor["auth"]
    )
    assert resp.status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quote_cents": "100"}, "quote_cents"),
        ({"quote_cents": -1}, "quote_cents"),
        ({"quote_cents": 1.5}, "quote_cents"),
        ({"quote_cents": 100, "message": 5}, "message"),
        ({"message": "hi"}, "body"),
    ],
)
async def test_bad_applications_are_400(client: Client, body: Any, field: str) -> None:
    _, (contractor,), job = await _open_job(client, 1)
    resp = await client.post(
        f"/api/v1/jobs/{job['id']}/applications", json=body, headers=contractor["auth"]
    )
    assert resp.status == 400
    assert field in (await resp.json())["error"]["details"]["fields"]


async def test_list_applications_is_for_the_owner(client: Client) -> None:
    customer, (first, second), job = await _open_job(client)
    a1 = await apply(client, first, job["id"])
    a2 = await apply(client, second, job["id"])
    url = f"/api/v1/jobs/{job['id']}/applications"
    for who in (customer, await admin(client)):
        resp = await client.get(url, headers=who["auth"])
        assert resp.status == 200
        assert [a["id"] for a in await resp.json()] == [a1["id"], a2["id"]]
    resp = await client.get(url, headers=first["auth"])  # sees the job, may not list
    assert resp.status == 403
    other = await register(client, "customer")
    resp = await client.get(url, headers=other["auth"])
    assert resp.status == 404


async def test_accept_assigns_and_declines_the_rest(client: Client) -> None:
    customer, (first, second), job = await _open_job(client)
    a1 = await apply(client, first, job["id"])
    a2 = await apply(client, second, job["id"])
    accept = f"/api/v1/jobs/{job['id']}/applications/{{}}/accept"
    resp = await client.post(accept.format(a1["id"]), headers=first["auth"])
    assert resp.status == 403
    other = await register(client, "customer")
    resp = await client.post(accept.format(a1["id"]), headers=other["auth"])
    assert resp.status == 404
    resp = await client.post(accept.format("a_missing"), headers=customer["auth"])
    assert resp.status == 404

    resp = await client.post(accept.format(a2["id"]), headers=customer["auth"])
    assert resp.status == 200, await resp.text()
    assigned = await resp.json()
    assert assigned["status"] == "assigned"
    assert assigned["contractor_id"] == second["user"]["id"]
    assert assigned["updated_at"] >= job["updated_at"]

    resp = await client.get(f"/api/v1/jobs/{job['id']}/applications", headers=customer["auth"])
    statuses = {a["id"]: a["status"] for a in await resp.json()}
    assert statuses == {a1["id"]: "declined", a2["id"]: "accepted"}
    # Not open any more: accepting again, or applying, is a conflict.
    resp = await client.post(accept.format(a1["id"]), headers=customer["auth"])
    assert resp.status == 409
    late = await contractor_at(client, job["location"]["lat"], job["location"]["lng"])
    resp = await client.post(
        f"/api/v1/jobs/{job['id']}/applications", json={"quote_cents": 1}, headers=late["auth"]
    )
    assert resp.status == 404  # joined after the offers went out: never offered
    resp = await client.post(
        f"/api/v1/jobs/{job['id']}/applications", json={"quote_cents": 1}, headers=first["auth"]
    )
    assert resp.status == 409
    # The assigned contractor and the declined applicant still see the job.
    for who in (first, second):
        assert (await client.get(f"/api/v1/jobs/{job['id']}", headers=who["auth"])).status == 200


async def test_offered_contractor_cannot_apply_once_assigned(client: Client) -> None:
    customer, (first, second), job = await _open_job(client)
    a1 = await apply(client, first, job["id"])
    resp = await client.post(
        f"/api/v1/jobs/{job['id']}/applications/{a1['id']}/accept", headers=customer["auth"]
    )
    assert resp.status == 200
    resp = await client.post(
        f"/api/v1/jobs/{job['id']}/applications", json={"quote_cents": 1}, headers=second["auth"]
    )
    assert resp.status == 409
    # ...and, the offer being over, the job no longer shows to them.
    assert (await client.get(f"/api/v1/jobs/{job['id']}", headers=second["auth"])).status == 404


async def test_concurrent_accepts_assign_once(client: Client) -> None:
    customer, (first, second), job = await _open_job(client)
    a1 = await apply(client, first, job["id"])
    a2 = await apply(client, second, job["id"])
    responses = await asyncio.gather(
        *(
            client.post(
                f"/api/v1/jobs/{job['id']}/applications/{a['id']}/accept",
                headers=customer["auth"],
            )
            for a in (a1, a2)
        )
    )
    assert sorted(r.status for r in responses) == [200, 409]
    resp = await client.get(f"/api/v1/jobs/{job['id']}/applications", headers=customer["auth"])
    assert sorted(a["status"] for a in await resp.json()) == ["accepted", "declined"]
