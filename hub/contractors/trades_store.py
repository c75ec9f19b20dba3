"""Trade categories."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg


@dataclass(frozen=True, slots=True)
class Trade:
    slug: str
    name: str


async def list_trades(conn: asyncpg.Connection) -> list[Trade]:
    rows = await conn.fetch("SELECT slug, name FROM trades ORDER BY sort_order, slug")
    return [Trade(r["slug"], r["name"]) for r in rows]


async def upsert_trades(conn: asyncpg.Connection, trades: list[tuple[str, str]]) -> int:
    """Insert missing trades (existing ones are left as they are); return how many were new."""
    result = await conn.executemany(
        """
        INSERT INTO trades (slug, name, sort_order) VALUES ($1, $2, $3)
        ON CONFLICT (slug) DO NOTHING
        """,
        [(slug, name, i) for i, (slug, name) in enumerate(trades)],
    )
    del result
    count = await conn.fetchval("SELECT count(*) FROM trades")
    return int(count)


async def existing_slugs(conn: asyncpg.Connection, slugs: list[str]) -> set[str]:
    """The subset of ``slugs`` that are known trades."""
    rows = await conn.fetch("SELECT slug FROM trades WHERE slug = any($1::text[])", slugs)
    return {r["slug"] for r in rows}
