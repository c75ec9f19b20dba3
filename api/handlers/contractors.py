"""PUT /contractors/me and GET /contractors/{id}."""

from __future__ import annotations

from aiohttp import web

from api.http import caller, json_response, read_json
from api.keys import CONTRACTORS
from api.schemas import ContractorProfileBody


async def put_me(request: web.Request) -> web.Response:
    who = caller(request, "contractor")
    body = await read_json(request, ContractorProfileBody)
    base = {"lat": body.base.lat, "lng": body.base.lng} if body.base is not None else None
    profile = await request.app[CONTRACTORS].save_profile(
        who.user_id, who.role, body.trades, body.service_area, body.available, base
    )
    return json_response(profile.own())


async def get_profile(request: web.Request) -> web.Response:
    caller(request)
    profile = await request.app[CONTRACTORS].profile(request.match_info["id"])
    return json_response(profile.public())
