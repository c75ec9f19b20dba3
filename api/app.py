"""The composition root: ``create_app(settings)`` builds the whole hub.

It is the only place that knows every concrete class: it picks the in-process or the
Redis implementations once, from the settings, and hands them to the actions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from aiohttp import web

from api import keys
from api.backends import Backends, RedisClient, memory_backends, redis_backends
from api.config import Settings
from api.db import create_pool, database_dsn
from api.errors import error_middleware
from api.features.chat import chat_feature
from api.features.checks import checks_feature
from api.features.jobs import jobs_feature
from api.features.payments import payments_feature
from api.features.push import push_feature
from api.features.realtime import realtime_feature
from api.features.tracking import tracking_feature
from api.features.trust import trust_feature
from api.metrics import Metrics
from api.middleware import (
    SOCKET_PATH,
    rate_limit_middleware,
    request_id_middleware,
    security_middleware,
)
from api.migrate import migrate
from api.openapi import build_openapi
from api.routes import ROUTES, add_routes
from hub.accounts.actions import Accounts, LoginLimits
from hub.accounts.passwords import Passwords
from hub.accounts.tokens import TokenCodec
from hub.engine.guard import GuardedServer
from hub.engine.manager import BusManager, new_node_id
from hub.engine.server import create_sio
from hub.notifications.outbox import Outbox
from hub.realtime.gateway import Gateway
from hub.realtime.notify import Notifier
from hub.realtime.presence import Presence
from hub.trust.two_factor import SecretBox, TwoFactor, derived_key

log = logging.getLogger(__name__)

FeatureContext = Callable[[web.Application], AsyncIterator[None]]
FEATURES: tuple[FeatureContext, ...] = (
    jobs_feature,
    realtime_feature,
    chat_feature,
    tracking_feature,
    push_feature,
    trust_feature,
    payments_feature,
    checks_feature,
)


def package_version() -> str:
    try:
        return version("tradeshub")
    except PackageNotFoundError:
        return "0.0.0"


def _event_counter(metrics: Metrics) -> Callable[[str, str], None]:
    """The gateway's ``on_event`` hook: ``socket_events{event, outcome}`` + 1, each label
    pair's child looked up once (``labels()`` costs more than the increment; it runs for
    every socket event, location points included). The gateway only reports registered
    events (others as ``unknown``), so the cache stays small."""
    children: dict[tuple[str, str], Any] = {}

    def count(event: str, outcome: str) -> None:
        child = children.get((event, outcome))
        if child is None:
            child = children[(event, outcome)] = metrics.socket_events.labels(event, outcome)
        child.inc()

    return count


def create_app(settings: Settings) -> web.Application:
    """Build the aiohttp application serving REST, Socket.IO and operations endpoints."""
    app = web.Application(
        middlewares=[
            request_id_middleware,
            error_middleware,
            security_middleware,
            rate_limit_middleware,
        ],
        client_max_size=settings.max_body_bytes,
    )
    metrics = Metrics()
    tokens = TokenCodec(
        settings.jwt_secret, settings.jwt_access_expiry_s, settings.jwt_refresh_expiry_s
    )
    app[keys.SETTINGS] = settings
    app[keys.METRICS] = metrics
    app[keys.TOKENS] = tokens
    # Memory or Redis, decided here and nowhere else: the bus (and the Socket.IO manager on
    # it), presence, rate limits and the live state.
    node_id = new_node_id()  # in sids, bus channels, presence entries, Redis client names
    backends = (
        redis_backends(
            settings.redis_url,
            settings.redis_cluster,
            node_id,
            on_degraded=lambda down: metrics.fanout_degraded.set(int(down)),
        )
        if settings.redis_url
        else memory_backends()
    )
    app[keys.BACKENDS] = backends
    app[keys.LIMITER] = backends.limiter
    if backends.redis is not None:
        app[keys.REDIS] = backends.redis
        app.cleanup_ctx.append(_close_redis(backends.redis))
    bus = backends.bus
    manager = BusManager(bus, node_id=node_id)
    app.cleanup_ctx.append(_fanout(backends, manager))
    metrics.gauge(
        "tradeshub_fanout_channels",
        "Bus channels this node subscribes to (its rooms with local members, and its own).",
        lambda: len(bus.channels()),
    )
    app[keys.OPENAPI] = build_openapi(ROUTES, package_version())

    sio = create_sio(manager, settings.cors_origins, settings.socket_max_frame_bytes)
    gateway = Gateway(
        tokens,
        settings.cors_origins,
        on_event=_event_counter(metrics),
        on_connect_outcome=lambda outcome: metrics.socket_connects.labels(outcome).inc(),
    )
    sio.register_namespace(gateway)
    sio.attach(app, socketio_path=SOCKET_PATH.strip("/"))
    metrics.gauge(
        "tradeshub_sockets_open",
        "Socket.IO connections on this node.",
        lambda: len(gateway.identities),
    )

    add_routes(app, ROUTES)
    app[keys.BUS] = bus
    app[keys.MANAGER] = manager
    app[keys.GATEWAY] = gateway
    app[keys.SIO] = sio
    app.cleanup_ctx.append(_database(settings, metrics, sio, backends.presence))
    # Features: each context reads what it needs from the app keys set above (the pool,
    # notifier, bus, gateway), stores its actions under its own key, registers its socket
    # handlers, and owns its background tasks. They start in this order, stop in reverse.
    for feature in FEATURES:
        app.cleanup_ctx.append(feature)

    async def close_sockets(app: web.Application) -> None:
        # Tell every socket why it goes away, then close them before the pools close.
        notifier = app.get(keys.NOTIFIER)  # absent only when the database never started
        if notifier is not None:
            await notifier.server_closing("server shutting down, reconnect")
        # engine.io's shutdown() only stops its service task; close each socket ourselves so
        # clients reconnect at once (to another node) instead of timing out.
        log.info("shutdown: closing sockets", extra={"sockets": len(sio.eio.sockets)})
        for sid in list(gateway.identities):
            await sio.disconnect(sid)
        if sio.eio.sockets:  # engine sockets that never completed the Socket.IO connect
            await sio.eio.disconnect()
        await sio.shutdown()
        log.info("shutdown: sockets closed")

    app.on_shutdown.append(close_sockets)
    return app


def _fanout(backends: Backends, manager: BusManager) -> FeatureContext:
    """Started before the database and the features (which subscribe), stopped after them."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        await backends.bus.start()  # returns at once; an unreachable Redis shows as degraded
        await backends.presence.start()
        await manager.start()
        log.info(f"fan-out: {backends.description}", extra={"node_id": manager.node_id})
        yield
        await manager.close()
        await backends.presence.close()
        await backends.bus.close()

    return ctx


def _close_redis(redis: RedisClient) -> FeatureContext:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        yield
        await redis.aclose()

    return ctx


def _database(
    settings: Settings, metrics: Metrics, sio: GuardedServer, presence: Presence
) -> FeatureContext:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        async with database_dsn(settings.database_url, settings.data_dir) as dsn:
            async for _ in _with_pool(app, settings, metrics, dsn, sio, presence):
                yield

    return ctx


async def _with_pool(
    app: web.Application,
    settings: Settings,
    metrics: Metrics,
    dsn: str,
    sio: GuardedServer,
    presence: Presence,
) -> AsyncIterator[None]:
    pool = await create_pool(dsn, settings.db_pool_min, settings.db_pool_max)
    try:
        if settings.migrate_on_start:
            async with pool.acquire() as conn:
                applied = await migrate(conn)
            if applied:
                log.info("migrations applied", extra={"applied": applied})
        app[keys.POOL] = pool
        metrics.gauge("tradeshub_db_pool_size", "Open database connections.", pool.get_size)
        metrics.gauge("tradeshub_db_pool_idle", "Idle database connections.", pool.get_idle_size)
        passwords = Passwords(settings.argon2_time_cost, settings.argon2_memory_kib)
        totp_keys = settings.totp_encryption_keys
        if not totp_keys and not settings.production:
            totp_keys = (derived_key(settings.jwt_secret),)  # development: works as is
        if not totp_keys:
            log.warning("two-factor sign-in unavailable: TOTP_ENCRYPTION_KEYS is not set")
        two_factor = TwoFactor(
            pool,
            SecretBox(totp_keys),
            settings.totp_issuer,
            app.get(keys.TWO_FACTOR_CLOCK, time.time),
        )
        app[keys.TWO_FACTOR] = two_factor
        app[keys.NOTIFIER] = Notifier(sio)
        app[keys.OUTBOX] = Outbox(presence)
        app[keys.ACCOUNTS] = Accounts(
            pool,
            passwords,
            app[keys.TOKENS],
            app[keys.LIMITER],
            LoginLimits(
                settings.login_max_failures,
                settings.login_ip_max_failures,
                settings.login_lock_window_s,
            ),
            two_factor,
        )
        app[keys.PRESENCE] = presence
        yield
    finally:
        log.info("shutdown: closing the database pool")
        await pool.close()
