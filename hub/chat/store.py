"""Chat storage: messages with a gapless per-conversation seq, read positions, listings.

Each function takes a connection; callers own transactions. Participants of a conversation
are its ``customer_id`` and ``contractor_id`` (fixed when it is opened); read positions live
in ``conversation_members``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    conversation_id: str
    seq: int
    sender_id: str
    body: str
    client_msg_id: str
    created_at: datetime
    redacted: bool = False  # contact details were hidden before booking (hub.trust.masking)


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    job_id: str
    participant_ids: tuple[str, str]  # customer, contractor
    last_seq: int
    last_read_seq: int


_MESSAGE_COLUMNS = "id, conversation_id, seq, sender_id, body, client_msg_id, created_at, redacted"

# One statement, so one round trip and atomic on its own. ``conv`` locks the conversation
# row (FOR UPDATE re-reads the newest last_seq after waiting for a concurrent sender) and
# checks the sender takes part; ``ins`` stores the message with the next seq unless this
# sender already sent this client_msg_id (ON CONFLICT, which also waits for a concurrent
# insert of the same key); ``bump`` moves last_seq only when a row was inserted. Nothing
# inserted means no bump: no gap, no duplicate. ``$6`` is the body with contact details
# masked (NULL when it has none): it is stored instead of ``$4`` unless the job is assigned
# to this conversation's contractor, decided here so no other round trip is needed.
_INSERT = """
WITH conv AS (
    SELECT c.id, c.last_seq + 1 AS seq, c.customer_id, c.contractor_id,
           ($6::text IS NOT NULL AND NOT EXISTS (
               SELECT 1 FROM jobs j WHERE j.id = c.job_id AND j.contractor_id = c.contractor_id
           )) AS hide
    FROM conversations c
    WHERE c.id = $1 AND $3 IN (c.customer_id, c.contractor_id)
    FOR UPDATE
), ins AS (
    INSERT INTO messages (id, conversation_id, seq, sender_id, body, client_msg_id, redacted)
    SELECT $2, conv.id, conv.seq, $3, CASE WHEN conv.hide THEN $6 ELSE $4 END, $5, conv.hide
    FROM conv
    ON CONFLICT (conversation_id, sender_id, client_msg_id) DO NOTHING
    RETURNING seq, created_at, body, redacted
), bump AS (
    UPDATE conversations SET last_seq = ins.seq, last_activity_at = ins.created_at
    FROM ins WHERE conversations.id = $1
)
SELECT ins.seq, ins.created_at, ins.body, ins.redacted, conv.customer_id, conv.contractor_id
FROM ins, conv
"""


async def insert_message(
    conn: asyncpg.Connection,
    message_id: str,
    conversation_id: str,
    sender_id: str,
    body: str,
    client_msg_id: str,
    masked: str | None = None,
) -> tuple[Message, tuple[str, str]] | None:
    """Store a message with the next seq; return it and the participants.

    ``masked`` is ``body`` with its contact details hidden, stored (with ``redacted``)
    instead of ``body`` while the job is not assigned to the conversation's contractor.

    None when nothing was stored: the conversation does not exist, the sender is not in it,
    or this sender already sent ``client_msg_id`` there (see :func:`sent_message`).
    """
    row = await conn.fetchrow(
        _INSERT, conversation_id, message_id, sender_id, body, client_msg_id, masked
    )
    if row is None:
        return None
    message = Message(
        message_id,
        conversation_id,
        row["seq"],
        sender_id,
        row["body"],
        client_msg_id,
        row["created_at"],
        row["redacted"],
    )
    return message, (row["customer_id"], row["contractor_id"])


async def sent_message(
    conn: asyncpg.Connection, conversation_id: str, sender_id: str, client_msg_id: str
) -> Message | None:
    row = await conn.fetchrow(
        f"SELECT {_MESSAGE_COLUMNS} FROM messages"
        " WHERE conversation_id = $1 AND sender_id = $2 AND client_msg_id = $3",
        conversation_id,
        sender_id,
        client_msg_id,
    )
    return Message(*row.values()) if row is not None else None


async def participants(conn: asyncpg.Connection, conversation_id: str) -> tuple[str, str] | None:
    row = await conn.fetchrow(
        "SELECT customer_id, contractor_id FROM conversations WHERE id = $1", conversation_id
    )
    return (row["customer_id"], row["contractor_id"]) if row is not None else None


async def messages_after(
    conn: asyncpg.Connection, conversation_id: str, after_seq: int, before_seq: int, limit: int
) -> list[Message]:
    """Up to ``limit`` messages with after_seq < seq < before_seq, oldest first."""
    rows = await conn.fetch(
        f"SELECT {_MESSAGE_COLUMNS} FROM messages"
        " WHERE conversation_id = $1 AND seq > $2 AND seq < $3 ORDER BY seq LIMIT $4",
        conversation_id,
        after_seq,
        before_seq,
        limit,
    )
    return [Message(*r.values()) for r in rows]


async def messages_before(
    conn: asyncpg.Connection, conversation_id: str, before_seq: int, limit: int
) -> list[Message]:
    """The ``limit`` newest messages with seq < before_seq, oldest first."""
    rows = await conn.fetch(
        f"SELECT {_MESSAGE_COLUMNS} FROM messages"
        " WHERE conversation_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3",
        conversation_id,
        before_seq,
        limit,
    )
    return [Message(*r.values()) for r in reversed(rows)]


async def advance_read(
    conn: asyncpg.Connection, conversation_id: str, user_id: str, seq: int
) -> int | None:
    """Move the user's read position up to ``seq`` (capped at the last message).

    Returns the new position, or None when it did not move (never backwards).
    """
    return await conn.fetchval(  # type: ignore[no-any-return]
        """
        INSERT INTO conversation_members AS m (conversation_id, user_id, last_read_seq)
        SELECT c.id, $2, LEAST($3, c.last_seq) FROM conversations c WHERE c.id = $1
        ON CONFLICT (conversation_id, user_id) DO UPDATE
            SET last_read_seq = EXCLUDED.last_read_seq
            WHERE m.last_read_seq < EXCLUDED.last_read_seq
        RETURNING last_read_seq
        """,
        conversation_id,
        user_id,
        seq,
    )


async def conversations_of(conn: asyncpg.Connection, user_id: str) -> list[Conversation]:
    """The user's conversations, most recent activity first."""
    rows = await conn.fetch(
        """
        SELECT c.id, c.job_id, c.customer_id, c.contractor_id, c.last_seq, m.last_read_seq
        FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id
        WHERE m.user_id = $1
        ORDER BY c.last_activity_at DESC, c.id DESC
        """,
        user_id,
    )
    return [
        Conversation(
            r["id"],
            r["job_id"],
            (r["customer_id"], r["contractor_id"]),
            r["last_seq"],
            r["last_read_seq"],
        )
        for r in rows
    ]


async def partners(conn: asyncpg.Connection, user_id: str) -> list[str]:
    """Everyone who shares a conversation with the user."""
    rows = await conn.fetch(
        """
        SELECT DISTINCT o.user_id
        FROM conversation_members m
        JOIN conversation_members o ON o.conversation_id = m.conversation_id
        WHERE m.user_id = $1 AND o.user_id <> $1
        """,
        user_id,
    )
    return [r["user_id"] for r in rows]
