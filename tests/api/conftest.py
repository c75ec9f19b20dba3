"""Fixtures of the REST tests: the seeded trades, and helpers for profiles and jobs."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from hub.contractors.trades import TRADES
from hub.contractors.trades_store import upsert_trades
from tests.conftest import ADMIN_URL, _db_url

Client = TestClient[Any, Any]


@pytest.fixture(scope="session", autouse=True)
def seeded_trades(pg_dsn: str) -> None:
    """Seed the trade categories once per session (idempotent, like ``tradeshub seed``)."""

    async def seed() -> None:
        conn = await asyncpg.connect(pg_dsn)
        try:
            await upsert_trades(conn, TRADES)
        finally:
            await conn.close()

    asyncio.run(seed())


@pytest.fixture
async def fresh_db() -> AsyncIterator[str]:
    """An empty database (not migrated), dropped afterwards."""
    name = f"th_fresh_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _db_url(name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
