"""GET /trades."""

from __future__ import annotations

from aiohttp import web

from api.http import json_response
from api.keys import CONTRACTORS


async def list_trades(request: web.Request) -> web.Response:
    trades = await request.app[CONTRACTORS].trades()
    return json_response([{"slug": t.slug, "name": t.name} for t in trades])
