"""Sessions at their edges: logging out with a token that is not yours or not a token, and
sessions an operator ended by deleting their refresh tokens."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from tests.conftest import PASSWORD, register

Client = TestClient[Any, Any]


async def _refresh(client: Client, token: str) -> tuple[int, dict[str, Any]]:
    resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": token})
    body: dict[str, Any] = await resp.json()
    return resp.status, body


async def test_logging_out_with_someone_elses_token_ends_nothing(client: Client) -> None:
    mallory = await register(client)
    alice = await register(client)
    resp = await client.post(
        "/api/v1/auth/logout",
        json={"refresh_token": alice["refresh_token"]},
        headers=mallory["auth"],
    )
    assert resp.status == 204  # no hint whether the token was anyone's
    status, body = await _refresh(client, alice["refresh_token"])
    assert status == 200, body
    assert body["user"]["id"] == alice["user"]["id"]
    status, body = await _refresh(client, mallory["refresh_token"])
    assert status == 200, body  # and the caller's own session goes on too


async def test_logging_out_with_a_dead_or_bogus_token_is_already_done(client: Client) -> None:
    user = await register(client)
    for token in ("not a token", user["access_token"]):  # garbage; the wrong kind of token
        resp = await client.post(
            "/api/v1/auth/logout", json={"refresh_token": token}, headers=user["auth"]
        )
        assert resp.status == 204
    status, body = await _refresh(client, user["refresh_token"])
    assert status == 200, body


async def test_sessions_an_operator_deleted_cannot_be_refreshed(
    client: Client, pg_dsn: str
) -> None:
    """Deleting a user's refresh tokens ends every login of theirs at its next refresh;
    the password still works."""
    user = await register(client)
    conn = await asyncpg.connect(pg_dsn)
    try:
        deleted = await conn.execute(
            "DELETE FROM refresh_tokens WHERE user_id = $1", user["user"]["id"]
        )
    finally:
        await conn.close()
    assert deleted == "DELETE 1"
    status, body = await _refresh(client, user["refresh_token"])
    assert status == 401
    assert body == {"error": {"code": "unauthorized", "message": "unknown refresh token"}}
    resp = await client.post(
        "/api/v1/auth/login", json={"email": user["email"], "password": PASSWORD}
    )
    assert resp.status == 200
    status, body = await _refresh(client, (await resp.json())["refresh_token"])
    assert status == 200, body
