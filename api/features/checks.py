"""Feature context of verification and background checks (Checkr).

Starts after jobs (it updates the contractor index). Without ``CHECKR_API_KEY`` manual
verification works, and starting a check or receiving the provider's webhook answers
503 ``unavailable``; the start-up log says which.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from api import keys
from api.checkr import CheckrClient
from hub.trust.checks import Checks

log = logging.getLogger(__name__)


async def checks_feature(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    key = settings.checkr_api_key
    if key is None:
        app[keys.CHECKS] = Checks(app[keys.POOL], app[keys.MATCHER], None, None)
        log.info("background checks: off (no CHECKR_API_KEY): manual verification only")
        yield
        return
    async with aiohttp.ClientSession() as session:
        provider = CheckrClient(session, key, settings.checkr_api_base, settings.checkr_package)
        app[keys.CHECKS] = Checks(app[keys.POOL], app[keys.MATCHER], provider, key)
        log.info(f"background checks: on, Checkr at {settings.checkr_api_base}")
        yield
