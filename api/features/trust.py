"""Feature context of trust and administration: token revocation on every node, the admin
actions, the cross-node socket count.

Starts after jobs and tracking (suspension cancels open jobs through the status service,
takes a contractor out of matching and ends share links). Plugs the node's revocations into
the token codec, so every REST call and socket connect checks them, and disconnects a cut
user's sockets on this node (``auth:revoked`` first, through the Notifier).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from api import keys
from hub.realtime.gateway import Identity
from hub.trust.admin import Admin
from hub.trust.revocations import Revocations


async def trust_feature(app: web.Application) -> AsyncIterator[None]:
    pool = app[keys.POOL]
    gateway = app[keys.GATEWAY]
    notifier = app[keys.NOTIFIER]
    sio = app[keys.SIO]
    settings = app[keys.SETTINGS]

    revocations = Revocations(app[keys.BUS])
    app[keys.REVOCATIONS] = revocations

    async def end_sockets(user_id: str, reason: str) -> None:
        sids = [i.sid for i in list(gateway.identities.values()) if i.user_id == user_id]
        for sid in sids:
            await notifier.auth_revoked(sid, reason)
            await sio.drop(sid)

    revocations.on_cut(end_sockets)
    ending: set[asyncio.Task[None]] = set()

    async def connected(identity: Identity) -> None:
        # A cut that arrived while this socket's token was being checked found no socket to
        # end; the socket is registered by now, so check again and end it once connected.
        uid = identity.user_id
        if uid is not None and revocations.is_revoked(uid, identity.token_gen):
            task = asyncio.create_task(end_late(identity.sid), name="end-revoked-socket")
            ending.add(task)
            task.add_done_callback(ending.discard)

    async def end_late(sid: str) -> None:
        await asyncio.sleep(0)  # let the connect finish first
        await notifier.auth_revoked(sid, "suspended")
        await sio.drop(sid)

    gateway.on_connected(connected)
    await revocations.start(pool)
    app[keys.TOKENS].use_revocations(revocations.is_revoked)

    async with pool.acquire() as conn:
        scope = str(await conn.fetchval("SELECT current_database()"))
    sockets = app[keys.BACKENDS].socket_count(lambda: len(gateway.identities), scope)
    await sockets.start()

    shares = app[keys.SHARE_LINKS]

    async def revoke_shares(job_id: str, admin_id: str) -> int:
        return await shares.revoke(job_id, admin_id, "admin")

    app[keys.ADMIN] = Admin(
        pool,
        revocations,
        app[keys.JOB_STATUS],
        app[keys.MATCHER],
        revoke_shares,
        sockets,
        require_two_factor=settings.production,
    )
    poll = asyncio.create_task(revocations.poll(pool), name="revocations-poll")
    try:
        yield
    finally:
        poll.cancel()
        for task in ending:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poll
        await asyncio.gather(*ending, return_exceptions=True)
        await sockets.close()
        await revocations.close()
