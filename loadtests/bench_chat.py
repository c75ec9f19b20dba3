"""Chat benchmark: persisted messages per second on one node, and latency at half that rate.

Usage::

    python loadtests/bench_chat.py [--pairs 500] [--seconds 15] [--rate R]
        [--url URL --jwt-secret S] [--database-url DSN]

``--hub-cpus 0 --loadgen-cpus 1`` pins the two processes apart (``taskset``). ``--rate R``
skips the saturation phase and runs one open-loop phase at R msgs/s (for comparing the
hub's CPU per message between two versions).

What it does:

1. Seeds ``2 x pairs`` users in ``pairs`` conversations by SQL (``loadseed.py``: each pair
   is a customer, a contractor, an assigned job and its conversation), into
   ``--database-url`` / ``DATABASE_URL``, or else a fresh database created on the local
   PostgreSQL (``TEST_DATABASE_ADMIN_URL``, dropped at the end).
2. Starts a hub (``python -m api serve``) on that database, unless ``--url`` names one
   (give the same ``--jwt-secret``: access tokens are minted here, not logged in).
3. Runs the load generator in a separate process (this file with ``--loadgen``): a lean
   Engine.IO v4 / Socket.IO v5 client on aiohttp websockets and uvloop, one websocket per
   user, all connected before measuring.
4. Saturation: every socket sends ``chat:send`` in a closed loop (next send after the ack,
   at most 5 a second: the hub's per-socket limit), so the offered load is up to 5 x users
   per second. Persisted msgs/s = ok acks per second (an ack follows the commit); the
   messages stored in the database are counted too.
5. Half rate: the same sockets send open-loop at half the measured rate, each at its own
   random phase. Send-to-ack is measured at the sender, send-to-receive at the other
   participant (one clock: both sockets live in the load generator).

Prints a table with the hub's CPU use per phase (from /proc). Targets: >= 2,000 persisted
msgs/s, p99 send-to-receive <= 50 ms at half rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    _ROOT = str(Path(__file__).resolve().parents[1])
    if _ROOT not in sys.path:
        sys.path.insert(0, _ROOT)

import aiohttp
import orjson

SEND_INTERVAL_S = 0.2  # the hub allows 5 chat:send a second per socket
TAG = "chatbench"


# --------------------------------------------------------------------------- load generator
@dataclass
class Stats:
    ok: int = 0
    acked_total: int = 0  # every ok ack of the run, warm-ups included (never reset)
    limited: int = 0
    errors: int = 0
    ack_ms: list[float] = field(default_factory=list)
    recv_ms: list[float] = field(default_factory=list)
    recording: bool = False


class Conn:
    """One user's websocket: Socket.IO connect, ``chat:send`` with acks, ``chat:message``."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, stats: Stats) -> None:
        self.ws = ws
        self.stats = stats
        self.acks: dict[int, asyncio.Future[Any]] = {}
        self.next_id = 0
        self.reader: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, session: aiohttp.ClientSession, url: str, token: str, stats: Stats) -> Conn:
        ws = await session.ws_connect(url + "/socket.io/?EIO=4&transport=websocket")
        opening = await ws.receive_str()
        assert opening.startswith("0{"), opening
        await ws.send_str("40" + orjson.dumps({"token": token}).decode())
        while True:
            reply = await ws.receive_str()
            if reply.startswith("40"):
                break
            if reply.startswith("44"):
                raise RuntimeError(f"connect refused: {reply}")
        conn = cls(ws, stats)
        conn.reader = asyncio.create_task(conn.read())
        return conn

    async def read(self) -> None:
        stats = self.stats
        async for msg in self.ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            data: str = msg.data
            if data == "2":
                await self.ws.send_str("3")
            elif data.startswith("43"):
                bracket = data.index("[")
                fut = self.acks.pop(int(data[2:bracket]), None)
                if fut is not None and not fut.done():
                    fut.set_result(orjson.loads(data[bracket:])[0])
            elif stats.recording and data.startswith('42["chat:message"'):
                body = orjson.loads(data[2:])[1]["body"]
                sent_at = float(body.split(" ", 1)[0])
                stats.recv_ms.append((time.perf_counter() - sent_at) * 1e3)
        for fut in self.acks.values():
            if not fut.done():
                fut.set_exception(ConnectionError("socket closed"))

    async def send(self, conversation_id: str, body: str) -> dict[str, Any]:
        self.next_id += 1
        ack_id = self.next_id
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.acks[ack_id] = fut
        payload = {"conversation_id": conversation_id, "body": body, "client_msg_id": f"b{ack_id}"}
        await self.ws.send_str(f"42{ack_id}" + orjson.dumps(["chat:send", payload]).decode())
        result: dict[str, Any] = await fut
        return result

    async def close(self) -> None:
        await self.ws.close()
        if self.reader is not None:
            await self.reader


async def one_send(conn: Conn, conversation_id: str, stats: Stats, pad: str) -> None:
    started = time.perf_counter()
    try:
        ack = await conn.send(conversation_id, f"{started:.6f} {pad}")
    except ConnectionError:
        stats.errors += 1
        return
    if ack.get("ok"):
        stats.ok += 1
        stats.acked_total += 1
        if stats.recording:
            stats.ack_ms.append((time.perf_counter() - started) * 1e3)
    elif ack.get("error", {}).get("code") == "rate_limited":
        stats.limited += 1
    else:
        stats.errors += 1


async def saturate(senders: list[tuple[Conn, str]], stats: Stats, seconds: float) -> float:
    """Closed loop, one message in flight per socket, paced to the per-socket limit."""
    pad = "x" * 40
    stop = time.perf_counter() + seconds

    async def loop(conn: Conn, conversation_id: str) -> None:
        await asyncio.sleep(random.random() * SEND_INTERVAL_S)
        while time.perf_counter() < stop:
            started = time.perf_counter()
            await one_send(conn, conversation_id, stats, pad)
            rest = SEND_INTERVAL_S - (time.perf_counter() - started)
            if rest > 0:
                await asyncio.sleep(rest)

    started = time.perf_counter()
    await asyncio.gather(*(loop(c, cid) for c, cid in senders))
    return time.perf_counter() - started


async def paced(
    senders: list[tuple[Conn, str]], stats: Stats, rate: float, seconds: float
) -> float:
    """Open loop at ``rate`` msgs/s in total, spread evenly over the sockets."""
    pad = "y" * 40
    interval = len(senders) / rate
    stop = time.perf_counter() + seconds
    inflight: set[asyncio.Task[None]] = set()

    async def loop(conn: Conn, conversation_id: str) -> None:
        next_at = time.perf_counter() + random.random() * interval
        while next_at < stop:
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
            task = asyncio.create_task(one_send(conn, conversation_id, stats, pad))
            inflight.add(task)
            task.add_done_callback(inflight.discard)
            next_at += interval

    started = time.perf_counter()
    await asyncio.gather(*(loop(c, cid) for c, cid in senders))
    if inflight:
        await asyncio.gather(*inflight)
    return time.perf_counter() - started


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def loadgen(spec: dict[str, Any]) -> dict[str, Any]:
    url = spec["url"].rstrip("/")
    stats = Stats()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        conns: list[tuple[Conn, str]] = []
        sem = asyncio.Semaphore(50)

        async def connect(token: str, conversation_id: str) -> tuple[Conn, str]:
            async with sem:
                return await Conn.open(session, url, token, stats), conversation_id

        users = [(u["token"], u["conversation_id"]) for u in spec["users"]]
        t0 = time.perf_counter()
        conns = list(await asyncio.gather(*(connect(t, c) for t, c in users)))
        connect_s = time.perf_counter() - t0
        out: dict[str, Any] = {"sockets": len(conns), "connect_s": connect_s, "phases": []}

        async def phase(name: str, run: Any, warmup: float, seconds: float) -> dict[str, Any]:
            await run(warmup)  # not recorded
            stats.ok = stats.limited = stats.errors = 0
            stats.ack_ms, stats.recv_ms = [], []
            stats.recording = True
            cpu0 = _hub_cpu(spec.get("hub_pid"))
            own0 = time.process_time()
            elapsed = await run(seconds)
            cpu1 = _hub_cpu(spec.get("hub_pid"))
            cpu = (cpu1 - cpu0) / elapsed if cpu0 is not None and cpu1 is not None else None
            own = (time.process_time() - own0) / elapsed
            await asyncio.sleep(0.5)  # the last deliveries
            stats.recording = False
            result = {
                "phase": name,
                "seconds": elapsed,
                "ok": stats.ok,
                "rate": stats.ok / elapsed,
                "limited": stats.limited,
                "errors": stats.errors,
                "ack_p50": pct(stats.ack_ms, 50),
                "ack_p99": pct(stats.ack_ms, 99),
                "recv_p50": pct(stats.recv_ms, 50),
                "recv_p99": pct(stats.recv_ms, 99),
                "received": len(stats.recv_ms),
                "hub_cpu": cpu,
                "loadgen_cpu": own,
            }
            out["phases"].append(result)
            return result

        seconds = spec["seconds"]
        rate = spec.get("rate")
        if rate is None:  # saturation first, then half of what it reached
            sat = await phase(
                "saturation",
                lambda s: saturate(conns, stats, s),
                spec["warmup"],
                seconds,
            )
            rate = sat["rate"] / 2
        name = "half rate" if spec.get("rate") is None else "fixed rate"
        await phase(name, lambda s: paced(conns, stats, rate, s), spec["warmup"], seconds)
        out["phases"][-1]["offered"] = rate
        await asyncio.gather(*(c.close() for c, _ in conns))
    out["acked_total"] = stats.acked_total
    return out


def _hub_cpu(pid: int | None) -> float | None:
    """CPU seconds (user + system) the hub process used so far."""
    if not pid:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- orchestration
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def prepare_database(
    dsn: str | None, pairs: int
) -> tuple[str, str | None, list[dict[str, Any]]]:
    """Seed the pairs; returns (dsn, database created here or None, pairs)."""
    import asyncpg
    from loadseed import layout, seed_sql

    from api.config import Settings
    from api.db import prepared_database

    created = None
    if dsn is None:
        admin = os.environ.get(
            "TEST_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        )
        created = f"th_bench_chat_{secrets.token_hex(4)}"
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'CREATE DATABASE "{created}"')
        finally:
            await conn.close()
        dsn = admin.rsplit("/", 1)[0] + "/" + created
    database = prepared_database(Settings(database_url=dsn), load_trades=True)
    async with database as db, db.pool.acquire() as conn:
        seeded = await seed_sql(conn, layout(TAG, pairs, pairs), "not-a-login", "-")
    return dsn, created, seeded.data["pairs"]


async def stored_messages(dsn: str, conversation_ids: list[str]) -> int:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        return int(
            await conn.fetchval(
                "SELECT coalesce(sum(last_seq), 0) FROM conversations WHERE id = any($1::text[])",
                conversation_ids,
            )
        )
    finally:
        await conn.close()


async def drop_database(name: str) -> None:
    import asyncpg

    admin = os.environ.get(
        "TEST_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def pinned(cpus: str | None) -> list[str]:
    """A ``taskset`` prefix pinning a process to ``cpus`` (e.g. "0" or "0,1")."""
    return ["taskset", "-c", cpus] if cpus else []


def start_hub(dsn: str, secret: str, port: int, cpus: str | None) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "JWT_SECRET": secret,
        "JWT_ACCESS_EXPIRY": "1h",
        "MIGRATE_ON_START": "false",
        "LOG_LEVEL": "WARNING",
        "HOST": "127.0.0.1",
    }
    root = Path(__file__).resolve().parents[1]
    hub = subprocess.Popen(
        [*pinned(cpus), sys.executable, "-m", "api", "serve", "--port", str(port)],
        env=env,
        cwd=root,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return hub
        except OSError:
            if hub.poll() is not None:
                raise RuntimeError("the hub exited at start") from None
            time.sleep(0.1)
    raise RuntimeError("the hub did not start listening")


def stop_hub(hub: subprocess.Popen[bytes]) -> None:
    if hub.poll() is None:
        os.kill(hub.pid, signal.SIGINT)
        try:
            hub.wait(20)
        except subprocess.TimeoutExpired:
            os.kill(hub.pid, signal.SIGKILL)
            hub.wait(5)


def print_table(result: dict[str, Any], stored: int, args: argparse.Namespace) -> bool:
    def ms(v: float) -> str:
        return f"{v:7.1f}"

    print()
    print(
        f"chat benchmark: {result['sockets']} users in {result['sockets'] // 2} conversations, "
        f"one hub node, load generator in its own process "
        f"(connected in {result['connect_s']:.1f}s)"
    )
    head = (
        f"{'phase':<11} {'offered/s':>10} {'persisted/s':>11} {'ok':>7} {'limited':>7} "
        f"{'errors':>6} {'ack p50':>7} {'ack p99':>7} {'recv p50':>8} {'recv p99':>8} "
        f"{'hub cpu':>7} {'gen cpu':>7}"
    )
    print(head)
    print("-" * len(head))
    for p in result["phases"]:
        offered = f"{p['offered']:.0f}" if "offered" in p else "closed"
        cpu = f"{p['hub_cpu'] * 100:.0f}%" if p["hub_cpu"] is not None else "-"
        print(
            f"{p['phase']:<11} {offered:>10} {p['rate']:>11.0f} {p['ok']:>7} {p['limited']:>7} "
            f"{p['errors']:>6} {ms(p['ack_p50'])} {ms(p['ack_p99'])} {ms(p['recv_p50']):>8} "
            f"{ms(p['recv_p99']):>8} {cpu:>7} {p['loadgen_cpu'] * 100:>6.0f}%"
        )
    print(
        "(latencies in ms; persisted/s counts ok acks, each sent after its commit; cpu: share"
        " of one core used by the hub and by the load generator)"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    acked = result["acked_total"]
    verdict = "equal" if acked == stored else "DIFFERENT"
    print(f"ok acks in the whole run (warm-ups included): {acked}; messages stored: {stored}")
    print(f"acknowledged and stored are {verdict}")
    for p in result["phases"]:
        if p["ok"]:
            cpu_ms = p["hub_cpu"] * 1e3 / p["rate"] if p["hub_cpu"] is not None else None
            if cpu_ms is not None:
                print(f"hub CPU per persisted message ({p['phase']}): {cpu_ms:.3f} ms")
    if len(result["phases"]) == 1:  # --rate: no targets to judge
        return True
    sat, half = result["phases"]
    ok_rate = bool(sat["rate"] >= 2000)
    ok_p99 = bool(half["recv_p99"] <= 50)
    print(f"target >= 2,000 persisted msgs/s: {'met' if ok_rate else 'NOT met'}")
    print(f"target p99 send-to-receive <= 50 ms at half rate: {'met' if ok_p99 else 'NOT met'}")
    return ok_rate and ok_p99


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=500, help="conversations (2 users each)")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured time per phase")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured time per phase")
    parser.add_argument(
        "--rate", type=float, help="skip saturation: one open-loop phase at this many msgs/s"
    )
    parser.add_argument("--hub-cpus", help="pin the started hub to these CPUs (taskset -c)")
    parser.add_argument("--loadgen-cpus", help="pin the load generator to these CPUs")
    parser.add_argument("--url", help="a running hub (else one is started)")
    parser.add_argument("--jwt-secret", help="the running hub's JWT_SECRET (with --url)")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    parser.add_argument("--loadgen", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.loadgen is not None:  # the load generator process
        import uvloop

        spec = json.loads(args.loadgen.read_text())
        result = uvloop.run(loadgen(spec))
        print(json.dumps(result))
        return 0

    if args.url and not args.jwt_secret:
        parser.error("--url needs --jwt-secret (tokens are minted here)")
    from hub.accounts.tokens import TokenCodec

    dsn, created, pairs = asyncio.run(prepare_database(args.database_url, args.pairs))
    hub = None
    try:
        secret = args.jwt_secret or secrets.token_urlsafe(32)
        url = args.url
        if url is None:
            port = free_port()
            hub = start_hub(dsn, secret, port, args.hub_cpus)
            url = f"http://127.0.0.1:{port}"
        tokens = TokenCodec(secret, 3600, 3600)
        users = []
        for p in pairs:
            for who, role in ((p["customer"], "customer"), (p["contractor"], "contractor")):
                token = tokens.issue_access(who["id"], role).token
                users.append({"token": token, "conversation_id": p["conversation_id"]})
        conversation_ids = [p["conversation_id"] for p in pairs]
        before = asyncio.run(stored_messages(dsn, conversation_ids))
        spec = {
            "url": url,
            "users": users,
            "seconds": args.seconds,
            "warmup": args.warmup,
            "rate": args.rate,
            "hub_pid": hub.pid if hub is not None else None,
        }
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(spec, f)
        try:
            out = subprocess.run(
                [*pinned(args.loadgen_cpus), sys.executable, __file__, "--loadgen", f.name],
                check=True,
                stdout=subprocess.PIPE,
            )
        finally:
            os.unlink(f.name)
        result = json.loads(out.stdout.decode().strip().splitlines()[-1])
        stored = asyncio.run(stored_messages(dsn, conversation_ids)) - before
        met = print_table(result, stored, args)
    finally:
        if hub is not None:
            stop_hub(hub)
        if created is not None:
            asyncio.run(drop_database(created))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
