"""Feature context of push notifications: device actions, and the push worker with FCM.

Starts after the features that queue pushes (their actions hold the outbox; the worker only
reads the database). Without ``FCM_CREDENTIALS`` there is no worker: notifications are
stored and listed, queued pushes wait (and expire after ``PUSH_TTL``), and the log says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from api import keys
from api.fcm import FcmSender
from hub.notifications.devices import Devices
from hub.notifications.worker import PushWorker, WorkerConfig

log = logging.getLogger(__name__)


async def push_feature(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    pool = app[keys.POOL]
    app[keys.DEVICES] = Devices(pool)
    if settings.fcm_credentials is None:
        log.info("push: off (no FCM_CREDENTIALS): notifications are stored and listed, not pushed")
        yield
        return
    sender = await FcmSender.create(
        settings.fcm_credentials, settings.fcm_endpoint, settings.push_ttl_s
    )
    worker = PushWorker(
        pool,
        sender,
        WorkerConfig(
            rate_per_s=settings.push_rate_per_s,
            max_attempts=settings.push_max_attempts,
            ttl_s=settings.push_ttl_s,
        ),
    )
    app[keys.PUSH_WORKER] = worker
    _export(app, worker)
    app[keys.NOTIFIER].use_push_worker(worker.wake)
    task = asyncio.create_task(worker.run(), name="push worker")
    log.info(
        f"push: on, FCM project {sender.project_id} at {settings.fcm_endpoint}",
        extra={"rate_per_s": settings.push_rate_per_s},
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await sender.close()


def _export(app: web.Application, worker: PushWorker) -> None:
    metrics = app[keys.METRICS]
    metrics.counter("tradeshub_push_sent", "Pushes FCM accepted.", lambda: worker.sent)
    metrics.counter(
        "tradeshub_push_failed",
        "Pushes given up on (attempts used, or an error retrying cannot fix).",
        lambda: worker.failed,
    )
    metrics.counter(
        "tradeshub_push_retried",
        "Pushes rescheduled after a retryable error.",
        lambda: worker.retried,
    )
    metrics.counter(
        "tradeshub_push_tokens_pruned",
        "Device tokens deleted because FCM reported them unregistered or invalid.",
        lambda: worker.pruned,
    )
    metrics.counter(
        "tradeshub_push_collapsed",
        "Queued pushes not sent because a newer one with the same collapse key went instead.",
        lambda: worker.collapsed,
    )
    metrics.counter(
        "tradeshub_push_expired",
        "Queued pushes dropped unsent after PUSH_TTL.",
        lambda: worker.expired,
    )
    metrics.gauge(
        "tradeshub_push_outbox_depth",
        "Pushes queued and not yet sent (due or backing off), cluster-wide, sampled every 5 s.",
        lambda: worker.stats.pending,
    )
    metrics.gauge(
        "tradeshub_push_outbox_oldest_due_seconds",
        "Age of the oldest due push in the outbox (0 when none is due), sampled every 5 s.",
        lambda: worker.stats.oldest_due_age_s,
    )
