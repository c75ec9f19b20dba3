"""The stats counters (migration 0011's triggers) agree with counting the tables, through
inserts, updates, deletes and concurrent writers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from api.db import create_pool
from hub.trust import store


@pytest.fixture
async def pool(pg_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(pg_dsn, 1, 6)
    yield pool
    await pool.close()


async def _counted(conn: asyncpg.Connection) -> tuple[dict[str, int], dict[str, int]]:
    users = {r["role"]: r["n"] for r in await conn.fetch(
        "SELECT role, count(*) AS n FROM users GROUP BY role")}  # fmt: skip
    jobs = {r["status"]: r["n"] for r in await conn.fetch(
        "SELECT status, count(*) AS n FROM jobs GROUP BY status")}  # fmt: skip
    return users, jobs


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if v}


async def _user(conn: asyncpg.Connection, role: str) -> str:
    uid = f"u_st_{uuid.uuid4().hex[:12]}"
    await conn.execute(
        "INSERT INTO users (id, email, password_hash, name, role) VALUES ($1, $2, 'x', 'S', $3)",
        uid,
        f"{uid}@example.com",
        role,
    )
    return uid


async def _job(conn: asyncpg.Connection, customer: str, status: str = "open") -> str:
    jid = f"j_st_{uuid.uuid4().hex[:12]}"
    trade = await conn.fetchval("SELECT slug FROM trades LIMIT 1")
    await conn.execute(
        """
        INSERT INTO jobs (id, customer_id, trade, title, description, lat, lng, status)
        VALUES ($1, $2, $3, 't', '', 51.5, -0.1, $4)
        """,
        jid,
        customer,
        trade,
        status,
    )
    return jid


async def test_counters_follow_every_change(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        customer = await _user(conn, "customer")
        other = await _user(conn, "contractor")
        jobs = [await _job(conn, customer) for _ in range(3)]
        await conn.execute("UPDATE jobs SET status = 'cancelled' WHERE id = $1", jobs[0])
        await conn.execute("UPDATE jobs SET updated_at = now() WHERE id = $1", jobs[1])
        await conn.execute("UPDATE users SET role = 'admin' WHERE id = $1", other)
        await conn.execute("DELETE FROM jobs WHERE id = $1", jobs[2])
        with pytest.raises(RuntimeError):
            async with conn.transaction():  # rolled back: counts nothing
                await _job(conn, customer)
                raise RuntimeError("rolled back")
        victim = await _user(conn, "customer")
        gone = await _job(conn, victim, "assigned")
        await conn.execute("DELETE FROM jobs WHERE id = $1", gone)
        await conn.execute("DELETE FROM users WHERE id = $1", victim)
        users, jobs_by_status = await store.counts(conn)
        expected_users, expected_jobs = await _counted(conn)
    assert _nonzero(users) == expected_users
    assert _nonzero(jobs_by_status) == expected_jobs


async def test_concurrent_writers_lose_nothing(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        customer = await _user(conn, "customer")

    async def writer() -> None:
        async with pool.acquire() as conn:
            for _ in range(10):
                job = await _job(conn, customer)
                await conn.execute("UPDATE jobs SET status = 'cancelled' WHERE id = $1", job)

    await asyncio.gather(*(writer() for _ in range(5)))
    async with pool.acquire() as conn:
        users, jobs_by_status = await store.counts(conn)
        expected_users, expected_jobs = await _counted(conn)
    assert _nonzero(users) == expected_users
    assert _nonzero(jobs_by_status) == expected_jobs
