"""Live tracking over HTTP: the job's track, share links, and the share link's web page."""

from __future__ import annotations

from aiohttp import web

from api.http import caller, json_response
from api.keys import SETTINGS, SHARE_LINKS, TRACK_VIEW
from hub.core.errors import NotFound
from hub.realtime.events import iso_epoch
from hub.tracking.page import asset, render_gone, render_page
from hub.tracking.share import LinkRefused


async def track(request: web.Request) -> web.Response:
    who = caller(request)
    body = await request.app[TRACK_VIEW].track(request.match_info["id"], who.user_id, who.role)
    return json_response(body)


def _base_url(request: web.Request) -> str:
    """PUBLIC_URL when configured (behind a proxy), else where this request came in."""
    public = request.app[SETTINGS].public_url
    return public if public else str(request.url.origin())


async def create_share(request: web.Request) -> web.Response:
    who = caller(request)
    link = await request.app[SHARE_LINKS].create(request.match_info["id"], who.user_id, who.role)
    body = {
        "token": link.token,
        "url": f"{_base_url(request)}/track/{link.token}",
        "expires_at": iso_epoch(link.expires_at),
    }
    return json_response(body, status=201)


async def revoke_shares(request: web.Request) -> web.Response:
    who = caller(request)
    await request.app[SHARE_LINKS].revoke(request.match_info["id"], who.user_id, who.role)
    return web.Response(status=204)


def _html(text: str, status: int) -> web.Response:
    response = web.Response(text=text, status=status, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = "no-store"
    return response


async def page(request: web.Request) -> web.Response:
    """``GET /track/{token}``: the live page, or a plain page saying why the link is dead."""
    try:
        job_id, _ = await request.app[SHARE_LINKS].resolve(request.match_info["token"])
        state = await request.app[TRACK_VIEW].page_state(job_id)
    except LinkRefused as exc:
        if exc.ended:
            return _html(render_gone("This tracking link has ended", _ended(exc.message)), 410)
        return _html(render_gone("Tracking link not found", _unknown()), 404)
    except NotFound:
        return _html(render_gone("Tracking link not found", _unknown()), 404)
    return _html(render_page(state), 200)


def _ended(reason: str) -> str:
    return f"Live tracking is no longer available: {reason}."


def _unknown() -> str:
    return "This link is not valid. Check that it was copied completely."


async def page_asset(request: web.Request) -> web.Response:
    """The page's script, style sheet and Socket.IO client (served by the hub itself)."""
    found = asset(request.match_info["name"])
    if found is None:
        raise NotFound("no such file")
    body, content_type = found
    response = web.Response(body=body, headers={"Content-Type": content_type})
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
