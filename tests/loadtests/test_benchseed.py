"""``loadtests/benchseed.py``: counts, tokens, and a seeded contractor's point reaching seeded
watchers (customer, admin, share-link viewer) through a real hub."""

from __future__ import annotations

import contextlib
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import socketio
from aiohttp.test_utils import TestClient

from api.config import Settings
from hub.accounts.tokens import TokenCodec
from tests.hub.realtime_support import Sock, url_of
from tests.support.scripts import LOADTESTS, load_script

Client = TestClient[Any, Any]
bench = load_script("benchseed", "lt_benchseed")
FORMAT, admin_email = bench.FORMAT, bench.admin_email
email_of = load_script("loadseed", "lt_loadseed").email_of


def _benchseed(
    pg_dsn: str, settings: Settings, out: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "POSTGRES_", "REDIS_", "ADMIN_", "JWT_"))
    }
    env.update(
        DATABASE_URL=pg_dsn,
        ARGON2_TIME_COST="1",
        ARGON2_MEMORY_KIB="1024",
        JWT_SECRET=settings.jwt_secret,  # the hub under test verifies the minted tokens
    )
    return subprocess.run(
        [sys.executable, str(LOADTESTS / "benchseed.py"), "--out", str(out), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextlib.asynccontextmanager
async def _socket(client: Client, auth: dict[str, str]) -> AsyncIterator[Sock]:
    sio = socketio.AsyncClient(reconnection=False)
    sock = Sock(sio)
    try:
        await sio.connect(url_of(client), auth=auth, transports=["websocket"], wait_timeout=10)
        yield sock
    finally:
        await sio.disconnect()


def _km(a: dict[str, float], b: dict[str, float]) -> float:
    dlat = (a["lat"] - b["lat"]) * 111.32
    dlng = (a["lng"] - b["lng"]) * 111.32 * math.cos(math.radians(a["lat"]))
    return math.hypot(dlat, dlng)


async def _point_reaches(
    client: Client, room: dict[str, Any], watchers: list[dict[str, str]]
) -> None:
    """The room's publisher emits one point; every listed watcher gets it as job:location."""
    async with contextlib.AsyncExitStack() as stack:
        socks = [await stack.enter_async_context(_socket(client, w)) for w in watchers]
        for sock in socks:
            ack = await sock.call("job:watch", {"job_id": room["room"]})
            assert ack["ok"] is True, ack
            assert ack["job"] == {"id": room["room"], "status": "en_route"}
        publisher = await stack.enter_async_context(_socket(client, room["publisher"]))
        ts = time.time() * 1000.0
        point = {**room["start"], "ts": ts, "heading": 87.0, "speed_mps": 12.5}
        assert await publisher.call("location:update", point) == {"ok": True, "accepted": True}
        for sock in socks:
            (got,) = await sock.next("job:location")
            assert got["job_id"] == room["room"]
            assert got["contractor_id"] == room["contractor_id"]
            assert got["ts"] == ts
            assert (got["lat"], got["lng"]) == (room["start"]["lat"], room["start"]["lng"])
            assert got["distance_m"] > 20_000  # far from the site: no arrival during a run
        assert publisher.got("job:location") == []


async def test_admin_watchers_counts_tokens_and_delivery(
    pg_dsn: str, settings: Settings, client: Client, tmp_path: Path
) -> None:
    out = tmp_path / "fixture.json"
    done = _benchseed(
        pg_dsn,
        settings,
        out,
        "--rooms",
        "3",
        "--watchers",
        "4",
        "--tag",
        "bs1",
        "--token-ttl",
        "2h",
    )
    assert done.returncode == 0, done.stderr
    assert "3 en_route jobs x 4 watchers (customer + admins)" in done.stdout
    assert "admins created 9" in done.stdout
    fixture = json.loads(out.read_text())
    assert out.stat().st_mode & 0o077 == 0  # holds tokens
    assert fixture["format"] == FORMAT
    rooms = fixture["rooms"]
    assert len(rooms) == 3
    assert len({r["room"] for r in rooms}) == 3

    codec = TokenCodec(settings.jwt_secret, 60, 60)
    admins_seen: set[str] = set()
    conn = await asyncpg.connect(pg_dsn)
    try:
        for r in rooms:
            job = await conn.fetchrow("SELECT * FROM jobs WHERE id = $1", r["room"])
            assert job is not None
            assert job["status"] == "en_route"
            assert job["contractor_id"] == r["contractor_id"]
            assert job["customer_id"] == r["customer_id"]
            assert (job["lat"], job["lng"]) == (r["site"]["lat"], r["site"]["lng"])
            assert _km(r["start"], r["site"]) > 40  # the run moves away from the site
            pub = codec.verify(r["publisher"]["token"], "access")
            assert (pub.sub, pub.role) == (r["contractor_id"], "contractor")
            assert pub.exp - time.time() > 3600  # --token-ttl 2h
            assert len(r["watchers"]) == 4
            first = codec.verify(r["watchers"][0]["token"], "access")
            assert (first.sub, first.role) == (r["customer_id"], "customer")
            for w in r["watchers"][1:]:
                claims = codec.verify(w["token"], "access")
                assert claims.role == "admin"
                admins_seen.add(claims.sub)
        assert len(admins_seen) == 9  # one admin per watcher slot
        counts = await conn.fetchrow(
            """
            SELECT
              count(*) FILTER (WHERE role = 'customer' AND email = any($1::text[])) AS cu,
              count(*) FILTER (WHERE role = 'contractor' AND email = any($2::text[])) AS co,
              count(*) FILTER (WHERE role = 'admin' AND email = any($3::text[])) AS ad
            FROM users
            """,
            [email_of("bs1", "customer", k) for k in range(3)],
            [email_of("bs1", "contractor", k) for k in range(3)],
            [admin_email("bs1", k) for k in range(9)],
        )
        assert dict(counts) == {"cu": 3, "co": 3, "ad": 9}
    finally:
        await conn.close()

    # The customer and an admin of room 1 get room 1's point; nobody else's.
    await _point_reaches(client, rooms[1], rooms[1]["watchers"][:2])


async def test_share_viewers_and_rerun(
    pg_dsn: str, settings: Settings, client: Client, tmp_path: Path
) -> None:
    first_out, second_out = tmp_path / "a.json", tmp_path / "b.json"
    args = ("--rooms", "2", "--watchers", "3", "--tag", "bs2", "--share-viewers")
    done = _benchseed(pg_dsn, settings, first_out, *args)
    assert done.returncode == 0, done.stderr
    assert "share links 4" in done.stdout
    first = json.loads(first_out.read_text())["rooms"]
    for r in first:
        assert "token" in r["watchers"][0]
        assert all(set(w) == {"share_token"} for w in r["watchers"][1:])

    # A re-run reuses the users and jobs, replaces the links and mints new tokens.
    again = _benchseed(pg_dsn, settings, second_out, *args)
    assert again.returncode == 0, again.stderr
    assert "users created 0" in again.stdout
    second = json.loads(second_out.read_text())["rooms"]
    assert [r["room"] for r in second] == [r["room"] for r in first]
    conn = await asyncpg.connect(pg_dsn)
    try:
        links = await conn.fetch(
            "SELECT job_id, revoked_at FROM share_links WHERE job_id = any($1::text[])",
            [r["room"] for r in second],
        )
        assert len(links) == 4
        assert all(link["revoked_at"] is None for link in links)
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM jobs WHERE id = any($1::text[]) AND status = 'en_route'",
                [r["room"] for r in second],
            )
            == 2
        )
    finally:
        await conn.close()

    # Share-link viewers (and the customer) of the re-seeded job get its points.
    await _point_reaches(client, second[0], second[0]["watchers"])


def test_bad_arguments(pg_dsn: str, settings: Settings, tmp_path: Path) -> None:
    done = _benchseed(pg_dsn, settings, tmp_path / "x.json", "--rooms", "0")
    assert done.returncode == 2
    assert "at least 1" in done.stdout
    assert not (tmp_path / "x.json").exists()
