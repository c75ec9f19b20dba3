"""The bus (``hub.engine.bus`` contract) over Redis pub/sub, one Redis channel per bus channel.

A node subscribes in Redis only to the channels it has local subscribers for, so it receives
its own rooms' traffic, not the cluster's. Redis 7 sharded pub/sub (SSUBSCRIBE/SPUBLISH) is
used when the server has it (probed once with a SPUBLISH), plain SUBSCRIBE/PUBLISH otherwise.

Each Redis message is the publishing node's 8-byte id followed by the payload. The publisher
delivers to its own subscribers at once (so local delivery works while Redis is away) and skips
the echo Redis sends back.

Subscriptions ride on dedicated pub/sub connections ("links"), each owned by one task that
connects, resubscribes exactly the channels still wanted, then reads; a PING every
``ping_interval_s`` finds a silent peer. A lost link retries with capped exponential backoff
and jitter, and ``on_degraded(True)`` / ``on_degraded(False)`` report the outage and the
recovery. Messages published meanwhile are lost (at-most-once).

Redis Cluster (``REDIS_CLUSTER=true``: pass a ``redis.asyncio.cluster.RedisCluster``): a shard
channel lives on the primary owning its hash slot, so the bus keeps one link per primary that
owns a wanted channel, plus a "main" link to any node as the liveness monitor. When a link
fails or the server pushes an unrequested SUNSUBSCRIBE (the slot moved), the bus refreshes the
slot map and moves channels to their new owners.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError

from hub.core.cancellation import raise_if_cancelled
from hub.engine.bus import LocalSubscribers, LocalSubscription, MessageHandler

log = logging.getLogger(__name__)

NODE_ID_BYTES = 8
MAIN = "main"
_RESYNC = b"th-resync"
_BATCH = 64  # channels per (S)SUBSCRIBE command on a single server


class RedisBus:
    """Cross-node bus on Redis.

    Args:
        redis: ``redis.asyncio.Redis`` or ``redis.asyncio.cluster.RedisCluster`` (publishes,
            and the connection settings of the pub/sub links).
        prefix: prepended to every Redis channel name (deployments sharing a Redis).
        sharded: force sharded (True) or plain (False) pub/sub; None probes the server.
        queue_bound: per-subscription queue bound (oldest dropped beyond it).
        on_degraded: called with True when a link is lost, False when all are back.
        backoff_s: first and largest delay between reconnection attempts.
        ping_interval_s: idle links PING this often; no reply in 2.5 intervals is a loss.
        confirm_timeout_s: how long ``subscribe`` waits for the server's confirmation.
        name: client name of the pub/sub connections (``CLIENT LIST``), suffixed by link.
    """

    def __init__(
        self,
        redis: Any,
        *,
        prefix: str = "th:bus:",
        sharded: bool | None = None,
        queue_bound: int = 10_000,
        on_degraded: Callable[[bool], None] | None = None,
        backoff_s: tuple[float, float] = (0.05, 5.0),
        ping_interval_s: float = 5.0,
        confirm_timeout_s: float = 2.0,
        name: str | None = None,
    ) -> None:
        self._redis = redis
        self._cluster = isinstance(redis, RedisCluster)
        self.prefix = prefix
        self.node_id = secrets.token_bytes(NODE_ID_BYTES)
        self._sharded = sharded
        self._local = LocalSubscribers(queue_bound)
        self._on_degraded = on_degraded or (lambda degraded: None)
        self.backoff_s = backoff_s
        self.ping_interval_s = ping_interval_s
        self.confirm_timeout_s = confirm_timeout_s
        self._name = name
        self._links: dict[str, _Link] = {}
        self._route: dict[str, str] = {}  # channel -> link name
        self._ready: dict[str, asyncio.Future[None]] = {}  # channel -> first subscribe done
        self._degraded: bool | None = None
        self._reroute_task: asyncio.Task[None] | None = None
        self._closed = False
        self.received = 0  # data messages read from Redis, echoes included
        self.echoes = 0  # of which this node's own
        self.publish_dropped = 0
        self._outbox: deque[tuple[str, bytes]] = deque()  # (channel, data) waiting for Redis
        self._outbox_bound = queue_bound * 10
        self._outbox_kick = asyncio.Event()
        self._flushed = asyncio.Event()  # nothing queued nor in flight
        self._flushed.set()
        self._writer: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ public API
    @property
    def degraded(self) -> bool:
        return bool(self._degraded)

    @property
    def sharded(self) -> bool | None:
        """Sharded pub/sub in use (None until the server was first reached)."""
        return self._sharded

    def channels(self) -> set[str]:
        """The channels this node holds a subscription to."""
        return set(self._local.by_channel)

    async def start(self) -> None:
        """Start the main link. Returns at once; an unreachable Redis means degraded."""
        self._main()

    async def publish(self, channel: str, message: bytes) -> None:
        self.publish_nowait(channel, message)

    def publish_nowait(self, channel: str, message: bytes) -> None:
        """Deliver here at once and queue for Redis; never waits on the network.

        The order of ``publish`` calls is the order on the wire (one writer task sends the
        queue in pipelined batches), so concurrent publishers cannot overtake each other.
        """
        self._local.deliver(channel, message)
        if self._closed:
            return
        main = self._main()
        if main.tried and not main.up:
            self.publish_dropped += 1  # at-most-once: nothing waits on a Redis known down
            return
        if len(self._outbox) >= self._outbox_bound:
            self._outbox.popleft()
            self.publish_dropped += 1
        self._outbox.append((self.prefix + channel, self.node_id + message))
        self._outbox_kick.set()
        self._flushed.clear()
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(
                self._write_forever(), name="redis-bus-publish"
            )

    async def _write_forever(self) -> None:
        while True:
            raise_if_cancelled()
            await self._outbox_kick.wait()
            self._outbox_kick.clear()
            while self._outbox:
                batch = [self._outbox.popleft() for _ in range(min(len(self._outbox), 512))]
                await self._send(batch)
            self._flushed.set()

    async def _send(self, batch: list[tuple[str, bytes]]) -> None:
        for attempt in (1, 2):
            try:
                sharded = await self._mode()
                pipe = self._redis.pipeline(transaction=False)
                for channel, data in batch:
                    if sharded:
                        pipe.spublish(channel, data)
                    else:
                        pipe.publish(channel, data)
                await pipe.execute()
                return
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                # A pooled connection left over from before a Redis restart fails once;
                # the retry gets a fresh one.
                if attempt == 1 and isinstance(exc, (ConnectionError, RedisConnectionError)):
                    continue
                self.publish_dropped += len(batch)
                log.warning(
                    "bus publish dropped",
                    extra={"messages": len(batch), "error": f"{type(exc).__name__}: {exc}"},
                )

    async def subscribe(self, channel: str, handler: MessageHandler) -> LocalSubscription:
        sub = self._local.add(channel, handler, self._detach)
        if len(self._local.by_channel[channel]) > 1:
            ready = self._ready.get(channel)
            if ready is not None:  # the first subscriber is still waiting for Redis
                await asyncio.shield(ready)
            return sub
        ready = self._ready[channel] = asyncio.get_running_loop().create_future()
        try:
            link = self._link_for(channel)
            if link is None and self._cluster:
                with contextlib.suppress(RedisError, OSError):
                    await self._mode()  # learns the slot map too (first command)
                link = self._link_for(channel)
            if link is None:
                self._schedule_reroute()  # topology unknown yet: routed once Redis answers
            else:
                self._route[channel] = link.name
                await link.add(self.prefix + channel, wait=True)
        finally:
            ready.set_result(None)
            if self._ready.get(channel) is ready:
                del self._ready[channel]
        return sub

    async def close(self) -> None:
        self._closed = True
        await self._local.close_all()
        if self._writer is not None:
            if not self._flushed.is_set() and self._main().up:  # let the last ones go out
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.confirm_timeout_s):
                        await self._flushed.wait()
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        if self._reroute_task is not None:
            self._reroute_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reroute_task
        for link in list(self._links.values()):
            await link.stop()
        self._links.clear()

    # ------------------------------------------------------------------ internals
    async def _detach(self, sub: LocalSubscription) -> None:
        if not self._local.remove(sub):
            return
        name = self._route.pop(sub.channel, None)
        link = self._links.get(name) if name else None
        if link is not None:
            link.remove(self.prefix + sub.channel)

    async def _mode(self) -> bool:
        """Sharded pub/sub or not: probed once, with a SPUBLISH nobody listens to."""
        if self._sharded is None:
            try:
                await self._redis.spublish(self.prefix + "probe", b"")
                sharded = True
            except ResponseError:  # unknown command (Redis < 7) or not permitted
                sharded = False
            if self._sharded is None:
                self._sharded = sharded
                log.info(
                    "bus mode",
                    extra={"pubsub": "sharded" if sharded else "plain", "cluster": self._cluster},
                )
        return self._sharded

    def _main(self) -> _Link:
        link = self._links.get(MAIN)
        if link is None:
            link = self._links[MAIN] = _Link(self, MAIN, self._connection_to_main)
            link.start()
        return link

    def _link_for(self, channel: str) -> _Link | None:
        if not self._cluster:
            return self._main()
        if self._sharded is None:
            return None
        if not self._sharded:
            return self._main()
        try:
            node = self._redis.get_node_from_key(self.prefix + channel)
        except RedisError:
            return None
        if node is None:
            return None
        link = self._links.get(node.name)
        if link is None:
            name = node.name
            link = self._links[name] = _Link(self, name, lambda: self._connection_to_node(name))
            link.start()
        return link

    def _connection(self, connection_class: Any, kwargs: dict[str, Any], link: str) -> Any:
        # A dedicated connection that never retries or reconnects by itself: the link
        # owns reconnection, so it knows when subscriptions were lost.
        # RESP2 keeps pub/sub replies plain arrays; maintenance notifications need RESP3.
        plain = {k: v for k, v in kwargs.items() if not k.startswith(("maint_", "orig_", "oss_"))}
        return connection_class(
            **{
                **plain,
                "retry": Retry(NoBackoff(), 0),
                "health_check_interval": 0,
                "protocol": 2,
                "decode_responses": False,
                "client_name": f"{self._name}:{link}" if self._name else kwargs.get("client_name"),
            }
        )

    def _connection_to_main(self) -> Any:
        if not self._cluster:
            pool = self._redis.connection_pool
            return self._connection(pool.connection_class, pool.connection_kwargs, MAIN)
        nodes = self._redis.get_nodes() or list(self._redis.nodes_manager.startup_nodes.values())
        node = random.choice(nodes)
        return self._connection(node.connection_class, node.connection_kwargs, MAIN)

    def _connection_to_node(self, name: str) -> Any:
        node = self._redis.get_node(node_name=name)
        if node is None:
            raise ConnectionError(f"cluster node {name} is gone")
        return self._connection(node.connection_class, node.connection_kwargs, name)

    def _on_message(self, channel: bytes, data: bytes) -> None:
        self.received += 1
        if data[:NODE_ID_BYTES] == self.node_id:
            self.echoes += 1
            return
        name = channel.decode()
        if name.startswith(self.prefix):
            self._local.deliver(name[len(self.prefix) :], data[NODE_ID_BYTES:])

    def _link_changed(self, link: _Link) -> None:
        if self._closed:
            return
        if link.name == MAIN and link.synced and self._cluster:
            self._schedule_reroute()  # the topology may be known (or have changed) now
        elif not link.up and link.name != MAIN:
            self._schedule_reroute()  # a primary went away: its slots have a new owner
        degraded = any(
            lk.tried and not lk.synced
            for lk in self._links.values()
            if lk.name == MAIN or lk.channels
        )
        if degraded == self._degraded:
            return
        was = self._degraded
        self._degraded = degraded
        if degraded:
            log.warning("fan-out degraded: Redis pub/sub unreachable, local delivery only")
        elif was is not None:
            log.info("fan-out recovered: Redis pub/sub reconnected and resubscribed")
        try:
            self._on_degraded(degraded)
        except Exception:
            log.exception("on_degraded callback failed")

    def _slot_moved(self, channel: str) -> None:
        self._schedule_reroute()

    def _schedule_reroute(self) -> None:
        if not self._cluster or self._closed:
            return
        if self._reroute_task is None or self._reroute_task.done():
            self._reroute_task = asyncio.get_running_loop().create_task(self._reroute())

    async def _reroute(self) -> None:
        """Cluster: put every wanted channel on the link of its slot's current primary."""
        try:
            await self._redis.nodes_manager.initialize()
            await self._mode()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "cluster topology refresh failed",
                extra={"error": f"{type(exc).__name__}: {exc}"},
            )
            return
        for channel in list(self._local.by_channel):
            link = self._link_for(channel)
            current = self._route.get(channel)
            if link is None or link.name == current:
                continue
            old = self._links.get(current) if current else None
            if old is not None:
                old.remove(self.prefix + channel)
            self._route[channel] = link.name
            await link.add(self.prefix + channel, wait=False)
        for name, link in list(self._links.items()):
            if name != MAIN and not link.channels:
                del self._links[name]
                await link.stop()
        self._link_changed(self._main())


class _Link:
    """One pub/sub connection and the task that keeps it subscribed to ``channels``."""

    def __init__(self, bus: RedisBus, name: str, connect: Callable[[], Any]) -> None:
        self.name = name
        self._bus = bus
        self._connect = connect
        self.channels: set[str] = set()  # Redis channel names wanted on this link
        self.up = False  # connected: (un)subscribe commands go out at once
        self.synced = False  # and the resubscription after connecting is confirmed
        self.tried = False  # a connection attempt has finished (either way)
        self.sessions = 0  # connections that got subscribed
        self._settled = asyncio.Event()  # the first attempt synced or failed
        self._outbox: list[tuple[str | bytes, ...]] = []
        self._kick = asyncio.Event()
        self._waiters: dict[str, deque[asyncio.Future[None]]] = {}
        self._leaving: Counter[str] = Counter()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"redis-bus-{self.name}"
        )

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def add(self, channel: str, wait: bool) -> None:
        """Want ``channel``; if connected, subscribe and (``wait``) await the confirmation."""
        self.channels.add(channel)
        if not self.up:
            if wait and not self.tried:  # still connecting for the first time
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._bus.confirm_timeout_s):
                        await self._settled.wait()
            return  # subscribed with the others when the link (re)connects
        future: asyncio.Future[None] | None = None
        if wait:
            future = asyncio.get_running_loop().create_future()
            self._waiters.setdefault(channel, deque()).append(future)
        self._send(self._verb(False), channel)
        if future is not None:
            try:
                async with asyncio.timeout(self._bus.confirm_timeout_s):
                    await asyncio.shield(future)
            except TimeoutError:
                log.warning("bus subscription not confirmed in time", extra={"channel": channel})

    def remove(self, channel: str) -> None:
        self.channels.discard(channel)
        if self.up:
            self._leaving[channel] += 1
            self._send(self._verb(True), channel)

    def _verb(self, leave: bool) -> str:
        if self._bus.sharded:
            return "SUNSUBSCRIBE" if leave else "SSUBSCRIBE"
        return "UNSUBSCRIBE" if leave else "SUBSCRIBE"

    def _send(self, *command: str) -> None:
        self._outbox.append(command)
        self._kick.set()

    async def _run(self) -> None:
        attempt = 0
        while True:
            raise_if_cancelled()
            sessions = self.sessions
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.sessions > sessions or attempt == 0:  # log a streak's start only
                    log.warning(
                        "bus link down",
                        extra={"link": self.name, "error": f"{type(exc).__name__}: {exc}"},
                    )
            self.tried = True
            self._settled.set()
            self._set_up(False)
            if self.sessions > sessions:
                attempt = 0
            first, cap = self._bus.backoff_s
            delay = min(cap, first * 2**attempt) * random.uniform(0.5, 1.0)
            attempt += 1
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        """Connect, resubscribe, then read until the connection fails (always raises)."""
        conn = self._connect()
        tasks: list[asyncio.Task[None]] = []
        try:
            await conn.connect()
            await self._bus._mode()
            self._outbox.clear()
            self._leaving.clear()
            for waiters in self._waiters.values():
                for future in waiters:
                    if not future.done():
                        future.set_result(None)
            self._waiters.clear()
            wanted = sorted(self.channels)
            verb = self._verb(False)
            if self._bus._cluster:  # one command per channel: slots may differ
                self._outbox.extend((verb, channel) for channel in wanted)
            else:
                for i in range(0, len(wanted), _BATCH):
                    self._outbox.append((verb, *wanted[i : i + _BATCH]))
            # The PING's reply comes after every confirmation above: then the link is synced.
            self._outbox.append(("PING", _RESYNC))
            self._kick.set()
            self.sessions += 1
            self._set_up(True)
            if wanted:
                log.info("bus link subscribed", extra={"link": self.name, "channels": len(wanted)})
            loop = asyncio.get_running_loop()
            tasks = [loop.create_task(self._read(conn)), loop.create_task(self._write(conn))]
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
            raise ConnectionError("pub/sub link ended")
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(BaseException):
                    await task
            with contextlib.suppress(Exception):
                await conn.disconnect(nowait=True)

    def _set_up(self, up: bool) -> None:
        self.up = up
        if not up:
            self.synced = False
        self._bus._link_changed(self)

    async def _write(self, conn: Any) -> None:
        while True:
            raise_if_cancelled()
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._bus.ping_interval_s):
                    await self._kick.wait()
            self._kick.clear()
            commands, self._outbox = self._outbox, []
            if not commands:
                commands = [("PING",)]
            await conn.send_packed_command(conn.pack_commands(commands), check_health=False)

    async def _read(self, conn: Any) -> None:
        silence = self._bus.ping_interval_s * 2.5
        while True:
            raise_if_cancelled()
            try:
                reply = await conn.read_response(timeout=silence, disconnect_on_error=False)
            except ResponseError as exc:  # an error reply to a (un)subscribe, e.g. MOVED
                log.warning("bus command refused", extra={"link": self.name, "error": str(exc)})
                self._bus._slot_moved("")
                continue
            if reply is None:
                raise ConnectionError(f"no reply from Redis within {silence:.1f} s")
            try:
                self._handle(reply)
            except Exception:
                log.exception("bus message failed", extra={"link": self.name})

    def _handle(self, reply: Any) -> None:
        if reply == _RESYNC or (isinstance(reply, list) and reply[-1:] == [_RESYNC]):
            self.synced = True  # PING's reply: outside or inside subscribed mode
            self._settled.set()
            self._bus._link_changed(self)
            return
        if not isinstance(reply, list) or len(reply) < 3:
            return  # a liveness PONG
        kind = reply[0]
        if kind in (b"smessage", b"message"):
            self._bus._on_message(reply[1], reply[2])
        elif kind in (b"ssubscribe", b"subscribe"):
            waiters = self._waiters.get(reply[1].decode())
            if waiters:
                future = waiters.popleft()
                if not future.done():
                    future.set_result(None)
        elif kind in (b"sunsubscribe", b"unsubscribe"):
            channel = reply[1].decode()
            if self._leaving[channel] > 0:
                self._leaving[channel] -= 1
                if not self._leaving[channel]:
                    del self._leaving[channel]
            elif channel in self.channels:  # not asked for: the slot moved (cluster)
                self.channels.discard(channel)
                self._bus._slot_moved(channel)
