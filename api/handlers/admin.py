"""The /admin routes: thin, each authorises the admin then calls one action."""

from __future__ import annotations

from aiohttp import web

from api.http import Caller, caller, json_response, query_int, read_json
from api.keys import ADMIN
from api.logs import request_id_var
from api.schemas import ResolveFlagBody, SuspendBody
from hub.core.errors import field_error


async def require_admin(request: web.Request) -> Caller:
    """The caller, when an admin (with two-factor on, in production); else 403."""
    who = caller(request)
    await request.app[ADMIN].authorize(who.user_id, who.role)
    return who


def _query(request: web.Request, name: str) -> str | None:
    value = request.query.get(name, "").strip()
    return value or None


async def list_users(request: web.Request) -> web.Response:
    await require_admin(request)
    limit = query_int(request, "limit", 50, 1, 200)
    page = await request.app[ADMIN].users(
        _query(request, "q"),
        _query(request, "role"),
        _query(request, "status"),
        _query(request, "cursor"),
        limit,
    )
    return json_response(
        {"items": [u.public() for u in page.items], "next_cursor": page.next_cursor}
    )


async def suspend(request: web.Request) -> web.Response:
    who = await require_admin(request)
    body = await read_json(request, SuspendBody)
    user = await request.app[ADMIN].suspend(
        who.user_id, request.match_info["id"], body.reason.strip(), request_id_var.get()
    )
    return json_response(user.public())


async def unsuspend(request: web.Request) -> web.Response:
    who = await require_admin(request)
    user = await request.app[ADMIN].unsuspend(
        who.user_id, request.match_info["id"], request_id_var.get()
    )
    return json_response(user.public())


async def list_jobs(request: web.Request) -> web.Response:
    await require_admin(request)
    limit = query_int(request, "limit", 50, 1, 200)
    page = await request.app[ADMIN].jobs(
        _query(request, "status"), _query(request, "cursor"), limit
    )
    return json_response(
        {"items": [j.public() for j in page.items], "next_cursor": page.next_cursor}
    )


async def stats(request: web.Request) -> web.Response:
    await require_admin(request)
    return json_response((await request.app[ADMIN].stats()).public())


async def list_flags(request: web.Request) -> web.Response:
    await require_admin(request)
    limit = query_int(request, "limit", 50, 1, 200)
    resolved = _query(request, "resolved")
    if resolved not in (None, "true", "false"):
        raise field_error("resolved", "true or false")
    page = await request.app[ADMIN].flags(
        None if resolved is None else resolved == "true", _query(request, "cursor"), limit
    )
    return json_response(
        {"items": [f.public() for f in page.items], "next_cursor": page.next_cursor}
    )


async def resolve_flag(request: web.Request) -> web.Response:
    who = await require_admin(request)
    # An empty body resolves without a note; a body must be a valid ResolveFlagBody.
    body = await read_json(request, ResolveFlagBody) if request.can_read_body else None
    flag = await request.app[ADMIN].resolve_flag(
        who.user_id,
        request.match_info["id"],
        body.resolution.strip() or None if body and body.resolution else None,
        request_id_var.get(),
    )
    return json_response(flag.public())


async def list_audit(request: web.Request) -> web.Response:
    await require_admin(request)
    limit = query_int(request, "limit", 50, 1, 200)
    page = await request.app[ADMIN].audit(
        _query(request, "cursor"), limit, _query(request, "action")
    )
    return json_response(
        {"items": [e.public() for e in page.items], "next_cursor": page.next_cursor}
    )
