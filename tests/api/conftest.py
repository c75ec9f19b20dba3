"""Fixtures of the REST tests: the seeded trades, and helpers for profiles and jobs."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from hub.contractors.trades import TRADES
from hub.contractors.trades_store import upsert_trades

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
