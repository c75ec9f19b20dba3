"""Shared fixtures: one fresh PostgreSQL database per test session, the app, clients.

The database is created on the PostgreSQL at TEST_DATABASE_ADMIN_URL (default: the local
server, trust auth, user postgres), migrated once, and dropped at the end, so test runs
never see each other's data. Redis tests use the Redis at TEST_REDIS_URL under a random key
prefix.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from api.app import create_app
from api.config import Settings
from api.db import create_pool
from api.migrate import migrate

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PASSWORD = "correct horse battery staple"


def _start_admin_url() -> str:
    """The local server, or an embedded one when tests/run.sh found none."""
    if os.environ.get("TEST_EMBEDDED_POSTGRES"):
        import tempfile
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver

        server = pgserver.get_server(tempfile.mkdtemp(prefix="th-pg-"), cleanup_mode="delete")
        return str(server.get_uri())
    return os.environ.get(
        "TEST_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )


ADMIN_URL = _start_admin_url()


def _db_url(name: str) -> str:
    """ADMIN_URL with its database replaced by ``name`` (query string kept)."""
    parts = urlsplit(ADMIN_URL)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def pg_dsn() -> Iterator[str]:
    name = f"th_test_{secrets.token_hex(4)}"

    async def create() -> None:
        conn = await asyncpg.connect(ADMIN_URL)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        pool = await create_pool(_db_url(name), 1, 1)
        try:
            async with pool.acquire() as c:
                await migrate(c)
        finally:
            await pool.close()

    async def drop() -> None:
        conn = await asyncpg.connect(ADMIN_URL)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(create())
    try:
        yield _db_url(name)
    finally:
        asyncio.run(drop())


@pytest.fixture
def settings(pg_dsn: str) -> Settings:
    # Cheap Argon2 parameters: the tests exercise the logic, not the hash's cost.
    return Settings(
        database_url=pg_dsn,
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        migrate_on_start=False,
        db_pool_min=1,
        db_pool_max=5,
    )


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Any], settings: Settings
) -> AsyncIterator[TestClient[Any, Any]]:
    yield await aiohttp_client(create_app(settings))


@pytest.fixture
def make_client(aiohttp_client: Callable[..., Any], settings: Settings) -> Callable[..., Any]:
    """Build a client on an app with some settings changed."""

    async def make(**changes: Any) -> TestClient[Any, Any]:
        return await aiohttp_client(create_app(replace(settings, **changes)))

    return make


def unique_email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:12]}@example.com"


async def register(
    client: TestClient[Any, Any], role: str = "customer", **extra: Any
) -> dict[str, Any]:
    """Register a fresh account; return the response body plus ``auth`` headers."""
    body = {
        "email": unique_email(role),
        "password": PASSWORD,
        "name": f"Test {role}",
        "role": role,
        **extra,
    }
    resp = await client.post("/api/v1/auth/register", json=body)
    assert resp.status == 201, await resp.text()
    data: dict[str, Any] = await resp.json()
    data["auth"] = {"Authorization": f"Bearer {data['access_token']}"}
    data["email"] = body["email"]
    return data
