"""Chat payloads from clients, socket events and REST bodies alike, validated by msgspec.

Bodies are checked here only for type and a generous raw size; their real limit (1 to 4,000
characters after cleaning) is :func:`hub.chat.actions.clean_body`'s.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

ConversationId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
RawBody = Annotated[str, msgspec.Meta(max_length=16_000)]
ClientMsgId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Seq = Annotated[int, msgspec.Meta(ge=0, le=2**53)]


class MessageBody(msgspec.Struct, forbid_unknown_fields=True):
    """POST /conversations/{id}/messages."""

    body: RawBody
    client_msg_id: ClientMsgId


class SendPayload(msgspec.Struct, forbid_unknown_fields=True):
    """``chat:send``."""

    conversation_id: ConversationId
    body: RawBody
    client_msg_id: ClientMsgId


class JoinPayload(msgspec.Struct, forbid_unknown_fields=True):
    """``chat:join``; without ``after_seq``, from the first message."""

    conversation_id: ConversationId
    after_seq: Seq | None = None


class TypingPayload(msgspec.Struct, forbid_unknown_fields=True):
    """``chat:typing``."""

    conversation_id: ConversationId


class ReadPayload(msgspec.Struct, forbid_unknown_fields=True):
    """``chat:read``."""

    conversation_id: ConversationId
    seq: Seq
