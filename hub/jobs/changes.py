"""Job changes that live tracking follows on every node: status changes and revoked links.

:meth:`JobEvents.publish` runs this node's handlers at once (awaited, so the REST request
that changed a job returns after this node's caches follow it), then publishes the event on
the bus for the other nodes; a node skips its own events when they come back from the bus.
The bus is at-most-once: a node that misses an event keeps a stale cache entry until the
contractor's next status change or reconnect (both re-read PostgreSQL, the truth).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Literal

import msgspec

from hub.engine.bus import Bus, Subscription

log = logging.getLogger(__name__)

CHANNEL = "tracking:jobs"


class JobEvent(msgspec.Struct, frozen=True):
    """``status``: the job's status changed (committed); ``revoked``: its share links were
    revoked."""

    kind: Literal["status", "revoked"]
    job_id: str
    status: str | None = None
    contractor_id: str | None = None
    origin: str = ""


JobEventHandler = Callable[[JobEvent], Awaitable[None]]


class JobEvents:
    """Delivers :class:`JobEvent` to this node's handlers and, through the bus, to the others.

    Args:
        bus: the nodes' bus.
        node_id: this node's id (random by default).
    """

    def __init__(self, bus: Bus, node_id: str | None = None) -> None:
        self._bus = bus
        self.node_id = node_id or secrets.token_hex(8)
        self._handlers: list[JobEventHandler] = []
        self._subscription: Subscription | None = None
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(JobEvent)

    def subscribe(self, handler: JobEventHandler) -> None:
        self._handlers.append(handler)

    async def start(self) -> None:
        self._subscription = await self._bus.subscribe(CHANNEL, self._on_message)

    async def close(self) -> None:
        if self._subscription is not None:
            await self._subscription.close()
            self._subscription = None

    async def publish(self, event: JobEvent) -> None:
        """Handle ``event`` here, then tell the other nodes. Never raises."""
        await self._run_handlers(event)
        try:
            stamped = msgspec.structs.replace(event, origin=self.node_id)
            await self._bus.publish(CHANNEL, self._encoder.encode(stamped))
        except Exception:
            log.exception("job event publish failed", extra={"job_id": event.job_id})

    async def _on_message(self, raw: bytes) -> None:
        try:
            event = self._decoder.decode(raw)
        except msgspec.DecodeError:
            log.warning("undecodable job event on the bus")
            return
        if event.origin != self.node_id:
            await self._run_handlers(event)

    async def _run_handlers(self, event: JobEvent) -> None:
        for handler in self._handlers:
            try:
                await handler(event)
            except Exception:
                log.exception("job event handler failed", extra={"job_id": event.job_id})
