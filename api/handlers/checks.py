"""Verification and background checks: the admin routes and Checkr's webhook."""

from __future__ import annotations

import logging

from aiohttp import web

from api.handlers.admin import require_admin
from api.http import json_response, read_json
from api.keys import CHECKS
from api.logs import request_id_var
from api.schemas import VerifyBody
from hub.trust.checks import SIGNATURE_HEADER

log = logging.getLogger(__name__)


async def verify(request: web.Request) -> web.Response:
    who = await require_admin(request)
    body = await read_json(request, VerifyBody)
    profile = await request.app[CHECKS].set_verified(
        who.user_id, request.match_info["id"], body.verified, request_id_var.get()
    )
    return json_response(profile.public())


async def background_check(request: web.Request) -> web.Response:
    who = await require_admin(request)
    check = await request.app[CHECKS].start(
        who.user_id, request.match_info["id"], request_id_var.get()
    )
    return json_response(check.public(), status=202)


async def checkr_webhook(request: web.Request) -> web.Response:
    """Public: the signature over the raw body is the authentication."""
    body = await request.read()
    outcome = await request.app[CHECKS].receive(body, request.headers.get(SIGNATURE_HEADER))
    log.info("checkr webhook", extra={"outcome": outcome})
    return json_response({"received": True})
