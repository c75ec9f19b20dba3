"""Many nodes as one: hub processes (``python -m api serve``) on a private Redis, real
python-socketio clients on different nodes, and the failures a cluster meets: a node killed
with SIGKILL, Redis restarted, PostgreSQL restarted.

Every process here is the test's own and is stopped by PID; the shared Redis and PostgreSQL
are only used for the session's test database.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import socketio
from redis.asyncio import Redis

from hub.contractors.trades import TRADES
from hub.contractors.trades_store import upsert_trades
from tests.hub.realtime_support import Pair, Sock, conversation, token_of
from tests.support.processes import HubProcess, PostgresProcess, RedisProcess, free_port
from tests.support.waiting import eventually

pytestmark = [pytest.mark.slow, pytest.mark.redis]

WAIT = 10.0
CHANNELS = "th:bus:sio:r:/:"  # the bus prefix, then BusManager's room channels


def _env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REDIS_CLUSTER": "false",
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "1024",
        "JWT_SECRET": "multinode-test-secret-0123456789abcdef",
        "MIGRATE_ON_START": "false",
        "DB_POOL_MIN": "1",
        "DB_POOL_MAX": "4",
        "AUTH_RATE_LIMIT": "100000",
        "LOG_LEVEL": "INFO",
        **extra,
    }


class Cluster:
    def __init__(self, redis: RedisProcess, nodes: list[HubProcess], env: dict[str, str]):
        self.redis = redis
        self.nodes = nodes
        self.env = env


@pytest.fixture(scope="module")
def cluster(pg_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A private redis-server and three hub nodes on it, for the whole module."""
    workdir = tmp_path_factory.mktemp("multinode")
    redis = RedisProcess(free_port(), workdir)
    redis.start()
    env = _env(pg_dsn, redis.url)
    nodes = [HubProcess(env, workdir) for _ in range(3)]
    try:
        for node in nodes:
            node.start()
        for node in nodes:
            node.wait()
        yield Cluster(redis, nodes, env)
    finally:
        for node in nodes:
            node.kill(signal.SIGTERM)
        redis.stop()


@asynccontextmanager
async def rest(node: HubProcess) -> AsyncIterator[Any]:
    async with aiohttp.ClientSession(base_url=node.url) as session:
        yield session


@asynccontextmanager
async def sockets() -> AsyncIterator[list[Sock]]:
    """Collects the sockets a test opens and disconnects them at the end."""
    opened: list[Sock] = []
    try:
        yield opened
    finally:
        for sock in opened:
            await sock.sio.disconnect()


async def connect(opened: list[Sock], node: HubProcess, token: str) -> Sock:
    sock = Sock(socketio.AsyncClient(reconnection=False))
    await sock.sio.connect(
        node.url, auth={"token": token}, transports=["websocket"], wait_timeout=WAIT
    )
    opened.append(sock)
    return sock


def node_of(sock: Sock) -> str:
    return sock.sid.split("~")[1]  # BusManager sids are ~<node>~<engine id>


async def send(sock: Sock, pair: Pair, body: str) -> dict[str, Any]:
    ack: dict[str, Any] = await sock.call(
        "chat:send",
        {"conversation_id": pair.conversation_id, "body": body, "client_msg_id": str(uuid.uuid4())},
    )
    return ack


async def shard_subscriptions(redis_url: str) -> dict[str, int]:
    """``ssub`` of every hub pub/sub connection, by node id (from CLIENT LIST)."""
    redis = Redis.from_url(redis_url)
    try:
        clients = await redis.client_list()
    finally:
        await redis.aclose()
    out = {}
    for client in clients:
        name = client.get("name", "")
        if name.startswith("tradeshub-") and name.endswith(":main"):
            out[name[len("tradeshub-") : -len(":main")]] = int(client["ssub"])
    return out


async def numsub(redis_url: str, room: str) -> int:
    redis = Redis.from_url(redis_url)
    try:
        counts = dict(await redis.pubsub_shardnumsub(CHANNELS + room))
    finally:
        await redis.aclose()
    return int(counts[(CHANNELS + room).encode()])


async def metric(node: HubProcess, name: str) -> float:
    async with rest(node) as http, http.get("/metrics") as resp:
        text = await resp.text()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exported")


async def ready(node: HubProcess) -> int:
    async with rest(node) as http, http.get("/ready") as resp:
        return int(resp.status)


def seqs(sock: Sock) -> list[int]:
    return [m["seq"] for m in sock.got("chat:message")]


async def test_chat_across_nodes_in_order_and_rooms_only_where_members_are(
    cluster: Cluster,
) -> None:
    a, b, c = cluster.nodes
    async with rest(a) as http:
        pair = await conversation(http)
    base = await shard_subscriptions(cluster.redis.url)
    async with sockets() as opened:
        x_on_a = await connect(opened, a, token_of(pair.customer))
        y_on_b = await connect(opened, b, token_of(pair.contractor))
        y_on_c = await connect(opened, c, token_of(pair.contractor))
        node_a, node_c = node_of(x_on_a), node_of(y_on_c)

        async with rest(a) as http:  # the REST twin of chat:send (no per-socket limit)
            for i in range(20):
                resp = await http.post(
                    f"/api/v1/conversations/{pair.conversation_id}/messages",
                    json={"body": f"m{i}", "client_msg_id": str(uuid.uuid4())},
                    headers=pair.customer["auth"],
                )
                assert resp.status == 201, await resp.text()
        await eventually(lambda: len(seqs(y_on_b)) == 20 and len(seqs(y_on_c)) == 20)
        assert seqs(y_on_b) == seqs(y_on_c) == list(range(1, 21))  # every node, in order
        assert [m["body"] for m in y_on_c.got("chat:message")] == [f"m{i}" for i in range(20)]

        reply = await send(y_on_b, pair, "from b")
        assert reply["ok"]
        await eventually(lambda: seqs(x_on_a)[-1:] == [21] and seqs(y_on_c)[-1:] == [21])
        assert seqs(x_on_a) == list(range(1, 22))  # X's socket too: the REST post skips none

        # Each node holds the channels of its members' rooms only: user:X on A alone,
        # user:Y on B and C; C never subscribed to user:X.
        assert await numsub(cluster.redis.url, f"user:{pair.customer_id}") == 1
        assert await numsub(cluster.redis.url, f"user:{pair.contractor_id}") == 2
        now = await shard_subscriptions(cluster.redis.url)
        assert now[node_a] == base[node_a] + 2  # all:/ and user:X
        assert now[node_c] == base[node_c] + 2  # all:/ and user:Y

        await y_on_c.sio.disconnect()  # C's last member of user:Y leaves: C lets it go
        await eventually(_is(lambda: numsub(cluster.redis.url, f"user:{pair.contractor_id}"), 1))


async def test_a_killed_nodes_clients_resume_on_another_node(cluster: Cluster) -> None:
    a, b, _ = cluster.nodes
    doomed = HubProcess(cluster.env, cluster.redis.workdir)
    doomed.start()
    await asyncio.to_thread(doomed.wait)
    try:
        async with rest(a) as http:
            pair = await conversation(http)
        async with sockets() as opened:
            x_on_a = await connect(opened, a, token_of(pair.customer))
            y_on_doomed = await connect(opened, doomed, token_of(pair.contractor))
            assert (await send(x_on_a, pair, "before"))["ok"]
            await eventually(lambda: seqs(y_on_doomed) == [1])
            last_seen = seqs(y_on_doomed)[-1]

            doomed.kill(signal.SIGKILL)
            await eventually(lambda: not y_on_doomed.sio.connected, within=WAIT)
            acked = [await send(x_on_a, pair, f"while away {i}") for i in range(3)]
            assert all(ack["ok"] for ack in acked)

            y_on_b = await connect(opened, b, token_of(pair.contractor))  # the app reconnects
            joined = await y_on_b.call(
                "chat:join", {"conversation_id": pair.conversation_id, "after_seq": last_seen}
            )
            assert joined["ok"], joined
            assert [m["seq"] for m in joined["messages"]] == [
                ack["message"]["seq"] for ack in acked
            ]  # nothing acknowledged is missing
            assert (await send(x_on_a, pair, "live again"))["ok"]
            await eventually(lambda: seqs(y_on_b) == [5])
        assert a.alive() and b.alive()
    finally:
        doomed.kill()


async def test_redis_restart_degrades_then_recovers(cluster: Cluster) -> None:
    a, b, c = cluster.nodes
    async with rest(a) as http:
        pair = await conversation(http)
    async with sockets() as opened:
        x_on_a = await connect(opened, a, token_of(pair.customer))
        y_on_a = await connect(opened, a, token_of(pair.contractor))
        y_on_b = await connect(opened, b, token_of(pair.contractor))
        assert (await send(x_on_a, pair, "before"))["ok"]
        await eventually(lambda: seqs(y_on_b) == [1] and seqs(y_on_a) == [1])
        before = await shard_subscriptions(cluster.redis.url)
        for node in (a, b, c):
            assert await ready(node) == 200
            assert await metric(node, "tradeshub_fanout_degraded") == 0

        cluster.redis.stop()  # SIGKILL, by PID
        for node in (a, b):
            await eventually(_is(lambda node=node: ready(node), 503), within=WAIT)
            await eventually(
                _is(lambda node=node: metric(node, "tradeshub_fanout_degraded"), 1), within=WAIT
            )
        # Local delivery goes on: Y's socket on A gets X's message; B cannot, and is not
        # blocked either (at-most-once, recovered from chat:join after_seq).
        ack = await send(x_on_a, pair, "during")
        assert ack["ok"], ack
        await eventually(lambda: seqs(y_on_a) == [1, 2])

        cluster.redis.start()  # same port
        for node in (a, b, c):
            await eventually(_is(lambda node=node: ready(node), 200), within=WAIT)
            await eventually(
                _is(lambda node=node: metric(node, "tradeshub_fanout_degraded"), 0), within=WAIT
            )
        # Each node resubscribed exactly what it held before.
        await eventually(_is(lambda: shard_subscriptions(cluster.redis.url), before), within=WAIT)
        assert (await send(x_on_a, pair, "after"))["ok"]
        await eventually(lambda: seqs(y_on_b) == [1, 3])
        missed = await y_on_b.call(
            "chat:join", {"conversation_id": pair.conversation_id, "after_seq": 1}
        )
        assert [m["seq"] for m in missed["messages"]] == [2, 3]
    for node in (a, b, c):
        assert node.alive()
        log = node.log()
        assert "Task exception was never retrieved" not in log
    assert "fan-out degraded" in a.log() and "fan-out recovered" in a.log()


async def test_postgres_restart_answers_unavailable_then_recovers(
    cluster: Cluster, tmp_path: Path
) -> None:
    pg = PostgresProcess(tmp_path)
    await asyncio.to_thread(pg.init)
    await asyncio.to_thread(pg.start)
    node = HubProcess({**cluster.env, "DATABASE_URL": pg.url, "MIGRATE_ON_START": "true"}, tmp_path)
    try:
        node.start()
        await asyncio.to_thread(node.wait)
        conn = await asyncpg.connect(pg.url)
        try:
            await upsert_trades(conn, TRADES)
        finally:
            await conn.close()
        async with rest(node) as http:
            pair = await conversation(http)
        async with sockets() as opened:
            x = await connect(opened, node, token_of(pair.customer))
            y = await connect(opened, node, token_of(pair.contractor))
            assert (await send(x, pair, "before"))["ok"]
            pid = node.proc.pid if node.proc else None

            await asyncio.to_thread(pg.crash)
            during = [await send(x, pair, f"down {i}") for i in range(2)]
            assert not any(ack["ok"] for ack in during)  # answered, not hung, not crashed
            assert await ready(node) == 503
            async with rest(node) as http:  # the REST twin says the same, as a 503
                resp = await http.post(
                    f"/api/v1/conversations/{pair.conversation_id}/messages",
                    json={"body": "down rest", "client_msg_id": str(uuid.uuid4())},
                    headers=pair.customer["auth"],
                )
                assert resp.status == 503
                assert (await resp.json())["error"]["code"] == "unavailable"

            await asyncio.to_thread(pg.start)

            async def sent_again() -> bool:
                return bool((await send(x, pair, "after"))["ok"])

            await eventually(sent_again, within=WAIT, every=0.2)
            await eventually(lambda: seqs(y)[-1:] == [2])  # stored and delivered
            assert node.alive() and node.proc is not None and node.proc.pid == pid
        assert {ack["error"]["code"] for ack in during} == {"unavailable"}
    finally:
        node.kill(signal.SIGTERM)
        await asyncio.to_thread(pg.stop)


def _is(get: Any, expected: Any) -> Any:
    """A check for ``eventually``: the awaited value of ``get()`` equals ``expected``."""

    async def check() -> bool:
        try:
            return bool(await get() == expected)
        except Exception:
            return False

    return check
