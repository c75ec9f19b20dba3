"""Error reporting to Sentry (or any server speaking its protocol), when ``SENTRY_DSN`` is set.

Off by default. With a DSN, every log record at ERROR or above (the error middleware logs
each unexpected exception with its traceback there) becomes an event, and aiohttp's
requests carry their route. No personal data is sent (``send_default_pii`` off), and
request bodies are left out: they may hold passwords or tokens.
"""

from __future__ import annotations

from api.config import Settings


def start_error_reporting(settings: Settings, release: str) -> str:
    """Initialise the Sentry client once, at start-up; return what the start-up log says."""
    if not settings.sentry_dsn:
        return "off (SENTRY_DSN not set)"
    try:
        import sentry_sdk
        from sentry_sdk.integrations.aiohttp import AioHttpIntegration
    except ImportError:
        return "off: SENTRY_DSN is set but sentry-sdk is not installed (tradeshub[sentry])"
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.app_env,
        release=f"tradeshub@{release}",
        send_default_pii=False,
        max_request_body_size="never",
        traces_sample_rate=0.0,
        integrations=[AioHttpIntegration()],
    )
    return "Sentry"
