"""A python-socketio client manager that fans emits out through the bus, one channel per room.

``AsyncRedisManager`` publishes every emit on one channel that every node reads, so each
node handles the whole cluster's traffic. :class:`BusManager` publishes an emit to room R on
R's own bus channel, and a node subscribes to R's channel only while R has a member on that
node (when the first local socket enters, until the last one leaves). A node's fan-out work
then grows with its own rooms, not with the cluster.

* The Socket.IO packet is encoded once, on the emitting node: local members get it at once
  (the emit returns after their packets are queued, as with ``AsyncManager``), and the bus
  carries the encoded text to the other nodes, which write it as is. A node ignores its own
  messages coming back from the bus.
* Order: per room, in publish order (one channel per room; the bus keeps channel order).
* An emit to several rooms reaches each socket once: the copies carry a message id, and a
  node with members in more than one of the rooms sends each socket the first copy only.
* A Socket.IO sid names its node (``~<node>~<engine id>``), so an emit, disconnect or room
  change for one socket on another node goes to that node's own channel, not to everyone.
* ``publish_latest`` carries latest-wins location updates on the room's channel and hands
  them, on every node with members (the publisher's included), to the callback given to
  :meth:`BusManager.on_latest` (the room broadcaster).
* ``emit(..., room=None)`` (to everyone) uses a per-namespace channel every node holds while
  it has sockets; ``ignore_queue=True`` keeps any emit on this node.

Works over ``MemoryBus`` (one node) and ``RedisBus`` (many) alike; call :meth:`start` before
serving and :meth:`close` after.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import socketio
from bidict import ValueDuplicationError
from engineio import packet as eio_packet
from socketio import packet

from hub.engine.bus import Bus, Subscription

log = logging.getLogger(__name__)

LatestCallback = Callable[[str, str, Any, str, "str | None"], None]
"""``(room, event, data, key, skip_sid) -> None``: deliver to this node's members of room."""

_NODE_LEN = 8
_SEEN_BOUND = 4096  # multi-room message ids remembered for once-per-socket delivery


def new_node_id() -> str:
    """8 random lowercase letters and digits: a node's name in sids and channels."""
    return base64.b32encode(secrets.token_bytes(5)).decode().lower()


@dataclass
class _RoomLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class _Room(dict[str, str]):
    """The members of a room other than ``None``: ``{sid: eio_sid}``.

    python-socketio makes every room a ``bidict`` (two dicts); only room ``None`` (every
    connected socket) is ever looked up backwards. A plain dict is ~0.27 KB smaller, and a
    connected user holds two rooms (their sid's and ``user:<id>``). ``_fwdm`` is what
    ``BaseManager.get_participants`` reads of a bidict.
    """

    __slots__ = ()

    @property
    def _fwdm(self) -> dict[str, str]:
        return self


class BusManager(socketio.AsyncManager):  # type: ignore[misc]
    """Socket.IO manager for one node of a cluster joined by ``bus``.

    Args:
        bus: ``MemoryBus`` or ``RedisBus``.
        channel_prefix: prepended to this manager's bus channels.
        node_id: 8 lowercase letters or digits naming this node in sids (random by default).
    """

    def __init__(self, bus: Bus, channel_prefix: str = "sio:", node_id: str | None = None):
        super().__init__()
        self._bus = bus
        self.node_id = node_id or new_node_id()
        if len(self.node_id) != _NODE_LEN or not self.node_id.isalnum():
            raise ValueError("node_id must be 8 letters or digits")
        self._prefix = channel_prefix
        self._room_subs: dict[tuple[str, str | None], Subscription] = {}
        self._room_locks: dict[tuple[str, str | None], _RoomLock] = {}
        self._node_sub: Subscription | None = None
        self._on_latest: LatestCallback | None = None
        self._seen: OrderedDict[str, tuple[set[str], set[str]]] = OrderedDict()
        self._ids = itertools.count()
        self._sending: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Subscribe to this node's own channel (emits and requests for its sockets)."""
        if self._node_sub is None:
            self._node_sub = await self._bus.subscribe(self._node_channel(self.node_id), self._on)

    async def close(self) -> None:
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        subs = list(self._room_subs.values())
        self._room_subs.clear()
        if self._node_sub is not None:
            subs.append(self._node_sub)
            self._node_sub = None
        for sub in subs:
            await sub.close()

    def on_latest(self, callback: LatestCallback) -> None:
        """Register the local delivery of ``publish_latest`` (e.g. ``RoomBroadcaster``)."""
        self._on_latest = callback

    def subscribed_rooms(self, namespace: str = "/") -> set[str | None]:
        """The rooms whose channel this node holds (None: the namespace's broadcast)."""
        return {room for ns, room in self._room_subs if ns == namespace}

    # ------------------------------------------------------------------ emitting
    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        room = to or room
        namespace = namespace or "/"
        if kwargs.get("ignore_queue"):
            await super().emit(
                event, data, namespace, room=room, skip_sid=skip_sid, callback=callback
            )
            return
        if callback is not None:
            await self._emit_with_callback(event, data, namespace, room, callback)
            return
        rooms: list[str | None] = [room] if room is None or isinstance(room, str) else list(room)
        skip = _as_list(skip_sid)
        parts = self._encode(event, _args(data), namespace)
        await self._send(self._local_members(namespace, rooms, skip), parts)
        body, binary = _pack(parts)
        head: dict[str, Any] = {"o": self.node_id, "k": "e", "n": namespace}
        if skip:
            head["s"] = skip
        if binary:
            head["b"] = 1
        if len(rooms) > 1:
            head["r"] = rooms
            head["m"] = f"{self.node_id}.{next(self._ids)}"
        for target in rooms:
            node = self._node_of(target)
            if node == self.node_id:
                continue  # one of this node's sockets: already sent above
            head["v"] = target
            channel = self._node_channel(node) if node else self._room_channel(namespace, target)
            await self._bus.publish(channel, _frame(head, body))

    async def publish_latest(
        self,
        room: str,
        event: str,
        data: Any,
        key: str,
        skip_sid: str | None = None,
    ) -> None:
        """Latest-wins ``event`` to ``room`` (namespace "/") on every node, this one at once.

        Each node with members of ``room`` calls the :meth:`on_latest` callback with
        ``(room, event, data, key, skip_sid)``; a node without a callback emits the event to
        its members normally. It never waits on the network (see the ``_nowait`` twin).
        """
        self.publish_latest_nowait(room, event, data, key, skip_sid)

    def publish_latest_nowait(
        self,
        room: str,
        event: str,
        data: Any,
        key: str,
        skip_sid: str | None = None,
    ) -> None:
        """:meth:`publish_latest` for synchronous hot paths: this node's callback runs before
        it returns, and the bus message is queued in call order."""
        self._latest_here(room, event, data, key, skip_sid)
        head = {"o": self.node_id, "k": "l", "n": "/", "v": room, "e": event, "key": key}
        if skip_sid:
            head["s"] = skip_sid
        self._bus.publish_nowait(self._room_channel("/", room), _frame(head, orjson.dumps(data)))

    async def _emit_with_callback(
        self, event: str, data: Any, namespace: str, room: Any, callback: Any
    ) -> None:
        node = self._node_of(room)
        if node is None:
            raise ValueError("an emit with a callback must address one sid")
        if node == self.node_id:
            await super().emit(event, data, namespace, room=room, callback=callback)
            return
        ack_id = self._generate_ack_id(room, callback)
        head = {"o": self.node_id, "k": "q", "n": namespace, "t": room, "id": ack_id}
        body = orjson.dumps([event, _args(data)])
        await self._bus.publish(self._node_channel(node), _frame(head, body))

    # ------------------------------------------------------------------ rooms
    async def pre_connect(self, eio_sid: str, namespace: str) -> str | None:
        # BaseManager.pre_connect with a sid that names this node.
        sid = f"~{self.node_id}~{self.server.eio.generate_id()}"
        try:
            self.basic_enter_room(sid, namespace, None, eio_sid=eio_sid)
        except ValueDuplicationError:
            return None  # already connected
        self.basic_enter_room(sid, namespace, sid, eio_sid=eio_sid)
        self.pending_connect.setdefault(namespace, []).append(sid)
        await self._sync(namespace, [None])
        return sid

    def basic_enter_room(
        self, sid: str, namespace: str, room: str | None, eio_sid: str | None = None
    ) -> None:
        if room is None:  # the bidict of every connected sid (sid_from_eio_sid reads it back)
            super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
            return
        # BaseManager.basic_enter_room, with a _Room where it makes a bidict
        if eio_sid is None and namespace not in self.rooms:
            raise ValueError("sid is not connected to requested namespace")
        if sid != room and self.is_sid_room(namespace, room):
            raise ValueError("cannot enter a sid room")
        rooms = self.rooms.setdefault(namespace, {})
        members = rooms.get(room)
        if members is None:
            members = rooms[room] = _Room()
        if eio_sid is None:
            eio_sid = rooms[None][sid]
        members[sid] = eio_sid

    async def can_disconnect(self, sid: str, namespace: str) -> bool:
        if self.is_connected(sid, namespace) or self.is_pre_connected(sid, namespace):
            return True
        await self._request(sid, namespace, "d")
        return False

    async def disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        rooms: list[str | None] = [*self.get_rooms(sid, namespace), None]
        self.basic_disconnect(sid, namespace, **kwargs)
        await self._sync(namespace, rooms)

    async def enter_room(
        self, sid: str, namespace: str, room: str, eio_sid: str | None = None
    ) -> None:
        if eio_sid is None and not self._is_local(sid, namespace):
            await self._request(sid, namespace, "j", room)
            return
        self.basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        await self._sync(namespace, [room])

    async def leave_room(self, sid: str, namespace: str, room: str) -> None:
        if not self._is_local(sid, namespace):
            await self._request(sid, namespace, "x", room)
            return
        self.basic_leave_room(sid, namespace, room)
        await self._sync(namespace, [room])

    async def close_room(self, room: str, namespace: str | None) -> None:
        namespace = namespace or "/"
        self.basic_close_room(room, namespace)
        await self._sync(namespace, [room])
        head = {"o": self.node_id, "k": "c", "n": namespace, "v": room}
        await self._bus.publish(self._room_channel(namespace, room), _frame(head, b""))

    def _is_local(self, sid: str, namespace: str) -> bool:
        return bool(self.is_connected(sid, namespace) or self.is_pre_connected(sid, namespace))

    async def _request(self, sid: str, namespace: str, kind: str, room: str = "") -> None:
        node = self._node_of(sid)
        if node is None or node == self.node_id:
            return  # not a sid, or one of ours that is gone
        head = {"o": self.node_id, "k": kind, "n": namespace, "t": sid, "v": room}
        await self._bus.publish(self._node_channel(node), _frame(head, b""))

    async def _sync(self, namespace: str, rooms: Iterable[str | None]) -> None:
        """Hold the bus channel of each room exactly while it has a member on this node."""
        for room in rooms:
            if self._node_of(room) is None:
                await self._sync_room(namespace, room)

    async def _sync_room(self, namespace: str, room: str | None) -> None:
        key = (namespace, room)
        wanted = bool(self.rooms.get(namespace, {}).get(room))
        if wanted == (key in self._room_subs) and key not in self._room_locks:
            return
        entry = self._room_locks.setdefault(key, _RoomLock())
        entry.users += 1
        try:
            async with entry.lock:  # one (un)subscription at a time per room
                wanted = bool(self.rooms.get(namespace, {}).get(room))
                sub = self._room_subs.get(key)
                if wanted and sub is None:
                    channel = self._room_channel(namespace, room)
                    # returns once the subscription is live: a socket that has entered
                    # the room misses nothing published from then on
                    self._room_subs[key] = await self._bus.subscribe(channel, self._on)
                elif not wanted and sub is not None:
                    del self._room_subs[key]
                    await sub.close()
        finally:
            entry.users -= 1
            if not entry.users:
                del self._room_locks[key]

    # ------------------------------------------------------------------ receiving
    async def _on(self, message: bytes) -> None:
        raw_head, _, body = message.partition(b"\n")
        head = orjson.loads(raw_head)
        if head["o"] == self.node_id:
            return  # sent locally when it was emitted
        kind, namespace = head["k"], head["n"]
        if kind == "e":
            parts = _unpack(body, bool(head.get("b")))
            await self._send(self._remote_members(namespace, head), parts)
        elif kind == "l":
            self._latest_here(head["v"], head["e"], orjson.loads(body), head["key"], head.get("s"))
        elif kind == "c":
            self.basic_close_room(head["v"], namespace)
            await self._sync(namespace, [head["v"]])
        elif kind == "d":
            await self.server.disconnect(head["t"], namespace=namespace, ignore_queue=True)
        elif kind in ("j", "x") and self._is_local(head["t"], namespace):
            if kind == "j":
                await self.enter_room(head["t"], namespace, head["v"])
            else:
                await self.leave_room(head["t"], namespace, head["v"])
        elif kind == "q":
            await self._emit_for_remote_callback(head, body)
        elif kind == "a":
            await self.trigger_callback(head["t"], head["id"], orjson.loads(body))

    async def _emit_for_remote_callback(self, head: dict[str, Any], body: bytes) -> None:
        sid, namespace, origin, ack_id = head["t"], head["n"], head["o"], head["id"]
        if not self._is_local(sid, namespace):
            return
        event, args = orjson.loads(body)

        async def answer(*reply: Any) -> None:
            back = {"o": self.node_id, "k": "a", "n": namespace, "t": sid, "id": ack_id}
            await self._bus.publish(self._node_channel(origin), _frame(back, orjson.dumps(reply)))

        data = args[0] if len(args) == 1 else tuple(args)
        await super().emit(event, data, namespace, room=sid, callback=answer)

    def _latest_here(
        self, room: str, event: str, data: Any, key: str, skip_sid: str | None
    ) -> None:
        if not self.rooms.get("/", {}).get(room):
            return
        if self._on_latest is not None:
            try:
                self._on_latest(room, event, data, key, skip_sid)
            except Exception:
                log.exception("latest-wins delivery failed", extra={"room": room})
            return
        # No broadcaster registered: a plain emit, in a task this manager owns.
        members = self._local_members("/", [room], _as_list(skip_sid))
        task = asyncio.get_running_loop().create_task(
            self._send(members, self._encode(event, [data], "/"))
        )
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    # ------------------------------------------------------------------ helpers
    def _room_channel(self, namespace: str, room: str | None) -> str:
        if room is None:
            return f"{self._prefix}all:{namespace}"
        return f"{self._prefix}r:{namespace}:{room}"

    def _node_channel(self, node: str) -> str:
        return f"{self._prefix}n:{node}"

    @staticmethod
    def _node_of(room: Any) -> str | None:
        """The node of a sid (``~node~...``); None for a room name."""
        if (
            isinstance(room, str)
            and len(room) > _NODE_LEN + 2
            and room[0] == "~"
            and room[_NODE_LEN + 1] == "~"
        ):
            return room[1 : _NODE_LEN + 1]
        return None

    def _encode(self, event: str, args: list[Any], namespace: str) -> list[str | bytes]:
        pkt = self.server.packet_class(packet.EVENT, namespace=namespace, data=[event, *args])
        encoded = pkt.encode()
        return encoded if isinstance(encoded, list) else [encoded]

    def _local_members(self, namespace: str, rooms: list[str | None], skip: list[str]) -> list[str]:
        ns = self.rooms.get(namespace)
        if not ns:
            return []
        if len(rooms) == 1:
            members = ns.get(rooms[0])
            if not members:
                return []
            return [eio for sid, eio in members.items() if sid not in skip]
        union: dict[str, str] = {}
        for room in rooms:
            union.update(ns.get(room) or {})
        return [eio for sid, eio in union.items() if sid not in skip]

    def _remote_members(self, namespace: str, head: dict[str, Any]) -> list[str]:
        ns = self.rooms.get(namespace) or {}
        via = head["v"]
        members = ns.get(via)
        if not members:
            return []
        skip = head.get("s") or ()
        rooms = head.get("r")
        if rooms is None:
            return [eio for sid, eio in members.items() if sid not in skip]
        # An emit to several rooms comes once per room; send each socket the first copy.
        mid = head["m"]
        seen = self._seen.get(mid)
        if seen is None:
            pending = {room for room in rooms if ns.get(room)}
            if len(pending) <= 1:
                return [eio for sid, eio in members.items() if sid not in skip]
            seen = self._seen[mid] = (set(), pending)
            if len(self._seen) > _SEEN_BOUND:
                self._seen.popitem(last=False)
        served, pending = seen
        pending.discard(via)
        if not pending:
            self._seen.pop(mid, None)
        out = []
        for sid, eio in members.items():
            if sid not in skip and sid not in served:
                served.add(sid)
                out.append(eio)
        return out

    async def _send(self, eio_sids: list[str], parts: list[str | bytes]) -> None:
        if not eio_sids:
            return
        pkts = [eio_packet.Packet(eio_packet.MESSAGE, part) for part in parts]
        send = self.server._send_eio_packet
        for eio_sid in eio_sids:  # each send only queues (or writes without blocking)
            for pkt in pkts:
                try:
                    await send(eio_sid, pkt)
                except Exception:  # one closed socket must not stop the others
                    log.debug("send failed", extra={"eio_sid": eio_sid}, exc_info=True)


def _args(data: Any) -> list[Any]:
    if isinstance(data, tuple):
        return list(data)
    return [] if data is None else [data]


def _as_list(skip_sid: Any) -> list[str]:
    if skip_sid is None:
        return []
    return list(skip_sid) if isinstance(skip_sid, list | tuple | set) else [skip_sid]


def _frame(head: dict[str, Any], body: bytes) -> bytes:
    return orjson.dumps(head) + b"\n" + body


def _pack(parts: list[str | bytes]) -> tuple[bytes, bool]:
    """The encoded packet as bus payload: its text, or (binary attachments) a JSON list."""
    if len(parts) == 1 and isinstance(parts[0], str):
        return parts[0].encode(), False
    return orjson.dumps(
        [p if isinstance(p, str) else {"b64": base64.b64encode(p).decode()} for p in parts]
    ), True


def _unpack(body: bytes, binary: bool) -> list[str | bytes]:
    if not binary:
        return [body.decode()]
    return [p if isinstance(p, str) else base64.b64decode(p["b64"]) for p in orjson.loads(body)]
