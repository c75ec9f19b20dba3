"""Chat payloads from clients, socket events and REST bodies alike, validated by msgspec.

Socket payloads ignore fields they do not declare and REST bodies refuse them
(:mod:`hub.core.validation`). Bodies are checked here only for type and a generous raw size;
their real limit (1 to 4,000 characters after cleaning) is
:func:`hub.chat.actions.clean_body`'s.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from hub.core.validation import RequestBody, SocketPayload

ConversationId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
RawBody = Annotated[str, msgspec.Meta(max_length=16_000)]
ClientMsgId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Seq = Annotated[int, msgspec.Meta(ge=0, le=2**53)]


class MessageBody(RequestBody):
    """POST /conversations/{id}/messages."""

    body: RawBody
    client_msg_id: ClientMsgId


class SendPayload(SocketPayload):
    """``chat:send``."""

    conversation_id: ConversationId
    body: RawBody
    client_msg_id: ClientMsgId


class JoinPayload(SocketPayload):
    """``chat:join``; without ``after_seq``, from the first message."""

    conversation_id: ConversationId
    after_seq: Seq | None = None


class TypingPayload(SocketPayload):
    """``chat:typing``."""

    conversation_id: ConversationId


class ReadPayload(SocketPayload):
    """``chat:read``."""

    conversation_id: ConversationId
    seq: Seq
