"""POST /jobs/{id}/status: the status machine, who may move it, and job:status events."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import socketio
from aiohttp.test_utils import TestClient

from api.keys import JOB_STATUS
from hub.core.errors import Conflict, Forbidden
from tests.api.jobs_support import (
    admin,
    apply,
    assigned_job,
    contractor_at,
    post_job,
    set_status,
    spot,
)
from tests.conftest import register

Client = TestClient[Any, Any]

# How to bring an assigned job to each status (by the assigned contractor).
PATH = {
    "assigned": [],
    "en_route": ["en_route"],
    "arrived": ["en_route", "arrived"],
    "in_progress": ["en_route", "arrived", "in_progress"],
    "completed": ["en_route", "arrived", "in_progress", "completed"],
    "cancelled": ["cancelled"],
}

# (from, to, who) -> expected status; "customer", "contractor" (assigned), "admin".
LEGAL = [
    ("assigned", "en_route", "contractor"),
    ("en_route", "arrived", "contractor"),
    ("arrived", "in_progress", "contractor"),
    ("in_progress", "completed", "contractor"),
    ("en_route", "arrived", "admin"),
    ("assigned", "cancelled", "customer"),
    ("assigned", "cancelled", "contractor"),
    ("en_route", "cancelled", "customer"),
    ("en_route", "cancelled", "contractor"),
    ("arrived", "cancelled", "customer"),
    ("arrived", "cancelled", "contractor"),
    ("in_progress", "cancelled", "customer"),
    ("in_progress", "cancelled", "contractor"),
    ("in_progress", "cancelled", "admin"),
]
ILLEGAL = [  # 409: the actor may make this kind of move, but not from here
    ("assigned", "arrived", "contractor"),
    ("assigned", "completed", "contractor"),
    ("en_route", "en_route", "contractor"),
    ("en_route", "in_progress", "contractor"),
    ("arrived", "en_route", "contractor"),
    ("in_progress", "arrived", "contractor"),
    ("completed", "cancelled", "customer"),
    ("completed", "cancelled", "contractor"),
    ("completed", "in_progress", "contractor"),
    ("cancelled", "en_route", "contractor"),
    ("cancelled", "cancelled", "customer"),
    ("en_route", "open", "contractor"),
    ("en_route", "assigned", "customer"),
]
WRONG_ACTOR = [  # 403: the customer only cancels
    ("assigned", "en_route", "customer"),
    ("en_route", "arrived", "customer"),
    ("in_progress", "completed", "customer"),
]


async def _job_in(client: Client, status: str) -> dict[str, Any]:
    customer, contractor, job = await assigned_job(client)
    for step in PATH[status]:
        code, job = await set_status(client, contractor, job["id"], step)
        assert code == 200, job
    return {"customer": customer, "contractor": contractor, "job": job}


async def _actor(client: Client, setup: dict[str, Any], who: str) -> dict[str, Any]:
    if who == "admin":
        return await admin(client)
    found: dict[str, Any] = setup[who]
    return found


@pytest.mark.parametrize(("start", "new", "who"), LEGAL)
async def test_legal_transitions(client: Client, start: str, new: str, who: str) -> None:
    setup = await _job_in(client, start)
    code, job = await set_status(client, await _actor(client, setup, who), setup["job"]["id"], new)
    assert code == 200, job
    assert job["status"] == new
    assert job["contractor_id"] == setup["contractor"]["user"]["id"]
    assert job["updated_at"] >= setup["job"]["updated_at"]
    resp = await client.get(f"/api/v1/jobs/{job['id']}", headers=setup["customer"]["auth"])
    assert (await resp.json())["status"] == new


@pytest.mark.parametrize(("start", "new", "who"), ILLEGAL)
async def test_illegal_transitions_are_409(client: Client, start: str, new: str, who: str) -> None:
    setup = await _job_in(client, start)
    code, body = await set_status(client, await _actor(client, setup, who), setup["job"]["id"], new)
    assert code == 409, body
    assert body["error"]["code"] == "conflict"


@pytest.mark.parametrize(("start", "new", "who"), WRONG_ACTOR)
async def test_wrong_actor_is_403(client: Client, start: str, new: str, who: str) -> None:
    setup = await _job_in(client, start)
    code, body = await set_status(client, await _actor(client, setup, who), setup["job"]["id"], new)
    assert code == 403, body
    assert body["error"]["code"] == "forbidden"


async def test_open_job_customer_cancels_and_others_cannot(client: Client) -> None:
    lat, lng = spot()
    offered = await contractor_at(client, lat, lng)
    applicant = await contractor_at(client, lat, lng)
    customer = await register(client, "customer")
    job = await post_job(client, customer, lat, lng)
    await apply(client, applicant, job["id"])
    for who in (offered, applicant):  # they see the job, but are not its contractor
        code, body = await set_status(client, who, job["id"], "cancelled")
        assert code == 403, body
    stranger = await register(client, "customer")
    code, _ = await set_status(client, stranger, job["id"], "cancelled")
    assert code == 404
    code, _ = await set_status(client, customer, job["id"], "en_route")
    assert code == 403
    code, body = await set_status(client, customer, job["id"], "cancelled")
    assert code == 200 and body["status"] == "cancelled"


async def test_bad_status_bodies(client: Client) -> None:
    _, contractor, job = await assigned_job(client)
    for body in ({"status": "teleported"}, {"status": 3}, {}, {"status": "en_route", "x": 1}):
        resp = await client.post(
            f"/api/v1/jobs/{job['id']}/status", json=body, headers=contractor["auth"]
        )
        assert resp.status == 400, body
    code, _ = await set_status(client, contractor, "j_missing", "en_route")
    assert code == 404


async def test_system_moves_en_route_to_arrived_only(client: Client) -> None:
    setup = await _job_in(client, "assigned")
    app = client.app
    assert app is not None
    statuses = app[JOB_STATUS]
    job_id = setup["job"]["id"]
    with pytest.raises(Conflict):
        await statuses.transition(job_id, None, "system", "arrived", system=True)
    await set_status(client, setup["contractor"], job_id, "en_route")
    with pytest.raises(Forbidden):
        await statuses.transition(job_id, None, "system", "completed", system=True)
    job = await statuses.transition(job_id, None, "system", "arrived", system=True)
    assert job.status == "arrived"


async def test_job_status_events_reach_customer_and_contractor(client: Client) -> None:
    lat, lng = spot()
    contractor = await contractor_at(client, lat, lng)
    customer = await register(client, "customer")
    job = await post_job(client, customer, lat, lng)
    application = await apply(client, contractor, job["id"])
    queues: dict[str, asyncio.Queue[Any]] = {}
    sockets = []
    for name, who in (("customer", customer), ("contractor", contractor)):
        sio = socketio.AsyncClient()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        sio.on("job:status", queue.put_nowait)
        await sio.connect(
            str(client.make_url("/")), auth={"token": who["access_token"]}, transports=["websocket"]
        )
        queues[name] = queue
        sockets.append(sio)
    try:
        resp = await client.post(
            f"/api/v1/jobs/{job['id']}/applications/{application['id']}/accept",
            headers=customer["auth"],
        )
        assigned = await resp.json()
        code, en_route = await set_status(client, contractor, job["id"], "en_route")
        assert code == 200
        for queue in queues.values():
            first = await asyncio.wait_for(queue.get(), 5)
            second = await asyncio.wait_for(queue.get(), 5)
            assert first == {
                "job_id": job["id"],
                "status": "assigned",
                "at": assigned["updated_at"],
            }
            assert second == {
                "job_id": job["id"],
                "status": "en_route",
                "at": en_route["updated_at"],
            }
    finally:
        for sio in sockets:
            await sio.disconnect()
