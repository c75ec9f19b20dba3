"""Socket events of chat: parse, authorise, call one :class:`hub.chat.actions.Chat` action, answer.

Registered on the gateway by the chat feature context (``api/features/chat.py``).
"""

from __future__ import annotations

from typing import Any

from hub.chat.actions import Chat
from hub.chat.payloads import JoinPayload, ReadPayload, SendPayload, TypingPayload
from hub.core.buckets import TokenBuckets
from hub.core.errors import Forbidden, RateLimited
from hub.core.validation import convert
from hub.realtime import events
from hub.realtime.gateway import EventHandler, Identity, ok


def _user(identity: Identity) -> str:
    if identity.user_id is None:
        raise Forbidden("tracking-link viewers cannot use chat")
    return identity.user_id


class ChatEvents:
    """``chat:send``, ``chat:join``, ``chat:typing``, ``chat:read``.

    Args:
        chat: the actions.
        send_limit: per-socket buckets for ``chat:send`` (a socket lives on one node).
    """

    def __init__(self, chat: Chat, send_limit: TokenBuckets) -> None:
        self._chat = chat
        self._send_limit = send_limit

    def handlers(self) -> dict[str, EventHandler]:
        return {
            "chat:send": self.send,
            "chat:join": self.join,
            "chat:typing": self.typing,
            "chat:read": self.read,
        }

    async def send(self, identity: Identity, data: Any) -> dict[str, Any]:
        user = _user(identity)
        p = convert(data, SendPayload)  # malformed sends cost nothing: answered, not counted
        wait = self._send_limit.take(identity.sid)
        if wait:
            raise RateLimited(
                f"at most {self._send_limit.rate:g} chat:send a second per socket", wait
            )
        message = await self._chat.post_message(
            user, p.conversation_id, p.body, p.client_msg_id, skip_sid=identity.sid
        )
        return ok(message=events.chat_message(message))

    async def join(self, identity: Identity, data: Any) -> dict[str, Any]:
        user = _user(identity)
        p = convert(data, JoinPayload)
        messages, more = await self._chat.join(user, p.conversation_id, p.after_seq)
        return ok(messages=[events.chat_message(m) for m in messages], more=more)

    async def typing(self, identity: Identity, data: Any) -> dict[str, Any]:
        user = _user(identity)
        p = convert(data, TypingPayload)
        await self._chat.typing(user, p.conversation_id)
        return ok()

    async def read(self, identity: Identity, data: Any) -> dict[str, Any]:
        user = _user(identity)
        p = convert(data, ReadPayload)
        await self._chat.mark_read(user, p.conversation_id, p.seq)
        return ok()

    async def forget(self, identity: Identity) -> None:
        """Disconnect hook: the socket's bucket goes with it."""
        self._send_limit.forget(identity.sid)
