"""Chat actions, shared by the socket events and their REST twins.

A message is stored (committed) first, with a notification for the recipient when they
have no socket on any node (:class:`hub.notifications.outbox.Outbox`, in the same
transaction); then the sender gets its answer, and the fan-out to the participants'
sockets (``Notifier``) runs in a task of its own, so a slow fan-out (the
bus, a congested socket) never holds back the acknowledgement of a stored message. A
client that missed events fetches "after seq N". Outsiders of a conversation are answered
``not_found``, whether it exists or not.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable

import asyncpg

from hub.chat import store
from hub.chat.store import Conversation, Message
from hub.core.errors import NotFound, field_error
from hub.core.ids import new_id
from hub.notifications.outbox import Outbox
from hub.realtime import events
from hub.realtime.notify import Notifier
from hub.trust import flags

log = logging.getLogger(__name__)

MAX_BODY_CHARS = 4000
NO_BOUND = 2**62

# C0 and C1 control characters but tab and newline, and lone surrogates (not text).
_STRIP = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def clean_body(raw: str) -> str:
    """The stored form of a message body: controls stripped, trimmed, 1 to 4,000 characters.

    Bodies are plain text: nothing is interpreted or escaped here; clients render them as
    text.
    """
    body = _STRIP.sub("", raw).strip()
    if not body:
        raise field_error("body", "must not be empty")
    if len(body) > MAX_BODY_CHARS:
        raise field_error("body", f"at most {MAX_BODY_CHARS} characters")
    return body


class Chat:
    """Chat of one node.

    Args:
        pool: the database.
        notifier: the only emitter.
        outbox: writes the offline recipient's notification with the message.
        page_size: most messages a ``chat:join`` answers at once.
        typing_interval_s: at most one forwarded ``chat:typing`` per user and conversation
            in this interval (per node).
        clock: monotonic seconds, for the typing throttle.
        cache_size: conversations whose participants are kept in memory (they never change).
        mask_contacts: the body with contact details hidden, or None when it has none
            (:meth:`hub.trust.masking.ContactMasker.mask`); the masked body is stored while
            the job is not assigned to the conversation's contractor. None: no masking.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        notifier: Notifier,
        outbox: Outbox,
        *,
        page_size: int = 100,
        typing_interval_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        cache_size: int = 50_000,
        mask_contacts: Callable[[str], str | None] | None = None,
    ) -> None:
        self._pool = pool
        self._mask_contacts = mask_contacts
        self._notifier = notifier
        self._outbox = outbox
        self.page_size = page_size
        self._typing_interval = typing_interval_s
        self._clock = clock
        self._cache_size = cache_size
        self._participants: dict[str, tuple[str, str]] = {}
        self._typing: dict[tuple[str, str], float] = {}  # (user, conversation) -> forwarded at
        self._deliveries: set[asyncio.Task[None]] = set()

    async def post_message(
        self,
        sender_id: str,
        conversation_id: str,
        body: str,
        client_msg_id: str,
        *,
        skip_sid: str | None = None,
    ) -> Message:
        """Store a message; once this returns it is committed, and it is on its way to every
        socket of the participants but ``skip_sid`` (the sender's, which has the answer).

        A repeated ``client_msg_id`` of the same sender returns the stored message and
        stores and sends nothing. Before the job is assigned to the conversation's
        contractor, contact details are hidden in what is stored and sent
        (``redacted``), and a flag for review is raised with the message.
        """
        text = clean_body(body)
        # Before the transaction: the check is pure CPU (well under a millisecond), and
        # whether it applies (booked or not) is decided by the insert itself.
        masked = self._mask_contacts(text) if self._mask_contacts is not None else None
        async with self._pool.acquire() as conn:
            async with conn.transaction():
                stored = await store.insert_message(
                    conn, new_id("m_"), conversation_id, sender_id, text, client_msg_id, masked
                )
                if stored is not None:
                    message, participants = stored
                    if message.redacted:
                        await flags.flag_hidden_contacts(
                            conn, sender_id, conversation_id, text, message_id=message.id
                        )
                    # Presence is asked under the conversation's row lock, just before the
                    # commit: whoever has no socket anywhere now gets the push.
                    queued = await self._outbox.add(
                        conn,
                        events.CHAT_MESSAGE,
                        events.chat_message(message),
                        [u for u in participants if u != sender_id],
                    )
            if stored is None:
                existing = await store.sent_message(conn, conversation_id, sender_id, client_msg_id)
                if existing is None:
                    raise NotFound("conversation not found")
                return existing
        self._remember(conversation_id, participants)
        self._notifier.pushes_queued(queued)
        # Tasks start in creation order: one socket's messages fan out in the order sent.
        task = asyncio.create_task(self._deliver(message, participants, skip_sid))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)
        return message

    async def _deliver(
        self, message: Message, participants: tuple[str, str], skip_sid: str | None
    ) -> None:
        try:
            await self._notifier.chat_message(events.chat_message(message), participants, skip_sid)
        except Exception:  # stored and acknowledged: a failed fan-out is caught up on join
            log.exception("chat fan-out failed", extra={"message_id": message.id})

    async def close(self) -> None:
        """Let the fan-outs in flight finish (the node is stopping)."""
        while self._deliveries:
            await asyncio.gather(*self._deliveries)

    async def history(
        self,
        user_id: str,
        conversation_id: str,
        *,
        after_seq: int | None,
        before_seq: int | None,
        limit: int,
    ) -> tuple[list[Message], bool]:
        """Messages in seq order, and whether more exist beyond the page.

        With ``after_seq``: the first ``limit`` after it (and before ``before_seq``), ``more``
        when later ones were cut. Without: the latest ``limit`` before ``before_seq`` (or the
        end), ``more`` when earlier ones were cut.
        """
        await self._check_participant(user_id, conversation_id)
        before = NO_BOUND if before_seq is None else before_seq
        async with self._pool.acquire() as conn:
            if after_seq is not None:
                page = await store.messages_after(
                    conn, conversation_id, after_seq, before, limit + 1
                )
                return page[:limit], len(page) > limit
            page = await store.messages_before(conn, conversation_id, before, limit + 1)
            return page[-limit:], len(page) > limit

    async def join(
        self, user_id: str, conversation_id: str, after_seq: int | None
    ) -> tuple[list[Message], bool]:
        """Every message after ``after_seq`` (from the first when None), one page at a time."""
        return await self.history(
            user_id,
            conversation_id,
            after_seq=after_seq or 0,
            before_seq=None,
            limit=self.page_size,
        )

    async def typing(self, user_id: str, conversation_id: str) -> bool:
        """Forward a typing notice to the other participant; False when throttled."""
        participants = await self._check_participant(user_id, conversation_id)
        now = self._clock()
        key = (user_id, conversation_id)
        last = self._typing.get(key)
        if last is not None and now - last < self._typing_interval:
            return False
        if len(self._typing) >= self._cache_size:
            self._typing = {
                k: t for k, t in self._typing.items() if now - t < self._typing_interval
            }
        self._typing[key] = now
        others = [u for u in participants if u != user_id]
        await self._notifier.chat_typing(conversation_id, user_id, others)
        return True

    async def mark_read(self, user_id: str, conversation_id: str, seq: int) -> None:
        """Move the user's read position forward (never back; capped at the last message)
        and tell the other participant when it moved."""
        participants = await self._check_participant(user_id, conversation_id)
        async with self._pool.acquire() as conn:
            moved_to = await store.advance_read(conn, conversation_id, user_id, seq)
        if moved_to:
            others = [u for u in participants if u != user_id]
            await self._notifier.chat_read(conversation_id, user_id, moved_to, others)

    async def conversations(self, user_id: str) -> list[Conversation]:
        """The user's conversations, most recent activity first."""
        async with self._pool.acquire() as conn:
            return await store.conversations_of(conn, user_id)

    async def _check_participant(self, user_id: str, conversation_id: str) -> tuple[str, str]:
        participants = self._participants.get(conversation_id)
        if participants is None:
            async with self._pool.acquire() as conn:
                participants = await store.participants(conn, conversation_id)
            if participants is None:
                raise NotFound("conversation not found")
            self._remember(conversation_id, participants)
        if user_id not in participants:
            raise NotFound("conversation not found")
        return participants

    def _remember(self, conversation_id: str, participants: tuple[str, str]) -> None:
        if conversation_id in self._participants:
            return
        if len(self._participants) >= self._cache_size:
            del self._participants[next(iter(self._participants))]  # oldest entry
        self._participants[conversation_id] = participants
