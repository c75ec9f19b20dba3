"""Opening conversations (one per job and contractor)."""

from __future__ import annotations

import asyncpg


async def open_conversation(
    conn: asyncpg.Connection,
    conversation_id: str,
    job_id: str,
    customer_id: str,
    contractor_id: str,
) -> str:
    """Open the conversation of a job between its customer and a contractor.

    Idempotent: when the pair already has one for this job, nothing is inserted and the
    existing id is returned; otherwise ``conversation_id`` is used. Both users are made
    members.
    """
    existing = await conn.fetchval(
        """
        INSERT INTO conversations (id, job_id, customer_id, contractor_id)
        VALUES ($1, $2, $3, $4)
        ON CONFLICT (job_id, contractor_id) DO UPDATE SET job_id = EXCLUDED.job_id
        RETURNING id
        """,
        conversation_id,
        job_id,
        customer_id,
        contractor_id,
    )
    conversation = str(existing)
    await conn.execute(
        """
        INSERT INTO conversation_members (conversation_id, user_id)
        VALUES ($1, $2), ($1, $3)
        ON CONFLICT (conversation_id, user_id) DO NOTHING
        """,
        conversation,
        customer_id,
        contractor_id,
    )
    return conversation
