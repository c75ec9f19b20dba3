"""Helpers of the socket tests: real python-socketio clients on the test server's port, a raw
Engine.IO client for what a well-behaved client never does, and chat conversations made
through REST (a customer's job, a contractor's application).

No assertion depends on timing: waits are bounded polls of a condition or of a queue.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Self

import socketio
from aiohttp.test_utils import TestClient

from api import keys
from tests.api.jobs_support import apply, contractor_at, post_job, spot
from tests.conftest import register

Client = TestClient[Any, Any]
WAIT = 10.0


async def until(cond: Callable[[], bool], what: str, limit: float = WAIT) -> None:
    """Wait until ``cond()`` holds (bounded, so a bug fails the test instead of hanging)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not cond():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def url_of(client: Client) -> str:
    return str(client.make_url("/"))


def port_of(client: Client) -> int:
    port = client.server.port
    assert port is not None
    return port


class Sock:
    """A connected python-socketio AsyncClient that records every event it receives."""

    def __init__(self, sio: socketio.AsyncClient) -> None:
        self.sio = sio
        self.events: list[tuple[str, Any]] = []  # in arrival order
        self.disconnect_reasons: list[Any] = []

        @sio.on("*")  # type: ignore[untyped-decorator]
        async def record(event: str, data: Any = None) -> None:
            self.events.append((event, data))

        @sio.on("disconnect")  # type: ignore[untyped-decorator]
        async def gone(reason: Any = None) -> None:
            self.disconnect_reasons.append(reason)

    @property
    def sid(self) -> str:
        sid = self.sio.get_sid("/")
        assert sid is not None
        return str(sid)

    async def call(self, event: str, data: Any = None) -> Any:
        return await self.sio.call(event, data, timeout=WAIT)

    def got(self, event: str) -> list[Any]:
        return [data for name, data in self.events if name == event]

    async def next(self, event: str, count: int = 1) -> list[Any]:
        """Wait until ``count`` events named ``event`` arrived; return them all."""
        await until(lambda: len(self.got(event)) >= count, f"{count} x {event}")
        return self.got(event)

    async def events_until(self, event: str, match: Callable[[Any], bool]) -> list[str]:
        """Names of the events received before the first ``event`` whose data matches
        (a marker: everything the server sent before it has arrived)."""
        await until(lambda: any(n == event and match(d) for n, d in self.events), f"{event} marker")
        names: list[str] = []
        for name, data in self.events:
            if name == event and match(data):
                return names
            names.append(name)
        raise AssertionError("unreachable")


@contextlib.asynccontextmanager
async def connected(
    client: Client,
    token: str | None,
    *,
    transports: tuple[str, ...] = ("websocket",),
    headers: dict[str, str] | None = None,
) -> AsyncIterator[Sock]:
    sio = socketio.AsyncClient(reconnection=False)
    sock = Sock(sio)
    try:
        await sio.connect(
            url_of(client),
            auth={"token": token} if token is not None else None,
            transports=list(transports),
            headers=headers or {},
            wait_timeout=WAIT,
        )
        yield sock
    finally:
        await sio.disconnect()


async def refused(
    client: Client, auth: dict[str, Any] | None, headers: dict[str, str] | None = None
) -> Any:
    """Try to connect; return the data of the ``connect_error`` the server answered."""
    sio = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []

    @sio.on("connect_error")  # type: ignore[untyped-decorator]
    async def on_error(data: Any = None) -> None:
        errors.append(data)

    try:
        await sio.connect(
            url_of(client),
            auth=auth,
            transports=["websocket"],
            headers=headers or {},
            wait_timeout=WAIT,
        )
    except socketio.exceptions.ConnectionError:
        pass
    else:
        raise AssertionError("the connection was accepted")
    finally:
        await sio.disconnect()
    assert errors, "no connect_error received"
    return errors[0]


@dataclass
class Pair:
    """A conversation between a customer and a contractor, opened by an application."""

    customer: dict[str, Any]
    contractor: dict[str, Any]
    conversation_id: str
    job_id: str

    @property
    def customer_id(self) -> str:
        return str(self.customer["user"]["id"])

    @property
    def contractor_id(self) -> str:
        return str(self.contractor["user"]["id"])


async def conversation(client: Client, customer: dict[str, Any] | None = None) -> Pair:
    """A customer posts a job, a contractor applies: their conversation opens."""
    lat, lng = spot()
    contractor = await contractor_at(client, lat, lng)
    customer = customer or await register(client, "customer")
    job = await post_job(client, customer, lat, lng)
    application = await apply(client, contractor, job["id"])
    return Pair(customer, contractor, application["conversation_id"], job["id"])


def token_of(who: dict[str, Any]) -> str:
    return str(who["access_token"])


def sio_of(client: Client) -> Any:
    app = client.app
    assert app is not None
    return app[keys.SIO]


def identities_of(client: Client) -> dict[str, Any]:
    app = client.app
    assert app is not None
    identities: dict[str, Any] = app[keys.GATEWAY].identities
    return identities


class RawSocket:
    """Engine.IO v4 / Socket.IO v5 over a raw TCP socket: any frame, reading can stop.

    A small receive buffer makes the server's write buffer fill after little data once the
    test stops reading.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, rcvbuf: int = 4096) -> Self:
        """Open the websocket and read Engine.IO's OPEN; no Socket.IO connect yet."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        raw = cls(reader, writer)
        opening = await raw.recv()
        assert opening is not None and opening.startswith("0{"), opening
        return raw

    async def connect(self, token: str) -> str:
        """Socket.IO CONNECT on "/" with a token; returns the Socket.IO sid."""
        self.send("40" + json.dumps({"token": token}))
        reply = await self.recv()
        assert reply is not None and reply.startswith("40{"), reply
        return str(json.loads(reply[2:])["sid"])

    def send(self, text: str | bytes, opcode: int = 0x1) -> None:
        payload = text.encode() if isinstance(text, str) else text
        n = len(payload)
        if n < 126:
            head = bytes((0x80 | opcode, 0x80 | n))
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.writer.write(head + mask + masked)

    async def frame(self) -> tuple[int, bytes]:
        """(opcode, payload) of the next frame; server frames are unmasked and unfragmented."""
        b0, b1 = await self.reader.readexactly(2)
        n = b1 & 0x7F
        if n == 126:
            (n,) = struct.unpack("!H", await self.reader.readexactly(2))
        elif n == 127:
            (n,) = struct.unpack("!Q", await self.reader.readexactly(8))
        return b0 & 0x0F, await self.reader.readexactly(n)

    async def recv(self) -> str | None:
        """The next text frame, answering pings; None once the server closed."""
        while True:
            try:
                opcode, payload = await self.frame()
            except (asyncio.IncompleteReadError, ConnectionError):
                return None
            if opcode == 0x8:
                return None
            text = payload.decode()
            if text == "2":
                self.send("3")
                continue
            return text

    async def closed_by_server(self) -> bool:
        """Read until the server ends the connection (True), within the wait limit."""
        try:
            async with asyncio.timeout(WAIT):
                while await self.recv() is not None:
                    pass
        except TimeoutError:
            return False
        return True

    def stop_reading(self) -> None:
        transport = self.writer.transport
        assert isinstance(transport, asyncio.ReadTransport)
        transport.pause_reading()

    def resume_reading(self) -> None:
        transport = self.writer.transport
        assert isinstance(transport, asyncio.ReadTransport)
        transport.resume_reading()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()
