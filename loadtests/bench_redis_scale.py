"""What each node reads from Redis as the cluster grows: BusManager (a channel per room)
against python-socketio's AsyncRedisManager (one channel for everything).

Usage::

    python loadtests/bench_redis_scale.py [--nodes 2,4,8] [--rooms-per-node 50]
        [--emits-per-room 20] [--shared 0.2] [--redis-url URL] [--seed 1] [--small]

Nodes are simulated in this process (8 hub processes plus Redis do not fit on 2 cores):
each node is its own ``socketio.AsyncServer`` + manager, with its own Redis client and
pub/sub connection, so what a node receives is what its connection reads from Redis. Its
sockets are registered in the manager directly (no Engine.IO session); a packet "sent" to
one is counted instead of written.

Rooms: ``--rooms-per-node`` rooms per node, each with a member on its home node and, with
probability ``--shared``, another on a second node. Every room gets ``--emits-per-room``
emits, each from a random node (the one the request happened to reach). Per node the table
shows the rooms it has members of, the emits to those rooms ("own traffic"), the messages
its Redis connection delivered (its own echoes included) and the packets it wrote to
sockets; then the same count for AsyncRedisManager, which reads the cluster's total.

Without ``--redis-url`` a private redis-server is started on a free port (and killed).
``--small`` (2 nodes, 10 rooms each, 5 emits) runs in a second or two, for CI.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    _ROOT = str(Path(__file__).resolve().parents[1])
    if _ROOT not in sys.path:
        sys.path.insert(0, _ROOT)

import socketio
from redis.asyncio import Redis

from hub.engine.bus_redis import RedisBus
from hub.engine.manager import BusManager
from hub.engine.server import OrjsonModule


@dataclass
class Node:
    sio: socketio.AsyncServer
    manager: Any
    rooms: set[str] = field(default_factory=set)
    delivered: int = 0
    received: int = 0  # AsyncRedisManager: messages its listener handled


@dataclass
class Row:
    nodes: int
    node: int
    rooms: int
    own_traffic: int
    received: int
    echoes: int
    delivered: int
    total: int


def _placement(
    n: int, rooms_per_node: int, shared: float, rng: random.Random
) -> dict[str, set[int]]:
    members: dict[str, set[int]] = {}
    for home in range(n):
        for i in range(rooms_per_node):
            nodes = {home}
            if n > 1 and rng.random() < shared:
                nodes.add(rng.choice([k for k in range(n) if k != home]))
            members[f"room:{home}:{i}"] = nodes
    return members


async def _populate(nodes: list[Node], members: dict[str, set[int]]) -> None:
    for room, where in members.items():
        for k in where:
            node = nodes[k]
            sid = await node.manager.connect(f"eio-{room}-{k}", "/")
            await node.manager.enter_room(sid, "/", room)
            node.rooms.add(room)


def _counting(node: Node) -> Any:
    async def send(eio_sid: str, pkt: Any) -> None:
        node.delivered += 1

    return send


async def _traffic(
    nodes: list[Node], members: dict[str, set[int]], emits: int, rng: random.Random
) -> int:
    expected = 0
    for e in range(emits):
        for room, where in members.items():
            await nodes[rng.randrange(len(nodes))].sio.emit("tick", {"e": e}, room=room)
            expected += len(where)
    return expected


async def _settle(done: Callable[[], bool], seconds: float = 60.0) -> None:
    """Poll until ``done()`` (the nodes count what arrives; there is nothing to await)."""
    async with asyncio.timeout(seconds):
        while not done():  # noqa: ASYNC110 - counters, polled; no event to wait for
            await asyncio.sleep(0.01)


async def _wait(nodes: list[Node], expected: int) -> None:
    await _settle(lambda: sum(n.delivered for n in nodes) >= expected)


async def bench_bus_manager(
    url: str, n: int, members: dict[str, set[int]], emits: int, rng: random.Random
) -> tuple[list[Row], float]:
    prefix = f"bench:{secrets.token_hex(4)}:"
    clients: list[Redis] = []
    buses: list[RedisBus] = []
    nodes: list[Node] = []
    for _ in range(n):
        clients.append(Redis.from_url(url))
        buses.append(RedisBus(clients[-1], prefix=prefix))
        manager = BusManager(buses[-1])
        node = Node(socketio.AsyncServer(client_manager=manager, json=OrjsonModule), manager)
        node.sio._send_eio_packet = _counting(node)
        await buses[-1].start()
        await manager.start()
        nodes.append(node)
    try:
        await _populate(nodes, members)
        started = time.perf_counter()
        expected = await _traffic(nodes, members, emits, rng)
        await _wait(nodes, expected)
        await asyncio.sleep(0.2)  # late echoes
        elapsed = time.perf_counter() - started
        total = len(members) * emits
        rows = [
            Row(
                n,
                k,
                len(node.rooms),
                len(node.rooms) * emits,
                bus.received,
                bus.echoes,
                node.delivered,
                total,
            )
            for k, (node, bus) in enumerate(zip(nodes, buses, strict=True))
        ]
        return rows, elapsed
    finally:
        for node, bus, client in zip(nodes, buses, clients, strict=True):
            await node.manager.close()
            await bus.close()
            await client.aclose()


async def bench_redis_manager(
    url: str, n: int, members: dict[str, set[int]], emits: int, rng: random.Random
) -> list[int]:
    """Messages each AsyncRedisManager node handled (its own emits included)."""
    channel = f"bench-{secrets.token_hex(4)}"
    nodes: list[Node] = []
    for _ in range(n):
        manager = socketio.AsyncRedisManager(url, channel=channel)
        node = Node(socketio.AsyncServer(client_manager=manager, json=OrjsonModule), manager)
        node.sio._send_eio_packet = _counting(node)
        handle = manager._handle_emit

        async def counted(message: Any, node: Node = node, handle: Any = handle) -> None:
            node.received += 1
            await handle(message)

        manager._handle_emit = counted
        manager.initialize()
        nodes.append(node)
    try:
        await asyncio.sleep(0.3)  # listeners subscribe
        await _populate(nodes, members)
        expected = await _traffic(nodes, members, emits, rng)
        await _wait(nodes, expected)
        await _settle(lambda: all(node.received >= len(members) * emits for node in nodes))
        return [node.received for node in nodes]
    finally:
        for node in nodes:
            node.manager.thread.cancel()
            await asyncio.gather(node.manager.thread, return_exceptions=True)
            await node.manager.redis.aclose()


class _PrivateRedis:
    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("redis-server not found: pass --redis-url")
        self.dir = tempfile.mkdtemp(prefix="bench-redis-")
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""],
            cwd=self.dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


async def main_async(args: argparse.Namespace, url: str) -> int:
    print(
        f"{'nodes':>5} {'node':>4} {'rooms':>5} {'own traffic':>11} {'Redis msgs':>10} "
        f"{'echoes':>6} {'delivered':>9} {'cluster total':>13} {'AsyncRedisManager':>17}"
    )
    failures = 0
    for n in args.nodes:
        rng = random.Random(args.seed + n)
        members = _placement(n, args.rooms_per_node, args.shared, rng)
        rows, elapsed = await bench_bus_manager(url, n, members, args.emits_per_room, rng)
        contrast = await bench_redis_manager(url, n, members, args.emits_per_room, rng)
        for row, redis_manager in zip(rows, contrast, strict=True):
            print(
                f"{row.nodes:>5} {row.node:>4} {row.rooms:>5} {row.own_traffic:>11} "
                f"{row.received:>10} {row.echoes:>6} {row.delivered:>9} {row.total:>13} "
                f"{redis_manager:>17}"
            )
            # Each node reads exactly its rooms' traffic (echoes of its own emits included).
            if row.received != row.own_traffic:
                failures += 1
        mean = sum(r.received for r in rows) / n
        print(
            f"{'':>5} per node: BusManager {mean:.0f} msgs = {mean / rows[0].total:.0%} of the "
            f"cluster's {rows[0].total}; AsyncRedisManager {sum(contrast) / n:.0f} "
            f"({elapsed:.2f} s for the BusManager run)"
        )
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", default="2,4,8", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--rooms-per-node", type=int, default=50)
    parser.add_argument("--emits-per-room", type=int, default=20)
    parser.add_argument("--shared", type=float, default=0.2)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args(argv)
    if args.small:
        args.nodes, args.rooms_per_node, args.emits_per_room = [2], 10, 5
    private = None if args.redis_url else _PrivateRedis()
    try:
        url = args.redis_url or (private.url if private else "")
        return asyncio.run(main_async(args, url))
    finally:
        if private is not None:
            private.stop()


if __name__ == "__main__":
    sys.exit(main())
