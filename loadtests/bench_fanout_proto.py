"""Prototype fan-out server for the 'tracking' benchmark (shared/bench), on hub.engine.eio and
hub.engine.broadcast.

Speaks the bench's default protocol, like shared/bench/servers/py_sio.py: ``join`` {room}
(acked) puts the socket in the room; ``location`` {...} is broadcast as ``location`` to the
rest of the room. Built on :class:`hub.engine.eio.HubServer` with :class:`hub.engine.broadcast.
RoomBroadcaster`, uvloop and orjson.

usage: python loadtests/bench_fanout_proto.py [--port 3000] [--no-uvloop] [--plain-emit] [--stats]
  --plain-emit   broadcast with sio.emit instead of RoomBroadcaster (engine-only ablation)
  --stats        print socket / congested-wire counts to stderr every second

Harness (from a copy of shared/bench):
  taskset -c 0 .venv/bin/python loadtests/bench_fanout_proto.py --port 3300 &
  python3 run.py --external http://127.0.0.1:3300 --server-pids $!
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web

from hub.engine.broadcast import RoomBroadcaster
from hub.engine.eio import HubServer
from hub.engine.server import OrjsonModule


def build(plain_emit: bool = False) -> tuple[web.Application, Any]:
    sio = HubServer(
        cors_allowed_origins="*",
        json=OrjsonModule,
        async_handlers=False,  # like hub/engine/server.py: events of one socket run in order
    )
    fanout = RoomBroadcaster(sio)
    rooms: dict[str, str] = {}  # sid -> room

    @sio.on("join")  # type: ignore[untyped-decorator]
    async def join(sid: str, data: Any) -> dict[str, bool]:
        room = data.get("room") if isinstance(data, dict) else None
        if isinstance(room, str):
            await sio.enter_room(sid, room)
            rooms[sid] = room
        return {"ok": True}

    @sio.on("location")  # type: ignore[untyped-decorator]
    async def location(sid: str, data: Any) -> None:
        room = rooms.get(sid)
        if room is None:
            return
        if plain_emit:
            await sio.emit("location", data, room=room, skip_sid=sid)
        else:
            fanout.broadcast(room, "location", data, key=room, skip_sid=sid)

    @sio.on("disconnect")  # type: ignore[untyped-decorator]
    async def disconnect(sid: str, *args: Any) -> None:
        rooms.pop(sid, None)

    app = web.Application()
    sio.attach(app)
    return app, sio


async def report(sio: Any) -> None:
    """--stats: once a second, how many websockets are congested (held latest-wins frames)."""
    monitor = sio.eio.wire_monitor
    while True:
        await asyncio.sleep(1)
        print(
            f"stats sockets={len(sio.eio.sockets)} congested={monitor.congested}",
            file=sys.stderr,
            flush=True,
        )


async def main(port: int, plain_emit: bool, stats: bool) -> None:
    app, sio = build(plain_emit)
    background = {asyncio.create_task(report(sio))} if stats else set()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, backlog=4096).start()
    print(
        f"bench_fanout_proto listening on {port} plain_emit={plain_emit}",
        file=sys.stderr,
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    await stop.wait()
    for task in background:
        task.cancel()
    await runner.cleanup()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=3000)
    ap.add_argument("--no-uvloop", action="store_true")
    ap.add_argument("--plain-emit", action="store_true")
    ap.add_argument("--stats", action="store_true", help="print congestion counters every 1 s")
    args = ap.parse_args()
    if args.no_uvloop:
        asyncio.run(main(args.port, args.plain_emit, args.stats))
    else:
        import uvloop

        uvloop.run(main(args.port, args.plain_emit, args.stats))
