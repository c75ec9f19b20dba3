"""POST /auth/register, /auth/login, /auth/refresh, /auth/logout and GET /me."""

from __future__ import annotations

from aiohttp import web

from api.http import caller, json_response, read_json
from api.keys import ACCOUNTS, TWO_FACTOR
from api.logs import request_id_var
from api.middleware import client_ip
from api.schemas import LoginBody, RefreshBody, RegisterBody, TwoFactorCodeBody


async def register(request: web.Request) -> web.Response:
    body = await read_json(request, RegisterBody)
    session = await request.app[ACCOUNTS].register(
        body.email, body.password, body.name.strip(), body.role, body.phone
    )
    return json_response(session.body(), status=201)


async def login(request: web.Request) -> web.Response:
    body = await read_json(request, LoginBody)
    session = await request.app[ACCOUNTS].login(
        body.email, body.password, client_ip(request), body.otp
    )
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


async def two_factor_setup(request: web.Request) -> web.Response:
    who = caller(request)
    setup = await request.app[TWO_FACTOR].setup(who.user_id)
    return json_response({"secret": setup.secret, "otpauth_url": setup.otpauth_url})


async def two_factor_enable(request: web.Request) -> web.Response:
    who = caller(request)
    body = await read_json(request, TwoFactorCodeBody)
    await request.app[TWO_FACTOR].enable(who.user_id, body.code, request_id_var.get())
    return web.Response(status=204)


async def two_factor_disable(request: web.Request) -> web.Response:
    who = caller(request)
    body = await read_json(request, TwoFactorCodeBody)
    await request.app[TWO_FACTOR].disable(who.user_id, body.code, request_id_var.get())
    return web.Response(status=204)
