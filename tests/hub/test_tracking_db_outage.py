"""Live tracking through a PostgreSQL outage, on a hub process of the test's own with a
PostgreSQL of its own: the contractor's points keep being accepted and reaching the watching
customer while the database is down, the breadcrumb writer logs its failed writes and keeps
the points, and once PostgreSQL is back the breadcrumb has every point, with no restart; a hub
stopped during the outage exits promptly, logging the points it could not write."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import socketio

from hub.contractors.trades import TRADES
from hub.contractors.trades_store import upsert_trades
from tests.hub.realtime_support import Sock, token_of
from tests.hub.tracking_support import Tracked, base_ts, tracked_job
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


@dataclass
class Scene:
    """A hub on its own PostgreSQL; an en-route job; its contractor's and customer's sockets
    (the customer watching); five points 100 m and 10 s apart."""

    pg: PostgresProcess
    node: HubProcess
    http: aiohttp.ClientSession
    t: Tracked
    contractor: Sock
    customer: Sock
    ts: float
    points: list[dict[str, Any]]

    async def breadcrumb(self) -> list[Any]:
        resp = await self.http.get(
            f"/api/v1/jobs/{self.t.job_id}/track", headers=self.t.customer["auth"]
        )
        body = await resp.json()
        return list(body.get("breadcrumb", [])) if resp.status == 200 else []

    async def crash_after_the_first_point(self) -> None:
        """Send the first point and see it written; crash PostgreSQL; send the rest."""
        ack = await self.contractor.call("location:update", self.points[0])
        assert ack == {"ok": True, "accepted": True}

        async def written() -> bool:
            return len(await self.breadcrumb()) == 1

        await eventually(written, within=WAIT, every=0.2)
        await asyncio.to_thread(self.pg.crash)
        for p in self.points[1:]:
            ack = await self.contractor.call("location:update", p)
            assert ack == {"ok": True, "accepted": True}, ack


@asynccontextmanager
async def scene(tmp_path: Path) -> AsyncIterator[Scene]:
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
            "SHUTDOWN_GRACE": "2s",
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
            yield Scene(pg, node, http, t, contractor, customer, ts, points)
    finally:
        for sock in opened:
            await sock.sio.disconnect()
        node.kill(signal.SIGTERM)
        await asyncio.to_thread(pg.stop)


async def test_points_sent_while_postgres_is_down_reach_the_breadcrumb(tmp_path: Path) -> None:
    async with scene(tmp_path) as s:
        await s.crash_after_the_first_point()
        await eventually(lambda: len(s.customer.got("job:location")) == 5, within=WAIT)
        assert [p["ts"] for p in s.customer.got("job:location")] == [p["ts"] for p in s.points]
        await eventually(lambda: "breadcrumb write failed" in s.node.log(), within=WAIT)

        await asyncio.to_thread(s.pg.start)

        async def all_written() -> bool:
            return len(await s.breadcrumb()) == 5

        await eventually(all_written, within=WAIT * 2, every=0.3)
        assert [round(p["ts"] - s.ts) for p in await s.breadcrumb()] == [
            i * 10_000 for i in range(5)
        ]
        assert s.node.alive()


async def test_a_hub_stopped_while_postgres_is_down_exits_and_says_what_it_lost(
    tmp_path: Path,
) -> None:
    """SIGTERM during the outage: the hub does not hang on the database; it exits 0 and logs
    how many breadcrumb points it could not write."""
    async with scene(tmp_path) as s:
        await s.crash_after_the_first_point()
        await eventually(lambda: len(s.customer.got("job:location")) == 5, within=WAIT)
        assert s.node.proc is not None
        started = asyncio.get_running_loop().time()
        s.node.proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(s.node.proc.wait, 30) == 0
        assert asyncio.get_running_loop().time() - started < 20
        lost = [
            json.loads(line)
            for line in s.node.log().splitlines()
            if '"breadcrumbs lost at shutdown"' in line
        ]
        assert len(lost) == 1 and lost[0]["rows"] == 4, lost
