"""Contractor profile actions: save one's own profile, read a public profile."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg

from geo.areas import parse_service_area
from geo.types import GeoValidationError, parse_position
from hub.contractors import store, trades_store
from hub.contractors.store import ContractorProfile
from hub.core.errors import Forbidden, NotFound, field_error
from hub.core.validation import refuse_unknown_keys
from hub.jobs.matching import ContractorMatcher

log = logging.getLogger(__name__)


async def check_trades(conn: asyncpg.Connection, trades: list[str], field: str) -> None:
    """Refuse unknown trade slugs, naming the first one (``trades[2]``, or ``trade``)."""
    known = await trades_store.existing_slugs(conn, trades)
    for i, slug in enumerate(trades):
        if slug not in known:
            name = field if field == "trade" else f"{field}[{i}]"
            raise field_error(name, f"unknown trade {slug[:40]!r}")


def _refuse_unknown_circle_keys(area: dict[str, Any]) -> None:
    # The circle form {center: {lat, lng}, radius_km} is ours: strict like every REST body.
    # GeoJSON keeps its own rule (RFC 7946: foreign members and bbox are allowed); what is
    # neither is left to geo's message naming both forms.
    if "type" in area or not ("center" in area or "radius_km" in area):
        return
    refuse_unknown_keys(area, ("center", "radius_km"), "service_area")
    refuse_unknown_keys(area.get("center"), ("lat", "lng"), "service_area.center")


class Contractors:
    """Profiles; every saved change reaches every node's matching index.

    Args:
        pool: database pool.
        matcher: this node's matcher, updated at once and told to invalidate all nodes.
    """

    def __init__(self, pool: asyncpg.Pool, matcher: ContractorMatcher) -> None:
        self._pool = pool
        self._matcher = matcher

    async def save_profile(
        self,
        user_id: str,
        role: str,
        trades: list[str],
        service_area: dict[str, Any],
        available: bool,
        base: dict[str, float] | None,
    ) -> ContractorProfile:
        """Validate and replace the caller's profile; nothing is stored when invalid.

        Raises:
            Forbidden: the caller is not a contractor (admins have no profile).
            ValidationFailed: naming ``trades[i]``, ``service_area...`` or ``base...``.
        """
        if role != "contractor":
            raise Forbidden("only contractor accounts have a profile")
        _refuse_unknown_circle_keys(service_area)
        try:
            area = parse_service_area(service_area, "service_area")
            position = parse_position(base, "base") if base is not None else None
        except GeoValidationError as exc:
            raise field_error(exc.field, exc.message) from None
        unique = list(dict.fromkeys(trades))
        async with self._pool.acquire() as conn:
            async with conn.transaction():
                await check_trades(conn, unique, "trades")
                await store.upsert_profile(
                    conn,
                    user_id,
                    unique,
                    area.to_json(),
                    available,
                    position.lat if position else None,
                    position.lng if position else None,
                )
            row = await store.index_row(conn, user_id)
            profile = await store.profile_by_id(conn, user_id)
        if profile is None:
            raise NotFound("no such contractor")
        # This node at once (read-your-writes), every node through the bus.
        self._matcher.apply(user_id, row)
        try:
            await self._matcher.invalidate(user_id)
        except Exception:
            log.exception("index invalidation failed", extra={"user_id": user_id})
        return profile

    async def trades(self) -> list[trades_store.Trade]:
        """The trade categories, in their display order."""
        async with self._pool.acquire() as conn:
            return await trades_store.list_trades(conn)

    async def profile(self, contractor_id: str) -> ContractorProfile:
        """A contractor's profile; NotFound for unknown ids and non-contractors."""
        async with self._pool.acquire() as conn:
            profile = await store.profile_by_id(conn, contractor_id)
        if profile is None:
            raise NotFound("no such contractor")
        return profile
