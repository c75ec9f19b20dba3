"""This node's view of the contractors for matching: a ``geo.index.ContractorIndex``
kept in step with PostgreSQL through the bus.

Every node holds its own index. It is loaded from ``contractor_profiles`` at start, and
whoever changes a profile (its editable part, rating or verification) calls
:meth:`ContractorMatcher.invalidate` after the commit: that publishes the contractor id on
:data:`CHANNEL`, and every node (the publisher's too) re-reads that one row and upserts or
removes the entry. The bus is at-most-once, so a node that misses a message keeps a stale
entry until the next change of that contractor or its restart; Postgres stays the truth
(matching re-reads the public profiles it returns).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from geo.areas import ServiceArea, parse_service_area
from geo.index import ContractorIndex
from geo.matching import Candidate, Match, candidate_position, rank_contractors
from geo.types import GeoValidationError, Position
from hub.contractors import store
from hub.contractors.store import IndexRow
from hub.engine.bus import Bus, Subscription

log = logging.getLogger(__name__)

CHANNEL = "index:contractors"

LivePosition = Callable[[str], tuple[float, float] | None]
"""``contractor_id -> (lat, lng)`` of the contractor's live position, or None."""


def no_live_position(contractor_id: str) -> tuple[float, float] | None:
    return None


@dataclass(frozen=True, slots=True)
class _Entry:
    area: ServiceArea
    base: Position | None
    rating: float
    verified: bool


class ContractorMatcher:
    """Finds and ranks the contractors who can take a job, on this node's index.

    Args:
        pool: database pool (the rows to load and re-read).
        bus: carries invalidations between nodes.
        live_position: where a contractor is now, when live tracking knows it.
    """

    def __init__(
        self, pool: asyncpg.Pool, bus: Bus, live_position: LivePosition = no_live_position
    ) -> None:
        self._pool = pool
        self._bus = bus
        self._live_position = live_position
        self._index = ContractorIndex()
        self._entries: dict[str, _Entry] = {}
        self._loaded = asyncio.Event()
        self._subscription: Subscription | None = None

    def use_live_positions(self, provider: LivePosition) -> None:
        """Plug in live tracking's positions (measured from before base or area)."""
        self._live_position = provider

    def __len__(self) -> int:
        return len(self._entries)

    async def start(self) -> None:
        """Subscribe, then load every profile. Messages that arrive while loading wait
        for the load, so an update newer than the loaded snapshot is never overwritten."""
        self._subscription = await self._bus.subscribe(CHANNEL, self._on_message)
        async with self._pool.acquire() as conn:
            rows = await store.index_rows(conn)
        for row in rows:
            self.apply(row.user_id, row)
        self._loaded.set()
        log.info("contractor index loaded", extra={"contractors": len(self._entries)})

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.close()
            self._subscription = None

    async def invalidate(self, contractor_id: str) -> None:
        """Tell every node (this one included) to re-read this contractor's profile."""
        await self._bus.publish(CHANNEL, contractor_id.encode())

    async def _on_message(self, message: bytes) -> None:
        await self._loaded.wait()
        contractor_id = message.decode()
        async with self._pool.acquire() as conn:
            row = await store.index_row(conn, contractor_id)
        self.apply(contractor_id, row)

    def apply(self, contractor_id: str, row: IndexRow | None) -> None:
        """Put this node's entry in line with ``row`` (None: forget the contractor)."""
        if row is None:
            self._index.remove(contractor_id)
            self._entries.pop(contractor_id, None)
            return
        try:
            area = parse_service_area(row.service_area)
        except GeoValidationError:
            # Only validated areas are stored; a row that does not parse is left out
            # rather than taking the node's start down.
            log.exception("stored service area does not parse", extra={"user_id": row.user_id})
            self._index.remove(contractor_id)
            self._entries.pop(contractor_id, None)
            return
        base = None
        if row.base_lat is not None and row.base_lng is not None:
            base = Position(row.base_lat, row.base_lng)
        self._index.upsert(contractor_id, frozenset(row.trades), area, row.available)
        self._entries[contractor_id] = _Entry(area, base, row.rating, row.verified)

    def rank(self, lat: float, lng: float, trade: str, limit: int) -> list[Match]:
        """The best ``limit`` available contractors of ``trade`` covering the point."""
        candidates = []
        for contractor_id in self._index.query(lat, lng, trade):
            entry = self._entries.get(contractor_id)
            if entry is None:
                continue
            live = None
            try:
                known = self._live_position(contractor_id)
            except Exception:  # a tracking failure must not break matching
                log.exception("live position lookup failed", extra={"user_id": contractor_id})
                known = None
            if known is not None:
                live = Position(known[0], known[1])
            position = candidate_position(live, entry.base, entry.area)
            candidates.append(Candidate(contractor_id, position, entry.rating, entry.verified))
        return rank_contractors(Position(lat, lng), candidates, limit)
