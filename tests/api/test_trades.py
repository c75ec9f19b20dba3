"""GET /trades."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from hub.contractors.trades import TRADES

Client = TestClient[Any, Any]


async def test_trades_are_public_and_in_seed_order(client: Client) -> None:
    resp = await client.get("/api/v1/trades")
    assert resp.status == 200
    body = await resp.json()
    assert body == [{"slug": slug, "name": name} for slug, name in TRADES]
