"""Generator CPU per Socket.IO message: the lean client vs locust.contrib's SocketIOClient.

Two halves, two environments:

  # a plain python-socketio server (hub's .venv: aiohttp), on core 0
  taskset -c 0 .venv/bin/python loadtests/client_cpu.py serve --port 18099 &
  # the clients, in locust's gevent world (loadtests/.venv), on core 1
  taskset -c 1 loadtests/.venv/bin/python loadtests/client_cpu.py measure \
      --url http://127.0.0.1:18099 --client lean
  taskset -c 1 loadtests/.venv/bin/python loadtests/client_cpu.py measure \
      --url http://127.0.0.1:18099 --client contrib

``measure`` connects ``--sockets`` clients, has the server broadcast ``--messages``
``job:location``-sized events to all of them, then has each client make ``--calls``
acknowledged emits one after the other; it prints the client process's CPU time (user +
system) per delivered message and per acknowledged call.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from typing import Any

POINT = {
    "job_id": "j_01jexample0000000000000000",
    "contractor_id": "u_01jexample0000000000000000",
    "lat": 41.8781234,
    "lng": -87.6298765,
    "ts": 1764284400000.0,
    "heading": 91.5,
    "speed_mps": 11.8,
    "accuracy_m": 6.2,
    "eta_s": 412,
    "distance_m": 3420.5,
}


def serve(port: int) -> int:
    import socketio
    from aiohttp import web

    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins=[])
    app = web.Application()
    sio.attach(app)

    @sio.event  # type: ignore[misc]
    async def connect(sid: str, environ: Any, auth: Any = None) -> None:
        await sio.enter_room(sid, "all")

    @sio.on("echo")  # type: ignore[misc]
    async def echo(sid: str, data: Any) -> dict[str, Any]:
        return {"ok": True, "accepted": True}

    @sio.on("go")  # type: ignore[misc]
    async def go(sid: str, data: Any) -> dict[str, Any]:
        import asyncio

        for i in range(int(data["messages"])):
            await sio.emit("job:location", {**POINT, "seq": i}, room="all")
            if i % 50 == 49:
                await asyncio.sleep(0.01)  # a steady stream, not one burst
        return {"ok": True}

    web.run_app(app, host="127.0.0.1", port=port, print=None)
    return 0


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(url: str, kind: str, sockets: int, messages: int, calls: int) -> int:
    import gevent
    import locust  # noqa: F401  (monkey-patches, as in a real run)
    from gevent.event import Event

    received = [0]
    done = Event()
    total = sockets * messages

    def on_point(*_: Any) -> None:
        received[0] += 1
        if received[0] >= total:
            done.set()

    clients: list[Any] = []
    if kind == "lean":
        sys.path.insert(0, __file__.rsplit("/", 1)[0])
        from sio_client import SioClient, socket_url

        for _ in range(sockets):
            c = SioClient(socket_url(url), {}, on_point, lambda *_: None)
            c.connect()
            clients.append(c)

        def call(c: Any) -> None:
            c.call("echo", POINT, 5.0)

    else:
        from locust.contrib.socketio import SocketIOClient
        from locust.event import EventHook

        hook = EventHook()
        hook.add_listener(lambda **_: None)
        for _ in range(sockets):
            c = SocketIOClient(hook)
            c.on("job:location", on_point)
            c.connect(url, transports=["websocket"], wait_timeout=10)
            clients.append(c)

        def call(c: Any) -> None:
            c.call("echo", POINT, timeout=5)

    gevent.sleep(0.5)
    cpu0, wall0 = _cpu(), time.perf_counter()
    clients[0].call("go", {"messages": messages}, **({"timeout": 60} if kind != "lean" else {}))
    done.wait(timeout=120)
    cpu1, wall1 = _cpu(), time.perf_counter()
    got = received[0]

    def caller(c: Any) -> None:
        for _ in range(calls):
            call(c)

    gevent.joinall([gevent.spawn(caller, c) for c in clients])
    cpu2, wall2 = _cpu(), time.perf_counter()
    n_calls = sockets * calls
    print(
        f"{kind:8s} sockets={sockets} deliveries={got}/{total} "
        f"cpu/delivery={(cpu1 - cpu0) / max(got, 1) * 1e6:.1f}us "
        f"({got / (wall1 - wall0):.0f}/s)  calls={n_calls} "
        f"cpu/call={(cpu2 - cpu1) / n_calls * 1e6:.1f}us ({n_calls / (wall2 - wall1):.0f}/s)"
    )
    for c in clients:
        c.disconnect() if kind != "lean" else c.close()
    return 0 if got == total else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("serve")
    p.add_argument("--port", type=int, default=18099)
    m = sub.add_parser("measure")
    m.add_argument("--url", required=True)
    m.add_argument("--client", choices=("lean", "contrib"), required=True)
    m.add_argument("--sockets", type=int, default=100)
    m.add_argument("--messages", type=int, default=300)
    m.add_argument("--calls", type=int, default=50)
    args = parser.parse_args(argv)
    if args.cmd == "serve":
        return serve(args.port)
    return measure(args.url, args.client, args.sockets, args.messages, args.calls)


if __name__ == "__main__":
    sys.exit(main())
