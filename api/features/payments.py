"""Feature context of payments: Stripe, the payment actions, webhooks and the sweeper.

Starts after jobs (it listens to job status changes: capture on completion, release on
cancellation). Without ``STRIPE_SECRET_KEY`` the actions exist and answer ``unavailable``
(payments are not configured), no sweeper runs, and the log says so; the rest of the hub
is unaffected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from api import keys
from api.stripe_provider import StripeProvider
from hub.payments.actions import Payments
from hub.payments.calls import PaymentConfig
from hub.payments.webhooks import Webhooks

log = logging.getLogger(__name__)


async def payments_feature(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    provider = None
    if settings.stripe_secret_key:
        return_url = settings.stripe_connect_return_url or (
            f"{settings.public_url or f'http://localhost:{settings.port}'}/connect/done"
        )
        provider = StripeProvider(
            settings.stripe_secret_key,
            settings.stripe_webhook_secret,
            settings.stripe_api_base,
            return_url,
        )
    payments = Payments(
        app[keys.POOL],
        provider,
        app[keys.NOTIFIER],
        app[keys.OUTBOX],
        PaymentConfig(
            fee_bps=settings.platform_fee_bps,
            hold_renew_after_s=settings.payment_hold_renew_s,
            sweep_interval_s=settings.payment_sweep_s,
        ),
    )
    app[keys.PAYMENTS] = payments
    app[keys.STRIPE_WEBHOOKS] = Webhooks(
        app[keys.POOL], payments, app[keys.NOTIFIER], app[keys.OUTBOX]
    )
    if provider is None:
        log.info("payments: off (no STRIPE_SECRET_KEY): payment endpoints answer unavailable")
        yield
        return
    settlement = payments.settlement
    app[keys.JOB_STATUS].add_listener(settlement.on_job_status)
    sweeper = asyncio.create_task(settlement.run(), name="payment sweeper")
    log.info(
        f"payments: on, Stripe at {settings.stripe_api_base}",
        extra={
            "fee_bps": settings.platform_fee_bps,
            "webhooks": "verified" if settings.stripe_webhook_secret else "refused (no secret)",
        },
    )
    try:
        yield
    finally:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        await settlement.close()
        await provider.close()
