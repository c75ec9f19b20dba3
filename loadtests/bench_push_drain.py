"""Push drain: notifications/s one node sends, and how late its event loop wakes while it
does, after a storm queued while FCM was down.

Usage::

    .venv/bin/python loadtests/bench_push_drain.py [--pushes 10000] [--rates 500,100000]
        [--down 5] [--out [PATH]] [--small]

For each ``PUSH_RATE`` in ``--rates`` (the hub's bounded drain rate; a very high one shows
what the node can do unbounded):

1. Creates a database ``bench_push_<random>`` on ``--pg-admin-url`` and migrates it (dropped
   at the end), and starts the fake FCM (``python -m tests.fakes.fcm``: Google's token
   endpoint and FCM HTTP v1, the same fake as the tests) in its own process, answering every
   send ``503 UNAVAILABLE`` with ``Retry-After: 2``.
2. Starts one hub in this process (``create_app`` with ``FCM_CREDENTIALS`` and
   ``FCM_ENDPOINT`` pointing at the fake, start-up objects frozen out of the GC as ``serve``
   does). Nothing else runs on its loop but a lag sampler and a stats poll every 0.2 s.
3. Queues ``--pushes`` pushes by SQL (one device and one chat notification per user, so
   none collapses), then leaves FCM down ``--down`` seconds: the worker pauses on
   Retry-After and probes with one push at a time.
4. Brings FCM back; reports how long the node took to notice (its next probe), then times
   the drain from the first delivery: until 99 % and all of the pushes were delivered (the
   rows tried while FCM was down wait out their own backoff). The loop lag is sampled every 5 ms
   during the drain (how late a 5 ms sleep wakes), and the hub's CPU is this process's CPU
   time over the drain's wall time.

Prints a markdown table; ``--out`` writes JSON (default under loadtests/reports/).
``--small`` (500 pushes, 2 s down, one rate) finishes in about 15 s.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import secrets
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

if __package__ in (None, ""):
    _ROOT = str(Path(__file__).resolve().parents[1])
    if _ROOT not in sys.path:
        sys.path.insert(0, _ROOT)

import aiohttp
import asyncpg
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
REPORTS = ROOT / "loadtests" / "reports"
DEFAULT_ADMIN_URL = os.environ.get(
    "TEST_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(len(ordered) * q) - 1))] if ordered else 0.0


async def seed(conn: asyncpg.Connection, pushes: int) -> None:
    """One sender, ``pushes`` recipients with a device each and one queued chat push each."""
    run = secrets.token_hex(3)
    sender = f"u_bench_sender_{run}"
    await conn.execute(
        "INSERT INTO users (id, email, password_hash, name, role)"
        " VALUES ($1, $2, 'x', 'Bench Contractor', 'contractor')",
        sender,
        f"{sender}@bench.invalid",
    )
    users = [(f"u_bench_{run}_{i}", f"bench-{run}-{i}@bench.invalid") for i in range(pushes)]
    await conn.executemany(
        "INSERT INTO users (id, email, password_hash, name, role)"
        " VALUES ($1, $2, 'x', 'Bench Customer', 'customer')",
        users,
    )
    await conn.executemany(
        "INSERT INTO devices (token, user_id, platform) VALUES ($1, $2, 'android')",
        [(f"{secrets.token_urlsafe(16)}:APA91b{uid}", uid) for uid, _ in users],
    )
    now = datetime.now(UTC).isoformat()
    await conn.executemany(
        """
        WITH n AS (
            INSERT INTO notifications (user_id, kind, payload)
            VALUES ($1, 'chat:message', $2) RETURNING id, user_id
        )
        INSERT INTO push_outbox (notification_id, token, collapse_key)
        SELECT n.id, d.token, $3 FROM n JOIN devices d ON d.user_id = n.user_id
        """,
        [
            (
                uid,
                (
                    {
                        "id": f"m_{i}",
                        "conversation_id": f"cv_{i}",
                        "seq": 1,
                        "sender_id": sender,
                        "body": "On my way, about 10 minutes out",
                        "client_msg_id": f"c{i}",
                        "created_at": now,
                    }
                ),
                f"chat:cv_{i}",
            )
            for i, (uid, _) in enumerate(users)
        ],
    )


async def run_one(admin_url: str, pushes: int, rate: int, down_s: float) -> dict[str, Any]:
    from api.app import create_app
    from api.config import Settings
    from api.db import create_pool
    from api.migrate import migrate

    name = f"bench_push_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
    work = Path(tempfile.mkdtemp(prefix="bench-push-"))
    port = free_port()
    fake = await asyncio.create_subprocess_exec(
        *[
            sys.executable,
            "-m",
            "tests.fakes.fcm",
            "--port",
            str(port),
            "--account",
            str(work / "service-account.json"),
        ],
        cwd=ROOT,
    )
    fcm_url = f"http://127.0.0.1:{port}"
    runner: web.AppRunner | None = None
    try:
        pool = await create_pool(dsn, 1, 2)
        async with pool.acquire() as conn:
            await migrate(conn)
        async with aiohttp.ClientSession() as http:
            for _ in range(200):
                try:
                    async with http.get(f"{fcm_url}/_fake/stats") as resp:
                        if resp.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
            await http.post(
                f"{fcm_url}/_fake/down",
                json={"status": 503, "code": "UNAVAILABLE", "retry_after": "2"},
            )
            settings = Settings(
                database_url=dsn,
                migrate_on_start=False,
                fcm_credentials=work / "service-account.json",
                fcm_endpoint=fcm_url,
                push_rate_per_s=rate,
                db_pool_min=2,
                db_pool_max=10,
            )
            runner = web.AppRunner(create_app(settings))
            await runner.setup()
            gc.collect()
            gc.freeze()
            async with pool.acquire() as conn:
                await seed(conn, pushes)
            await asyncio.sleep(down_s)

            lags: list[float] = []
            draining = True

            async def sample() -> None:
                loop = asyncio.get_running_loop()
                while draining:
                    before = loop.time()
                    await asyncio.sleep(0.005)
                    lags.append(loop.time() - before - 0.005)

            async def delivered() -> dict[str, Any]:
                async with http.get(f"{fcm_url}/_fake/stats") as resp:
                    stats: dict[str, Any] = await resp.json()
                    return stats

            before = await delivered()
            t0 = time.monotonic()
            await http.post(f"{fcm_url}/_fake/up")
            # The node notices FCM is back at its next probe (it paused on Retry-After and
            # backs off between probes); the drain is timed from the first delivery.
            for _ in range(60_000):  # polled: the fake is another process
                if (await delivered())["delivered"]:
                    break
                await asyncio.sleep(0.01)
            first = time.monotonic()
            sampler = asyncio.create_task(sample())
            cpu0 = time.process_time()
            t99 = t_all = None
            while t_all is None and time.monotonic() - t0 < 600:
                await asyncio.sleep(0.2)
                stats = await delivered()
                if t99 is None and stats["delivered"] >= 0.99 * pushes:
                    t99 = time.monotonic() - first
                    cpu99 = time.process_time() - cpu0
                    lag_window = list(lags)
                if stats["delivered"] >= pushes:
                    t_all = time.monotonic() - first
            draining = False
            await sampler
    finally:
        if runner is not None:
            await runner.cleanup()
        gc.unfreeze()
        fake.kill()
        await fake.wait()
        await pool.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    if t99 is None:
        raise RuntimeError(f"not drained: {stats}")
    return {
        "pushes": pushes,
        "push_rate": rate,
        "probes_while_down": before["requests"],
        "noticed_after_s": round(first - t0, 2),
        "drained_99_s": round(t99, 2),
        "drained_all_s": round(t_all, 2) if t_all else None,
        "per_s": round(0.99 * pushes / t99) if t99 else None,
        "hub_cpu_cores": round(cpu99 / t99, 2),
        "lag_p50_ms": round(percentile(lag_window, 0.50) * 1000, 1),
        "lag_p99_ms": round(percentile(lag_window, 0.99) * 1000, 1),
        "lag_max_ms": round(max(lag_window) * 1000, 1),
        "duplicates": stats["duplicates"],
        "delivered": stats["delivered"],
    }


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    results = []
    for rate in [int(r) for r in args.rates.split(",")]:
        result = await run_one(args.pg_admin_url, args.pushes, rate, args.down)
        print(json.dumps(result), flush=True)
        results.append(result)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pushes", type=int, default=10_000)
    parser.add_argument("--rates", default="500,100000")
    parser.add_argument("--down", type=float, default=5.0)
    parser.add_argument("--pg-admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--out", nargs="?", const="", default=None)
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args()
    if args.small:
        args.pushes, args.rates, args.down = 500, "100000", 2.0
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    results = asyncio.run(main_async(args))
    print()
    print(
        "| pushes | PUSH_RATE | FCM back, first push after | drained/s (to 99 %) | 99 % in"
        " | all in | hub CPU (cores) | loop lag p50 / p99 / max (ms) | probes while down"
        " | duplicates |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['pushes']} | {r['push_rate']} | {r['noticed_after_s']} s | {r['per_s']}"
            f" | {r['drained_99_s']} s"
            f" | {r['drained_all_s']} s | {r['hub_cpu_cores']} | {r['lag_p50_ms']} /"
            f" {r['lag_p99_ms']} / {r['lag_max_ms']} | {r['probes_while_down']}"
            f" | {r['duplicates']} |"
        )
    if args.out is not None:
        path = (
            Path(args.out)
            if args.out
            else REPORTS / f"bench_push_drain-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(results, indent=2))
        print(f"\nwritten: {path}")


if __name__ == "__main__":
    main()
