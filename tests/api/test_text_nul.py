"""Text with a NUL character (U+0000), which PostgreSQL's text cannot hold, is the client's
mistake: it gets a 4xx in the contract's format (a socket: an error ack that is not
``internal_error``), nothing is stored, and the hub keeps serving.

PostgreSQL refuses the NUL in the statement; ``hub.core.errors.as_domain_error`` turns that
refusal into ``validation_error`` in the two places exceptions become answers (REST's error
middleware and the gateway's acks), instead of a 500 with an ``unhandled error`` log line.
Chat message bodies never get there: hub.chat strips control characters.
"""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.api.jobs_support import post_job, spot
from tests.conftest import PASSWORD, register, unique_email
from tests.hub.realtime_support import connected, conversation, token_of

Client = TestClient[Any, Any]

async def _refused_plainly(resp: Any) -> dict[str, Any]:
    assert 400 <= resp.status < 500, (resp.status, await resp.text())
    error: dict[str, Any] = (await resp.json())["error"]
    assert error["code"] != "internal_error"
    return error


async def test_a_nul_in_a_registration_is_refused(client: Client) -> None:
    email = unique_email()
    resp = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": PASSWORD, "name": "Bad\u0000Name", "role": "customer"},
    )
    await _refused_plainly(resp)
    resp = await client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert resp.status == 401  # no account was made


async def test_a_nul_in_a_job_is_refused(client: Client) -> None:
    customer = await register(client, "customer")
    lat, lng = spot()
    resp = await client.post(
        "/api/v1/jobs",
        json={"trade": "plumbing", "title": "Tap\u0000", "location": {"lat": lat, "lng": lng}},
        headers=customer["auth"],
    )
    await _refused_plainly(resp)
    resp = await client.get("/api/v1/jobs", headers=customer["auth"])
    assert (await resp.json())["items"] == []


async def test_a_nul_in_a_path_id_is_refused(client: Client) -> None:
    customer = await register(client, "customer")
    job = await post_job(client, customer, *spot())
    resp = await client.get(f"/api/v1/jobs/{job['id']}%00", headers=customer["auth"])
    await _refused_plainly(resp)


async def test_a_nul_in_a_socket_payload_is_refused(client: Client) -> None:
    pair = await conversation(client)
    async with connected(client, token_of(pair.customer)) as sock:
        ack = await sock.call("chat:join", {"conversation_id": pair.conversation_id + "\u0000"})
        assert ack["ok"] is False
        assert ack["error"]["code"] != "internal_error", ack
        ack = await sock.call("chat:join", {"conversation_id": pair.conversation_id})
        assert ack["ok"] is True  # the socket is still served
