"""Every typed application key, in one place."""

from __future__ import annotations

from typing import TYPE_CHECKING

import asyncpg
from aiohttp import web

if TYPE_CHECKING:
    from api.config import Settings
    from api.metrics import Metrics
    from hub.auth import TokenCodec
    from hub.ratelimit import RateLimiter
    from api.accounts import Accounts

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
POOL: web.AppKey[asyncpg.Pool] = web.AppKey("pool")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
TOKENS: web.AppKey[TokenCodec] = web.AppKey("tokens")
LIMITER: web.AppKey[RateLimiter] = web.AppKey("limiter")
ACCOUNTS: web.AppKey[Accounts] = web.AppKey("accounts")
REDIS: web.AppKey[object] = web.AppKey("redis")
OPENAPI: web.AppKey[dict[str, object]] = web.AppKey("openapi")
