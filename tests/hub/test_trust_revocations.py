"""Revocations: a node that never got the bus message still cuts the tokens, from the
database poll; a generation never goes down; hooks run once per raise."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from api import keys
from api.db import create_pool
from hub.engine.bus import MemoryBus
from hub.trust import store
from hub.trust.revocations import Cut, Revocations
from tests.conftest import register
from tests.hub.realtime_support import connected, token_of, until
from tests.support.waiting import eventually


@pytest.fixture
async def pool(pg_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(pg_dsn, 1, 3)
    yield pool
    await pool.close()


async def test_a_node_that_missed_the_message_catches_up_from_the_database(
    pool: asyncpg.Pool,
) -> None:
    uid = f"u_rv_{uuid.uuid4().hex[:12]}"
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO users (id, email, password_hash, name, role)"
            " VALUES ($1, $2, 'x', 'R', 'customer')",
            uid,
            f"{uid}@example.com",
        )
    # Two nodes on buses that do not reach each other: the message is lost.
    here, there = Revocations(MemoryBus()), Revocations(MemoryBus(), poll_s=0.05)
    cut_there: list[tuple[str, str]] = []

    async def hook(user_id: str, reason: str) -> None:
        cut_there.append((user_id, reason))

    there.on_cut(hook)
    await here.start(pool)
    await there.start(pool)
    poller = asyncio.create_task(there.poll(pool))
    try:
        assert not there.is_revoked(uid, 0)
        async with pool.acquire() as conn, conn.transaction():
            user = await store.suspend(conn, uid, "test")
        await here.cut(uid, user.token_gen, "suspended")
        assert here.is_revoked(uid, 0) and not here.is_revoked(uid, user.token_gen)
        await eventually(lambda: there.is_revoked(uid, 0), within=5)
        await asyncio.sleep(0.2)  # more polls re-read the row: the hook ran once
        # (The session's database holds other tests' suspended users: loaded at start too.)
        assert [u for u, _ in cut_there if u == uid] == [uid]
        # Older or repeated news changes nothing.
        assert not await there.apply(Cut(uid, 0))
        assert not await there.apply(Cut(uid, user.token_gen))
        assert there.is_revoked(uid, user.token_gen - 1)
    finally:
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        await here.close()
        await there.close()


async def test_a_failing_hook_does_not_stop_the_others() -> None:
    revocations = Revocations(MemoryBus())
    seen: list[str] = []

    async def broken(user_id: str, reason: str) -> None:
        raise RuntimeError("hook failed")

    async def fine(user_id: str, reason: str) -> None:
        seen.append(user_id)

    revocations.on_cut(broken)
    revocations.on_cut(fine)
    assert await revocations.apply(Cut("u_x", 3))
    assert seen == ["u_x"]


async def test_a_socket_that_connected_during_the_cut_is_ended(client: Any) -> None:
    """The cut arrives while the socket's token is being checked: the connect hook ends it."""
    who = await register(client, "customer")
    uid = who["user"]["id"]
    app = client.app
    # The token check as it was a moment before the cut reached this node.
    app[keys.TOKENS].use_revocations(lambda user_id, gen: False)
    await app[keys.REVOCATIONS].apply(Cut(uid, 1))
    async with connected(client, token_of(who)) as sock:
        await until(lambda: bool(sock.disconnect_reasons), "the late socket's end")
        assert sock.got("auth:revoked")[0]["reason"] == "suspended"
