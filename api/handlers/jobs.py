"""The /jobs routes: post, list, read, matches, applications, accept, status."""

from __future__ import annotations

from aiohttp import web

from api.http import caller, json_response, query_int, read_json
from api.keys import JOBS
from api.schemas import ApplicationBody, JobBody, JobStatusBody
from hub.core.errors import field_error
from hub.jobs.actions import NewJob

_FLAGS = {"true": True, "1": True, "false": False, "0": False}


async def create_job(request: web.Request) -> web.Response:
    who = caller(request, "customer")
    body = await read_json(request, JobBody)
    new = NewJob(
        trade=body.trade,
        title=body.title,
        description=body.description,
        location={"lat": body.location.lat, "lng": body.location.lng},
        address=body.address,
        budget_cents=body.budget_cents,
        currency=body.currency,
        scheduled_for=body.scheduled_for,
    )
    job = await request.app[JOBS].create(who.user_id, who.role, new)
    return json_response(job.public(), status=201)


async def list_jobs(request: web.Request) -> web.Response:
    who = caller(request)
    raw_offered = request.query.get("offered", "false").lower()
    if raw_offered not in _FLAGS:
        raise field_error("offered", "expected true or false")
    limit = query_int(request, "limit", 20, 1, 100)
    page = await request.app[JOBS].listing(
        who.user_id, who.role, _FLAGS[raw_offered], request.query.get("cursor"), limit
    )
    return json_response(
        {"items": [j.public() for j in page.items], "next_cursor": page.next_cursor}
    )


async def get_job(request: web.Request) -> web.Response:
    who = caller(request)
    job = await request.app[JOBS].get(request.match_info["id"], who.user_id, who.role)
    return json_response(job.public())


async def job_matches(request: web.Request) -> web.Response:
    who = caller(request)
    limit = query_int(request, "limit", 10, 1, 50)
    found = await request.app[JOBS].matches(request.match_info["id"], who.user_id, who.role, limit)
    return json_response(
        [
            {
                "contractor": m.contractor.public(),
                "distance_m": round(m.match.distance_m, 1),
                "eta_s": m.match.eta_s,
                "score": round(m.match.score, 4),
            }
            for m in found
        ]
    )


async def apply(request: web.Request) -> web.Response:
    who = caller(request, "contractor")
    body = await read_json(request, ApplicationBody)
    application = await request.app[JOBS].apply(
        request.match_info["id"], who.user_id, who.role, body.quote_cents, body.message
    )
    return json_response(application.public(), status=201)


async def list_applications(request: web.Request) -> web.Response:
    who = caller(request)
    found = await request.app[JOBS].applications(request.match_info["id"], who.user_id, who.role)
    return json_response([a.public() for a in found])


async def accept_application(request: web.Request) -> web.Response:
    who = caller(request)
    job = await request.app[JOBS].accept(
        request.match_info["id"], request.match_info["app_id"], who.user_id, who.role
    )
    return json_response(job.public())


async def set_status(request: web.Request) -> web.Response:
    who = caller(request)
    body = await read_json(request, JobStatusBody)
    job = await request.app[JOBS].set_status(
        request.match_info["id"], who.user_id, who.role, body.status
    )
    return json_response(job.public())
