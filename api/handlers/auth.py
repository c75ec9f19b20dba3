"""POST /auth/register, /auth/login, /auth/refresh, /auth/logout and GET /me."""

from __future__ import annotations

from aiohttp import web

from api.http import caller, json_response, read_json
from api.keys import ACCOUNTS
from api.middleware import client_ip
from api.schemas import LoginBody, RefreshBody, RegisterBody


async def register(request: web.Request) -> web.Response:
    body = await read_json(request, RegisterBody)
    session = await request.app[ACCOUNTS].register(
        body.email, body.password, body.name.strip(), body.role, body.phone
    )
    return json_response(session.body(), status=201)


async def login(request: web.Request) -> web.Response:
    body = await read_json(request, LoginBody)
    session = await request.app[ACCOUNTS].login(body.email, body.password, client_ip(request))
    return json_response(session.body())


async def refresh(request: web.Request) -> web.Response:
    body = await read_json(request, RefreshBody)
    session = await request.app[ACCOUNTS].refresh(body.refresh_token)
    return json_response(session.body())


async def logout(request: web.Request) -> web.Response:
    who = caller(request)
    body = await read_json(request, RefreshBody)
    await request.app[ACCOUNTS].logout(who.user_id, body.refresh_token)
    return web.Response(status=204)


async def me(request: web.Request) -> web.Response:
    who = caller(request)
    user = await request.app[ACCOUNTS].me(who.user_id)
    return json_response(user.public())
