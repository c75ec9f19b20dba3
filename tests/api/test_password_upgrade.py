"""Password hashes follow the configured Argon2 cost: older hashes are re-made at login."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from api.config import ConfigError, Settings
from tests.conftest import PASSWORD, register


async def _stored_hash(dsn: str, email: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        value: str = await conn.fetchval(
            "SELECT password_hash FROM users WHERE email = $1", email
        )
        return value
    finally:
        await conn.close()


async def test_a_hash_made_with_older_parameters_is_upgraded_at_login(
    make_client: Any, pg_dsn: str
) -> None:
    # Registered on a node hashing at m=1 MiB, t=1 ...
    old = await make_client(argon2_time_cost=1, argon2_memory_kib=1024)
    reg = await register(old)
    before = await _stored_hash(pg_dsn, reg["email"])
    assert "$m=1024,t=1,p=1$" in before

    # ... then the operator raises the cost: the next login answers as usual and leaves a
    # hash with today's parameters behind.
    new = await make_client(argon2_time_cost=2, argon2_memory_kib=2048)
    creds = {"email": reg["email"], "password": PASSWORD}
    resp = await new.post("/api/v1/auth/login", json=creds)
    assert resp.status == 200, await resp.text()
    after = await _stored_hash(pg_dsn, reg["email"])
    assert "$m=2048,t=2,p=1$" in after and after != before

    # The upgraded hash keeps working, and is not re-made again.
    resp = await new.post("/api/v1/auth/login", json=creds)
    assert resp.status == 200
    assert await _stored_hash(pg_dsn, reg["email"]) == after


async def test_a_wrong_password_upgrades_nothing(make_client: Any, pg_dsn: str) -> None:
    old = await make_client(argon2_time_cost=1, argon2_memory_kib=1024)
    reg = await register(old)
    before = await _stored_hash(pg_dsn, reg["email"])
    new = await make_client(argon2_time_cost=2, argon2_memory_kib=2048)
    resp = await new.post(
        "/api/v1/auth/login", json={"email": reg["email"], "password": "not the password"}
    )
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "unauthorized"
    assert await _stored_hash(pg_dsn, reg["email"]) == before


def test_defaults_are_owasp_minimum_and_production_refuses_less() -> None:
    settings = Settings.from_env({})
    assert (settings.argon2_time_cost, settings.argon2_memory_kib) == (2, 19 * 1024)
    production = {
        "APP_ENV": "production",
        "DATABASE_URL": "postgresql://db/tradeshub",
        "JWT_SECRET": "x" * 40,
    }
    assert Settings.from_env(production).argon2_memory_kib == 19456
    with pytest.raises(ConfigError, match="ARGON2_TIME_COST"):
        Settings.from_env({**production, "ARGON2_TIME_COST": "1"})
    with pytest.raises(ConfigError, match="ARGON2_MEMORY_KIB"):
        Settings.from_env({**production, "ARGON2_MEMORY_KIB": "8192"})
    # Outside production a lower cost is allowed (tests and local runs hash faster).
    assert Settings.from_env({"ARGON2_TIME_COST": "1"}).argon2_time_cost == 1
