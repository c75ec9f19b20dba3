"""Contractor profiles: trades, service area (canonical JSON of geo.areas), availability."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg


@dataclass(frozen=True, slots=True)
class ContractorProfile:
    """A contractor's profile. A contractor who never saved one has the defaults."""

    id: str
    name: str
    trades: tuple[str, ...]
    service_area: dict[str, Any] | None
    available: bool
    base_lat: float | None
    base_lng: float | None
    rating: float
    rating_count: int
    verified: bool
    updated_at: datetime | None

    def public(self) -> dict[str, Any]:
        """The contract's public profile: ``{id, name, trades, rating, verified, available}``."""
        return {
            "id": self.id,
            "name": self.name,
            "trades": list(self.trades),
            "rating": round(self.rating, 2),
            "verified": self.verified,
            "available": self.available,
        }

    def own(self) -> dict[str, Any]:
        """What the contractor sees of their own profile: public plus area, base, time."""
        out = self.public()
        out["service_area"] = self.service_area
        if self.base_lat is not None and self.base_lng is not None:
            out["base"] = {"lat": self.base_lat, "lng": self.base_lng}
        out["rating_count"] = self.rating_count
        out["updated_at"] = self.updated_at
        return out


_SELECT = """
    SELECT u.id, u.name,
           coalesce(p.trades, '{}') AS trades, p.service_area,
           coalesce(p.available, false) AS available, p.base_lat, p.base_lng,
           coalesce(p.rating, 0) AS rating, coalesce(p.rating_count, 0) AS rating_count,
           coalesce(p.verified, false) AS verified, p.updated_at
    FROM users u LEFT JOIN contractor_profiles p ON p.user_id = u.id
"""


def _profile(row: asyncpg.Record) -> ContractorProfile:
    values = dict(row)
    values["trades"] = tuple(values["trades"])
    values["rating"] = float(values["rating"])
    return ContractorProfile(**values)


async def profile_by_id(conn: asyncpg.Connection, user_id: str) -> ContractorProfile | None:
    """The profile of a contractor account; None when the user is not a contractor."""
    row = await conn.fetchrow(f"{_SELECT} WHERE u.id = $1 AND u.role = 'contractor'", user_id)
    return None if row is None else _profile(row)


async def profiles_by_ids(
    conn: asyncpg.Connection, user_ids: Sequence[str]
) -> dict[str, ContractorProfile]:
    rows = await conn.fetch(
        f"{_SELECT} WHERE u.id = any($1::text[]) AND u.role = 'contractor'", list(user_ids)
    )
    return {r["id"]: _profile(r) for r in rows}


async def upsert_profile(
    conn: asyncpg.Connection,
    user_id: str,
    trades: Sequence[str],
    service_area: dict[str, Any],
    available: bool,
    base_lat: float | None,
    base_lng: float | None,
) -> None:
    """Replace the editable part of a profile (rating and verification are kept)."""
    await conn.execute(
        """
        INSERT INTO contractor_profiles
            (user_id, trades, service_area, available, base_lat, base_lng, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, now())
        ON CONFLICT (user_id) DO UPDATE SET
            trades = EXCLUDED.trades, service_area = EXCLUDED.service_area,
            available = EXCLUDED.available, base_lat = EXCLUDED.base_lat,
            base_lng = EXCLUDED.base_lng, updated_at = now()
        """,
        user_id,
        list(trades),
        service_area,
        available,
        base_lat,
        base_lng,
    )


@dataclass(frozen=True, slots=True)
class IndexRow:
    """What matching needs of a profile: the index entry plus ranking inputs."""

    user_id: str
    trades: tuple[str, ...]
    service_area: dict[str, Any]
    available: bool
    base_lat: float | None
    base_lng: float | None
    rating: float
    verified: bool


_INDEX_SELECT = """
    SELECT user_id, trades, service_area, available, base_lat, base_lng, rating, verified
    FROM contractor_profiles WHERE service_area IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = user_id AND u.status = 'suspended')
"""


def _index_row(row: asyncpg.Record) -> IndexRow:
    values = dict(row)
    values["trades"] = tuple(values["trades"])
    values["rating"] = float(values["rating"])
    return IndexRow(**values)


async def index_rows(conn: asyncpg.Connection) -> list[IndexRow]:
    """Every profile with a service area, for building a node's index at start."""
    return [_index_row(r) for r in await conn.fetch(_INDEX_SELECT)]


async def index_row(conn: asyncpg.Connection, user_id: str) -> IndexRow | None:
    row = await conn.fetchrow(f"{_INDEX_SELECT} AND user_id = $1", user_id)
    return None if row is None else _index_row(row)
