"""Every typed application key, in one place."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import asyncpg
from aiohttp import web

if TYPE_CHECKING:
    from api.backends import Backends, RedisClient
    from api.config import Settings
    from api.metrics import Metrics
    from hub.accounts.actions import Accounts
    from hub.accounts.tokens import TokenCodec
    from hub.chat.actions import Chat
    from hub.contractors.profiles import Contractors
    from hub.core.ratelimit import RateLimiter
    from hub.engine.bus import Bus
    from hub.engine.guard import GuardedServer
    from hub.engine.manager import BusManager
    from hub.jobs.actions import Jobs
    from hub.jobs.matching import ContractorMatcher
    from hub.jobs.status import JobStatusService
    from hub.notifications.devices import Devices
    from hub.notifications.outbox import Outbox
    from hub.notifications.worker import PushWorker
    from hub.payments.actions import Payments
    from hub.payments.webhooks import Webhooks
    from hub.realtime.gateway import Gateway
    from hub.realtime.notify import Notifier
    from hub.realtime.presence import Presence
    from hub.tracking.live_state import LiveState
    from hub.tracking.share import ShareLinks
    from hub.tracking.tracker import Tracker
    from hub.tracking.view import TrackView
    from hub.trust.admin import Admin
    from hub.trust.checks import Checks
    from hub.trust.revocations import Revocations
    from hub.trust.two_factor import TwoFactor

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
POOL: web.AppKey[asyncpg.Pool] = web.AppKey("pool")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
TOKENS: web.AppKey[TokenCodec] = web.AppKey("tokens")
LIMITER: web.AppKey[RateLimiter] = web.AppKey("limiter")
ACCOUNTS: web.AppKey[Accounts] = web.AppKey("accounts")
BACKENDS: web.AppKey[Backends] = web.AppKey("backends")
REDIS: web.AppKey[RedisClient] = web.AppKey("redis")
OPENAPI: web.AppKey[dict[str, object]] = web.AppKey("openapi")
NOTIFIER: web.AppKey[Notifier] = web.AppKey("notifier")
GATEWAY: web.AppKey[Gateway] = web.AppKey("gateway")
SIO: web.AppKey[GuardedServer] = web.AppKey("sio")
MANAGER: web.AppKey[BusManager] = web.AppKey("manager")
BUS: web.AppKey[Bus] = web.AppKey("bus")
PRESENCE: web.AppKey[Presence] = web.AppKey("presence")
CONTRACTORS: web.AppKey[Contractors] = web.AppKey("contractors")
JOBS: web.AppKey[Jobs] = web.AppKey("jobs")
MATCHER: web.AppKey[ContractorMatcher] = web.AppKey("matcher")
JOB_STATUS: web.AppKey[JobStatusService] = web.AppKey("job_status")
CHAT: web.AppKey[Chat] = web.AppKey("chat")
TRACKER: web.AppKey[Tracker] = web.AppKey("tracker")
TRACK_VIEW: web.AppKey[TrackView] = web.AppKey("track_view")
SHARE_LINKS: web.AppKey[ShareLinks] = web.AppKey("share_links")
LIVE_STATE: web.AppKey[LiveState] = web.AppKey("live_state")
OUTBOX: web.AppKey[Outbox] = web.AppKey("outbox")
DEVICES: web.AppKey[Devices] = web.AppKey("devices")
PUSH_WORKER: web.AppKey[PushWorker] = web.AppKey("push_worker")  # only with FCM credentials
PAYMENTS: web.AppKey[Payments] = web.AppKey("payments")
STRIPE_WEBHOOKS: web.AppKey[Webhooks] = web.AppKey("stripe_webhooks")
CHECKS: web.AppKey[Checks] = web.AppKey("checks")  # verification, background checks
ADMIN: web.AppKey[Admin] = web.AppKey("admin")
TWO_FACTOR: web.AppKey[TwoFactor] = web.AppKey("two_factor")
REVOCATIONS: web.AppKey[Revocations] = web.AppKey("revocations")
# Two-factor sign-in's clock (seconds since the epoch); unset means time.time. Tests set it to
# step through TOTP periods.
TWO_FACTOR_CLOCK: web.AppKey[Callable[[], float]] = web.AppKey("two_factor_clock")
# Live tracking's server clock (seconds since the epoch); unset means time.time. Tests set it
# on the app before it starts, to move time for the noise filter and the live state.
TRACKING_CLOCK: web.AppKey[Callable[[], float]] = web.AppKey("tracking_clock")
