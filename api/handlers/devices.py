"""POST /devices, DELETE /devices/{token}, GET /notifications."""

from __future__ import annotations

from aiohttp import web

from api.http import caller, json_response, query_int, read_json
from api.keys import DEVICES
from api.schemas import DeviceBody


async def register_device(request: web.Request) -> web.Response:
    who = caller(request)
    body = await read_json(request, DeviceBody)
    await request.app[DEVICES].register(who.user_id, body.platform, body.token)
    return json_response({"token": body.token, "platform": body.platform}, status=201)


async def delete_device(request: web.Request) -> web.Response:
    who = caller(request)
    await request.app[DEVICES].unregister(who.user_id, request.match_info["token"])
    return web.Response(status=204)


async def list_notifications(request: web.Request) -> web.Response:
    who = caller(request)
    limit = query_int(request, "limit", 20, 1, 100)
    page = await request.app[DEVICES].inbox(who.user_id, request.query.get("cursor"), limit)
    return json_response(
        {
            "items": [
                {"id": str(n.id), "kind": n.kind, "payload": n.payload, "created_at": n.created_at}
                for n in page.items
            ],
            "next_cursor": page.next_cursor,
        }
    )
