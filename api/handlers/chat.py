"""GET /conversations, GET and POST /conversations/{id}/messages: the REST twins of chat."""

from __future__ import annotations

from aiohttp import web

from api.http import caller, json_response, query_int, read_json
from api.keys import CHAT
from hub.chat.payloads import MessageBody
from hub.realtime import events

MAX_SEQ = 2**53


async def list_conversations(request: web.Request) -> web.Response:
    who = caller(request)
    conversations = await request.app[CHAT].conversations(who.user_id)
    return json_response(
        [
            {
                "id": c.id,
                "job_id": c.job_id,
                "participant_ids": list(c.participant_ids),
                "last_seq": c.last_seq,
                "last_read_seq": c.last_read_seq,
            }
            for c in conversations
        ]
    )


def _optional_seq(request: web.Request, name: str) -> int | None:
    if request.query.get(name, "") == "":
        return None
    return query_int(request, name, 0, 0, MAX_SEQ)


async def list_messages(request: web.Request) -> web.Response:
    who = caller(request)
    after_seq = _optional_seq(request, "after_seq")
    before_seq = _optional_seq(request, "before_seq")
    limit = query_int(request, "limit", 50, 1, 200)
    messages, more = await request.app[CHAT].history(
        who.user_id,
        request.match_info["id"],
        after_seq=after_seq,
        before_seq=before_seq,
        limit=limit,
    )
    return json_response({"items": [events.chat_message(m) for m in messages], "more": more})


async def post_message(request: web.Request) -> web.Response:
    who = caller(request)
    body = await read_json(request, MessageBody)
    message = await request.app[CHAT].post_message(
        who.user_id, request.match_info["id"], body.body, body.client_msg_id
    )
    return json_response(events.chat_message(message), status=201)
