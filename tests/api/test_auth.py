"""Accounts and tokens through the REST surface."""

from __future__ import annotations

import time
from typing import Any

import jwt
from aiohttp.test_utils import TestClient

from tests.conftest import PASSWORD, register, unique_email

Client = TestClient[Any, Any]


async def test_register_login_me(client: Client) -> None:
    reg = await register(client, "contractor", phone="+1 555 123 4567")
    assert reg["user"]["role"] == "contractor"
    assert reg["expires_in"] == 900
    assert reg["user"]["created_at"].endswith("Z")
    assert "password_hash" not in reg["user"]
    resp = await client.post(
        "/api/v1/auth/login", json={"email": reg["email"].upper(), "password": PASSWORD}
    )
    assert resp.status == 200
    login = await resp.json()
    resp = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {login['access_token']}"}
    )
    me = await resp.json()
    assert me["id"] == reg["user"]["id"]
    assert me["phone"] == "+1 555 123 4567"


async def test_email_unique_regardless_of_case(client: Client) -> None:
    reg = await register(client)
    resp = await client.post(
        "/api/v1/auth/register",
        json={"email": reg["email"].upper(), "password": PASSWORD, "name": "X", "role": "customer"},
    )
    assert resp.status == 409
    assert (await resp.json())["error"]["code"] == "conflict"


async def test_password_policy_names_the_rule(client: Client) -> None:
    email = unique_email()
    cases = {
        "short": "must be at least 10 characters",
        "password123": "is too common",
        email: "must not contain the email",
    }
    for password, rule in cases.items():
        resp = await client.post(
            "/api/v1/auth/register",
            json={"email": email, "password": password, "name": "X", "role": "customer"},
        )
        assert resp.status == 400, password
        body = await resp.json()
        assert body["error"]["code"] == "validation_error"
        assert body["error"]["details"]["fields"]["password"] == rule
    # nothing was stored: the email is still free
    resp = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": PASSWORD, "name": "X", "role": "customer"},
    )
    assert resp.status == 201


async def test_register_validation_names_fields(client: Client) -> None:
    bad = [
        ({"email": "x@example.com", "password": PASSWORD, "name": "X", "role": "admin"}, "role"),
        ({"email": "x@example.com", "password": PASSWORD, "name": "X"}, "body"),
        ({"email": "not-an-email", "password": PASSWORD, "name": "X", "role": "customer"}, "email"),
        (
            {"email": "x@example.com", "password": 1234567890, "name": "X", "role": "customer"},
            "password",
        ),
        ({"email": "x@example.com", "password": PASSWORD, "name": "", "role": "customer"}, "name"),
    ]
    for body, field in bad:
        resp = await client.post("/api/v1/auth/register", json=body)
        assert resp.status == 400, body
        err = (await resp.json())["error"]
        assert err["code"] == "validation_error"
        assert field in err["details"]["fields"], err


async def test_wrong_password_and_unknown_email_are_the_same(client: Client) -> None:
    reg = await register(client)
    for email in (reg["email"], unique_email("ghost")):
        resp = await client.post(
            "/api/v1/auth/login", json={"email": email, "password": "wrong password 123"}
        )
        assert resp.status == 401
        assert (await resp.json())["error"] == {
            "code": "unauthorized",
            "message": "wrong email or password",
        }


async def test_lockout_after_five_failures(make_client: Any) -> None:
    client = await make_client(login_ip_max_failures=1000)
    reg = await register(client)
    for _ in range(5):
        resp = await client.post(
            "/api/v1/auth/login", json={"email": reg["email"], "password": "wrong password 123"}
        )
        assert resp.status == 401
    # Even the right password is refused for the rest of the window.
    resp = await client.post(
        "/api/v1/auth/login", json={"email": reg["email"], "password": PASSWORD}
    )
    assert resp.status == 429
    assert int(resp.headers["Retry-After"]) > 0
    assert (await resp.json())["error"]["code"] == "rate_limited"
    # another account from the same IP is unaffected
    other = await register(client)
    resp = await client.post(
        "/api/v1/auth/login", json={"email": other["email"], "password": PASSWORD}
    )
    assert resp.status == 200


async def test_lockout_per_ip(make_client: Any) -> None:
    client = await make_client(login_ip_max_failures=3)
    for _ in range(3):
        resp = await client.post(
            "/api/v1/auth/login", json={"email": unique_email(), "password": "wrong password 1"}
        )
        assert resp.status == 401
    reg = await register(client)
    resp = await client.post(
        "/api/v1/auth/login", json={"email": reg["email"], "password": PASSWORD}
    )
    assert resp.status == 429


async def test_refresh_rotation_and_reuse_revokes_family(client: Client) -> None:
    reg = await register(client)
    first = reg["refresh_token"]
    resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert resp.status == 200
    second = (await resp.json())["refresh_token"]
    assert second != first
    # reuse of the spent token: 401, and the family (including `second`) is revoked
    resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert resp.status == 401
    resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": second})
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "unauthorized"


async def test_refresh_family_isolated_per_login(client: Client) -> None:
    reg = await register(client)
    resp = await client.post(
        "/api/v1/auth/login", json={"email": reg["email"], "password": PASSWORD}
    )
    other_login = await resp.json()
    await client.post("/api/v1/auth/refresh", json={"refresh_token": reg["refresh_token"]})
    await client.post("/api/v1/auth/refresh", json={"refresh_token": reg["refresh_token"]})
    resp = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": other_login["refresh_token"]}
    )
    assert resp.status == 200


async def test_logout_revokes_refresh(client: Client) -> None:
    reg = await register(client)
    resp = await client.post(
        "/api/v1/auth/logout", json={"refresh_token": reg["refresh_token"]}, headers=reg["auth"]
    )
    assert resp.status == 204
    resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": reg["refresh_token"]})
    assert resp.status == 401


async def test_access_token_checks(client: Client, settings: Any) -> None:
    reg = await register(client)
    now = int(time.time())
    base = {"sub": reg["user"]["id"], "role": "customer", "jti": "x", "iat": now}
    forged = jwt.encode({**base, "type": "access", "exp": now + 60}, "another secret " * 3)
    expired = jwt.encode({**base, "type": "access", "exp": now - 1}, settings.jwt_secret)
    wrong_type = jwt.encode({**base, "type": "refresh", "exp": now + 60}, settings.jwt_secret)
    none_alg = jwt.encode({**base, "type": "access", "exp": now + 60}, None, algorithm="none")
    no_jti = jwt.encode(
        {"sub": reg["user"]["id"], "type": "access", "iat": now, "exp": now + 60},
        settings.jwt_secret,
    )
    for token in (forged, expired, wrong_type, none_alg, no_jti, "garbage", ""):
        resp = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 401, token
        assert (await resp.json())["error"]["code"] == "unauthorized"
    resp = await client.get("/api/v1/me")
    assert resp.status == 401
    # a refresh token is not an access token
    resp = await client.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {reg['refresh_token']}"}
    )
    assert resp.status == 401


async def test_refresh_token_is_not_access(client: Client) -> None:
    reg = await register(client)
    resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": reg["access_token"]})
    assert resp.status == 401
