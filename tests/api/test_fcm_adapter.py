"""api/fcm.py against the fake FCM, and the firebase-admin internals it relies on.

The pin tests fail when firebase-admin moves what the adapter adjusts (the send URL built
from ``_MessagingService.FCM_URL`` into ``_fcm_url``, the async client, its auth flow):
re-read the library and the adapter's docstring before changing the pin."""

from __future__ import annotations

import email.utils
import inspect
import time
import tomllib
from pathlib import Path

import firebase_admin
from firebase_admin import _http_client, messaging

from api.fcm import FIREBASE_ADMIN_MINOR, LIBRARY_FCM_URL, FcmSender, fcm_url
from hub.notifications.content import render
from hub.notifications.push import Outcome, Push
from tests.fakes.fcm import PROJECT, Failure, FakeFcm, start

ROOT = Path(__file__).resolve().parents[2]


def test_firebase_admin_is_the_minor_the_adapter_was_read_against() -> None:
    assert firebase_admin.__version__.startswith(FIREBASE_ADMIN_MINOR + ".")
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    major, minor = FIREBASE_ADMIN_MINOR.split(".")
    pin = f"firebase-admin>={major}.{minor},<{major}.{int(minor) + 1}"
    assert pin in pyproject["project"]["dependencies"]


def test_the_library_internals_the_adapter_sets_are_where_it_sets_them() -> None:
    service = messaging._MessagingService
    assert service.FCM_URL == LIBRARY_FCM_URL
    init = inspect.getsource(service.__init__)
    assert "self._fcm_url = _MessagingService.FCM_URL.format(project_id)" in init
    assert "self._async_client = _http_client.HttpxAsyncClient(" in init
    send = inspect.getsource(service.send_each_async)
    assert "url=self._fcm_url" in send and "self._async_client.request(" in send
    client = inspect.signature(_http_client.HttpxAsyncClient)
    assert {"credential", "timeout", "retry_config"} <= set(client.parameters)
    assert isinstance(_http_client.HttpxAsyncClient.async_client, property)


async def test_the_adapter_points_the_library_at_the_endpoint_without_retries(
    tmp_path: Path,
) -> None:
    fake = FakeFcm()
    server = await start(fake)
    sender = await FcmSender.create(fake.service_account(tmp_path), fake.base_url + "/", 60)
    try:
        service = messaging._get_messaging_service(sender._app)
        assert service._fcm_url == fcm_url(fake.base_url, PROJECT)
        assert service._fcm_url == f"{fake.base_url}/v1/projects/{PROJECT}/messages:send"
        assert messaging._MessagingService.FCM_URL == LIBRARY_FCM_URL  # the class untouched
        assert service._async_client._retry_config.retries_left == 0
        fake.script["t" * 40].append(Failure(500, "INTERNAL"))
        [result] = await sender.send([push("t" * 40)])
        assert result.outcome is Outcome.RETRY and fake.requests == 1  # not retried inside
    finally:
        await sender.close()
        await server.close()


def push(token: str) -> Push:
    return Push(token, "android", render("job:status", {"job_id": "j1", "status": "arrived"}))


async def test_fcm_answers_become_outcomes(tmp_path: Path) -> None:
    fake = FakeFcm()
    server = await start(fake)
    sender = await FcmSender.create(fake.service_account(tmp_path), fake.base_url, 60)
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    cases = {
        "ok-" * 10: None,
        "unregistered" * 3: "dead",
        "invalid-token" * 3: "invalid",
        "retry-after-seconds" * 2: Failure(503, "UNAVAILABLE", "7"),
        "retry-after-date" * 2: Failure(503, "UNAVAILABLE", when),
        "quota-exceeded" * 3: Failure(429, "QUOTA_EXCEEDED"),
        "apns-auth-error" * 3: Failure(401, "THIRD_PARTY_AUTH_ERROR"),
        "token-refused" * 3: Failure(401, None),
        "sender-mismatch" * 3: Failure(403, "SENDER_ID_MISMATCH"),
    }
    for token, case in cases.items():
        if case == "dead":
            fake.unregistered.add(token)
        elif case == "invalid":
            fake.invalid.add(token)
        elif isinstance(case, Failure):
            fake.script[token].append(case)
    try:
        results = dict(zip(cases, await sender.send([push(t) for t in cases]), strict=True))
    finally:
        await sender.close()
        await server.close()
    outcome = {t: r.outcome for t, r in results.items()}
    assert list(outcome.values()) == [
        Outcome.SENT,
        Outcome.DROP_TOKEN,
        Outcome.DROP_TOKEN,
        Outcome.RETRY,
        Outcome.RETRY,
        Outcome.RETRY,
        Outcome.FAIL,
        Outcome.RETRY,
        Outcome.DROP_TOKEN,
    ]
    after = [r.retry_after_s for r in results.values()]
    assert after[3] == 7.0
    assert after[4] is not None and 25 < after[4] <= 30
    assert after[5] is None
    assert fake.tokens_issued == 1  # fetched once, off the loop (a 401 refreshes nothing)
