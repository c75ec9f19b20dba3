"""FCM behind :class:`hub.notifications.push.PushSender`, through firebase-admin 7.7.

The only module that touches firebase-admin. The library is used as it ships (its async
``messaging.send_each_async``, its message encoder and its error mapping) with two
deliberate adjustments, each to a private attribute of ``messaging._MessagingService`` read
in firebase-admin 7.7 (pinned in pyproject; ``tests/api/test_fcm_adapter.py`` fails when
one moves):

* **Endpoint.** The library has no endpoint setting: ``_MessagingService.__init__`` formats
  the class constant ``FCM_URL`` (``https://fcm.googleapis.com/v1/projects/{0}/messages:send``)
  into the instance's ``_fcm_url``. We set that *instance* attribute from ``FCM_ENDPOINT``,
  so the class (shared by every app in the process) is never changed.
* **Our own HTTP client: no retries, no blocking token refresh.** ``_async_client`` is
  replaced by the library's own ``HttpxAsyncClient``, built with ``HttpxRetry(max_retries=0)``
  and without a credential. The library's client retries 500 and 503 four times without
  honouring Retry-After while the outbox rows' transaction is open (the worker owns retries:
  backoff, jitter, Retry-After, bounded attempts); and its auth flow refreshes the access
  token with a synchronous ``requests`` call inside the event loop, when the token expires
  and again on every 401 answer (FCM answers 401 for an APNs credential problem too). We
  refresh the token in a thread when it is missing or within five minutes of expiry, and
  set it as the client's Authorization header. The token endpoint is the service account's
  ``token_uri`` (google-auth reads it from the JSON), so a local fake can play Google.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import email.utils
import hashlib
import itertools
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import firebase_admin
from firebase_admin import _http_client, credentials, exceptions, messaging
from firebase_admin._retry import HttpxRetry
from google.auth.transport.requests import Request as AuthRequest

from hub.notifications.push import Outcome, Push, Result

log = logging.getLogger(__name__)

GOOGLE_FCM_ENDPOINT = "https://fcm.googleapis.com"
# What the adjustments above were written against (tests/api/test_fcm_adapter.py).
FIREBASE_ADMIN_MINOR = "7.7"
LIBRARY_FCM_URL = "https://fcm.googleapis.com/v1/projects/{0}/messages:send"
SEND_PATH = "/v1/projects/{0}/messages:send"
MAX_BATCH = 20  # requests in flight at once: httpx keeps 20 connections alive
TOKEN_MARGIN = dt.timedelta(minutes=5)  # google-auth refreshes inside the loop at 3m45s

_names = itertools.count()


def fcm_url(endpoint: str, project_id: str) -> str:
    """The HTTP v1 send URL of ``project_id`` at ``endpoint`` (no trailing slash)."""
    return endpoint.rstrip("/") + SEND_PATH.format(project_id)


class FcmSender:
    """Sends pushes through FCM HTTP v1 (one message per device).

    Build with :meth:`create` (reading the credentials is file I/O, done in a thread).

    Args:
        app: the firebase-admin app of this hub instance (its own name: no globals).
        ttl_s: how long FCM keeps an undelivered push.
    """

    def __init__(self, app: firebase_admin.App, ttl_s: float) -> None:
        self._app = app
        self._ttl_s = ttl_s
        self._credential = app.credential.get_credential()
        self._refreshing = asyncio.Lock()
        self._stale = True  # the client has no (valid) Authorization header yet

    @classmethod
    async def create(
        cls, credentials_path: Path, endpoint: str, ttl_s: float, timeout_s: float = 10.0
    ) -> FcmSender:
        """Load the service account, and point the messaging service at ``endpoint``."""

        def load() -> firebase_admin.App:
            certificate = credentials.Certificate(str(credentials_path))
            return firebase_admin.initialize_app(
                certificate, {"httpTimeout": timeout_s}, name=f"tradeshub-fcm-{next(_names)}"
            )

        app = await asyncio.to_thread(load)
        service = messaging._get_messaging_service(app)
        service._fcm_url = fcm_url(endpoint, app.project_id)
        library_client = service._async_client
        service._async_client = _http_client.HttpxAsyncClient(
            timeout=timeout_s, retry_config=HttpxRetry(max_retries=0)
        )
        await library_client.aclose()
        return cls(app, ttl_s)

    @property
    def project_id(self) -> str:
        return str(self._app.project_id)

    async def close(self) -> None:
        service = messaging._get_messaging_service(self._app)
        await service._async_client.aclose()
        # delete_app closes services with asyncio.run(), which cannot run inside this loop;
        # the client is closed already, so its close there finds nothing left to do.
        await asyncio.to_thread(firebase_admin.delete_app, self._app)

    async def send(self, pushes: list[Push]) -> list[Result]:
        if not pushes:
            return []
        try:
            await self._fresh_token()
        except Exception as exc:  # the token endpoint is down: the service is, for us
            log.warning("FCM access token refresh failed", extra={"error": repr(exc)})
            return [Result(Outcome.RETRY, f"token refresh: {exc!r}")] * len(pushes)
        expires = time.time() + self._ttl_s
        results: list[Result] = []
        # One HTTP v1 request per device, concurrently (the library gathers them).
        for start in range(0, len(pushes), MAX_BATCH):
            chunk = pushes[start : start + MAX_BATCH]
            batch = await messaging.send_each_async(
                [self._message(p, expires) for p in chunk], app=self._app
            )
            results.extend(
                Result(Outcome.SENT) if r.success else classify(r.exception)
                for r in batch.responses
            )
            if any(
                isinstance(r.exception, exceptions.UnauthenticatedError) for r in batch.responses
            ):
                self._stale = True  # our access token was refused: a new one next time
        return results

    async def _fresh_token(self) -> None:
        if not self._stale and _valid_for(self._credential, TOKEN_MARGIN):
            return
        async with self._refreshing:
            if self._stale or not _valid_for(self._credential, TOKEN_MARGIN):
                await asyncio.to_thread(self._credential.refresh, AuthRequest())
                client = messaging._get_messaging_service(self._app)._async_client
                client.async_client.headers["Authorization"] = f"Bearer {self._credential.token}"
                self._stale = False

    def _message(self, push: Push, expires: float) -> messaging.Message:
        content = push.content
        key = content.collapse_key
        high = content.high_priority
        with warnings.catch_warnings():
            # 7.7 deprecates ``token`` for ``fid`` (Firebase installation IDs); the apps
            # register FCM registration tokens, which HTTP v1 takes as ``message.token``.
            warnings.simplefilter("ignore", DeprecationWarning)
            message = messaging.Message(token=push.token)
        message.notification = messaging.Notification(title=content.title, body=content.body)
        message.data = content.data
        message.android = messaging.AndroidConfig(
            collapse_key=key,
            priority="high" if high else "normal",
            ttl=dt.timedelta(seconds=self._ttl_s),
        )
        message.apns = messaging.APNSConfig(
            headers={
                "apns-priority": "10" if high else "5",
                "apns-collapse-id": key[:64],
                "apns-expiration": str(int(expires)),
                "apns-push-type": "alert",
            },
            payload=messaging.APNSPayload(aps=messaging.Aps(sound="default", thread_id=key)),
        )
        message.webpush = messaging.WebpushConfig(
            headers={
                "Urgency": "high" if high else "normal",
                "TTL": str(int(self._ttl_s)),
                "Topic": _web_topic(key),
            }
        )
        return message


def _valid_for(credential: Any, margin: dt.timedelta) -> bool:
    token, expiry = getattr(credential, "token", None), getattr(credential, "expiry", None)
    if not token or expiry is None:
        return False
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)  # google-auth keeps naive UTC
    return bool(expiry - now > margin)


def _web_topic(key: str) -> str:
    """Web Push's Topic header: at most 32 URL-safe base64 characters."""
    digest = hashlib.sha256(key.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:32]


def classify(error: exceptions.FirebaseError | None) -> Result:
    """FCM's documented errors as the worker's outcomes.

    UNREGISTERED (404), SENDER_ID_MISMATCH and INVALID_ARGUMENT about the registration token:
    the token is dead, delete it. UNAVAILABLE (503), INTERNAL (500), QUOTA_EXCEEDED and
    RESOURCE_EXHAUSTED (429), timeouts and transport failures, and our access token refused
    (UNAUTHENTICATED, a new one is fetched): retry later, not before Retry-After. Anything
    else (THIRD_PARTY_AUTH_ERROR: the APNs or web push credentials in the Firebase project;
    permission denied; an invalid message) will not heal by retrying the same push: failed.
    """
    text = str(error) if error is not None else "unknown error"
    if isinstance(error, messaging.ThirdPartyAuthError):  # a 401, but not about our token
        return Result(Outcome.FAIL, text)
    if isinstance(error, messaging.UnregisteredError | messaging.SenderIdMismatchError):
        return Result(Outcome.DROP_TOKEN, text)
    if isinstance(error, exceptions.InvalidArgumentError) and "token" in text.lower():
        return Result(Outcome.DROP_TOKEN, text)
    if isinstance(
        error,
        messaging.QuotaExceededError
        | exceptions.ResourceExhaustedError
        | exceptions.UnavailableError
        | exceptions.InternalError
        | exceptions.DeadlineExceededError
        | exceptions.UnknownError
        | exceptions.UnauthenticatedError,
    ):
        return Result(Outcome.RETRY, text, _retry_after(error))
    return Result(Outcome.FAIL, text)


def _retry_after(error: exceptions.FirebaseError) -> float | None:
    headers = getattr(error.http_response, "headers", None)  # an httpx.Response, or None
    raw = headers.get("Retry-After") if headers is not None else None
    if not raw:
        return None
    if raw.strip().isdigit():
        return float(raw.strip())
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
