"""Feature context of trades, contractor profiles and jobs.

Starts after the database: builds this node's contractor index from PostgreSQL,
subscribes it to the bus's invalidations, and stores the actions under their keys.
Live tracking, started later, plugs its positions in with
``app[keys.MATCHER].use_live_positions(...)`` and moves jobs with ``app[keys.JOB_STATUS]``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from api import keys
from hub.contractors.profiles import Contractors
from hub.jobs.actions import Jobs
from hub.jobs.matching import ContractorMatcher
from hub.jobs.status import JobStatusService
from hub.trust.masking import ContactMasker


async def jobs_feature(app: web.Application) -> AsyncIterator[None]:
    pool = app[keys.POOL]
    notifier = app[keys.NOTIFIER]
    matcher = ContractorMatcher(pool, app[keys.BUS])
    await matcher.start()
    outbox = app[keys.OUTBOX]
    statuses = JobStatusService(pool, notifier, outbox)
    app[keys.MATCHER] = matcher
    app[keys.JOB_STATUS] = statuses
    app[keys.CONTRACTORS] = Contractors(pool, matcher)
    app[keys.JOBS] = Jobs(
        pool,
        notifier,
        outbox,
        matcher,
        statuses,
        app[keys.SETTINGS].offer_limit,
        mask_contacts=ContactMasker().mask,  # an application's message, read before booking
    )
    try:
        yield
    finally:
        await matcher.stop()
