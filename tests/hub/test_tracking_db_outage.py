"""Live tracking through a PostgreSQL outage, on a hub process of the test's own with a
PostgreSQL of its own: the contractor's points keep being accepted and reaching the watching
customer while the database is down, the breadcrumb writer logs its failed writes and keeps
the points, and once PostgreSQL is back the breadcrumb has every point, with no restart."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import socketio

from hub.contractors.trades import TRADES
from hub.contractors.trades_store import upsert_trades
from tests.hub.realtime_support import Sock, token_of
from tests.hub.tracking_support import base_ts, tracked_job
from tests.support.processes import HubProcess, PostgresProcess
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow

WAIT = 10.0


async def _socket(url: str, who: dict[str, Any]) -> Sock:
    sock = Sock(socketio.AsyncClient(reconnection=False))
    await sock.sio.connect(
        url, auth={"token": token_of(who)}, transports=["websocket"], wait_timeout=WAIT
    )
    return sock


async def test_points_sent_while_postgres_is_down_reach_the_breadcrumb(tmp_path: Path) -> None:
    pg = PostgresProcess(tmp_path)
    await asyncio.to_thread(pg.init)
    await asyncio.to_thread(pg.start)
    node = HubProcess(
        {
            "DATABASE_URL": pg.url,
            "MIGRATE_ON_START": "true",
            "ARGON2_TIME_COST": "1",
            "ARGON2_MEMORY_KIB": "1024",
            "DB_POOL_MIN": "1",
            "DB_POOL_MAX": "4",
        },
        tmp_path,
    )
    opened: list[Sock] = []
    try:
        node.start()
        await asyncio.to_thread(node.wait)
        conn = await asyncpg.connect(pg.url)
        try:
            await upsert_trades(conn, TRADES)
        finally:
            await conn.close()
        async with aiohttp.ClientSession(base_url=node.url) as http:
            t = await tracked_job(http)  # type: ignore[arg-type]
            contractor = await _socket(node.url, t.contractor)
            customer = await _socket(node.url, t.customer)
            opened += [contractor, customer]
            assert (await customer.call("job:watch", {"job_id": t.job_id}))["ok"] is True
            ts = base_ts()
            points = [t.at(2000 - 100 * i, ts + i * 10_000) for i in range(5)]

            async def breadcrumb() -> list[Any]:
                resp = await http.get(f"/api/v1/jobs/{t.job_id}/track", headers=t.customer["auth"])
                body = await resp.json()
                return list(body.get("breadcrumb", [])) if resp.status == 200 else []

            ack = await contractor.call("location:update", points[0])
            assert ack == {"ok": True, "accepted": True}
            await eventually(lambda: customer.got("job:location"), within=WAIT)

            async def written_first() -> bool:
                return len(await breadcrumb()) == 1

            await eventually(written_first, within=WAIT, every=0.2)

            await asyncio.to_thread(pg.crash)
            for p in points[1:]:
                ack = await contractor.call("location:update", p)
                assert ack == {"ok": True, "accepted": True}, ack
            await eventually(lambda: len(customer.got("job:location")) == 5, within=WAIT)
            assert [p["ts"] for p in customer.got("job:location")] == [p["ts"] for p in points]
            await eventually(lambda: "breadcrumb write failed" in node.log(), within=WAIT)

            await asyncio.to_thread(pg.start)

            async def all_written() -> bool:
                return len(await breadcrumb()) == 5

            await eventually(all_written, within=WAIT * 2, every=0.3)
            assert [round(p["ts"] - ts) for p in await breadcrumb()] == [
                i * 10_000 for i in range(5)
            ]
            assert node.alive()
    finally:
        for sock in opened:
            await sock.sio.disconnect()
        node.kill(signal.SIGTERM)
        await asyncio.to_thread(pg.stop)
