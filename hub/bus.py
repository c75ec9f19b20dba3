"""Publish/subscribe between the hub's nodes, for notifications (not for truth).

Contract, for ``MemoryBus`` and the Redis bus alike:
- at-most-once: a message published while a node is disconnected from the bus is lost
  for that node (clients recover state over REST or from acks, never from the bus);
- per-channel order: messages of one channel arrive in the order they were published;
- the publisher's own node also receives what it publishes (one code path for local and
  remote delivery);
- handlers run one at a time per subscription; a handler that raises is logged and the
  subscription goes on; a subscriber that falls behind by more than its queue bound
  drops the oldest messages and counts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

log = logging.getLogger(__name__)

MessageHandler = Callable[[bytes], Awaitable[None]]


class Subscription(Protocol):
    async def close(self) -> None: ...


class Bus(Protocol):
    async def publish(self, channel: str, message: bytes) -> None: ...

    async def subscribe(self, channel: str, handler: MessageHandler) -> Subscription: ...

    async def close(self) -> None: ...


class _MemorySubscription:
    def __init__(self, bus: MemoryBus, channel: str, handler: MessageHandler, bound: int):
        self._bus = bus
        self.channel = channel
        self._handler = handler
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(bound)
        self.dropped = 0
        self._task = asyncio.get_running_loop().create_task(self._run())

    def offer(self, message: bytes) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(message)

    async def _run(self) -> None:
        while True:
            message = await self._queue.get()
            try:
                await self._handler(message)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("bus handler failed", extra={"channel": self.channel})

    async def close(self) -> None:
        self._bus._remove(self)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


class MemoryBus:
    """The single-node bus: delivery within this process, through bounded queues."""

    def __init__(self, queue_bound: int = 10_000) -> None:
        self._subs: dict[str, list[_MemorySubscription]] = {}
        self._bound = queue_bound

    async def publish(self, channel: str, message: bytes) -> None:
        for sub in self._subs.get(channel, ()):
            sub.offer(message)

    async def subscribe(self, channel: str, handler: MessageHandler) -> Subscription:
        sub = _MemorySubscription(self, channel, handler, self._bound)
        self._subs.setdefault(channel, []).append(sub)
        return sub

    def _remove(self, sub: _MemorySubscription) -> None:
        subs = self._subs.get(sub.channel, [])
        if sub in subs:
            subs.remove(sub)
        if not subs:
            self._subs.pop(sub.channel, None)

    async def close(self) -> None:
        for subs in list(self._subs.values()):
            for sub in list(subs):
                await sub.close()
