"""The audit log: written in the action's transaction, append-only, never holding secrets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from api.db import create_pool
from hub.trust import audit


@pytest.fixture
async def pool(pg_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(pg_dsn, 1, 2)
    yield pool
    await pool.close()


async def test_record_reads_back_newest_first_with_secrets_redacted(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        first = await audit.record(
            conn, "u_admin", audit.USER_SUSPENDED, "user", "u_t1", "req-1", {"reason": "spam"}
        )
        second = await audit.record(
            conn,
            None,
            audit.LOGIN_LOCKED,
            "user",
            "u_t1",
            None,
            {"password": "hunter2", "nested": {"refresh_token": "x", "ok": 1}, "OTP": "123456"},
        )
    async with pool.acquire() as conn:
        entries = await audit.newest(conn, 10, target="user:u_t1")
    assert [e.id for e in entries][:2] == [second, first]
    locked = entries[0].public()
    assert "actor_id" not in locked
    assert locked["details"] == {
        "password": audit.REDACTED,
        "nested": {"refresh_token": audit.REDACTED, "ok": 1},
        "OTP": audit.REDACTED,
    }
    suspended = entries[1].public()
    assert suspended["actor_id"] == "u_admin"
    assert suspended["target"] == "user:u_t1"
    assert suspended["request_id"] == "req-1"
    async with pool.acquire() as conn:
        older = await audit.newest(conn, 10, before_id=second, target="user:u_t1")
    assert [e.id for e in older] == [first]


async def test_an_entry_rolls_back_with_its_action(pool: asyncpg.Pool) -> None:
    with pytest.raises(RuntimeError):
        async with pool.acquire() as conn, conn.transaction():
            await audit.record(conn, "u_a", audit.USER_SUSPENDED, "user", "u_rollback", None)
            raise RuntimeError("the action failed after writing its entry")
    async with pool.acquire() as conn:
        assert await audit.newest(conn, 10, target="user:u_rollback") == []


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET action = 'x' WHERE id = $1",
        "DELETE FROM audit_log WHERE id = $1",
        "TRUNCATE audit_log",
    ],
)
async def test_the_log_is_append_only(pool: asyncpg.Pool, statement: str) -> None:
    async with pool.acquire() as conn:
        entry = await audit.record(conn, "u_a", audit.FLAG_RESOLVED, "flag", "f1", None)
        args = (entry,) if "$1" in statement else ()
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await conn.execute(statement, *args)
        assert (await audit.newest(conn, 1, target="flag:f1"))[0].id >= entry


def test_cursors_round_trip_and_refuse_others() -> None:
    assert audit.decode_cursor(audit.encode_cursor(42)) == 42
    for bad in ("", "zzz", audit.encode_cursor(1)[:-1] + "!", "bjE"):
        with pytest.raises(Exception, match="cursor"):
            audit.decode_cursor(bad)
