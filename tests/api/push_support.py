"""Fixtures and helpers of the push tests: the fake FCM and hubs that push through it."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.fakes.fcm import FakeFcm, start
from tests.support.waiting import eventually

Client = TestClient[Any, Any]


@pytest.fixture
async def fcm(tmp_path: Path) -> AsyncIterator[FakeFcm]:
    fake = FakeFcm()
    server = await start(fake)
    fake.service_account(tmp_path)
    try:
        yield fake
    finally:
        fake.held.set()  # let any request still waiting answer before the server closes
        await server.close()


def push_settings(fcm: FakeFcm, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    """Settings changes that make a hub push through ``fcm``."""
    return {
        "fcm_credentials": tmp_path / "service-account.json",
        "fcm_endpoint": fcm.base_url,
        **extra,
    }


@pytest.fixture
async def hub(make_client: Callable[..., Any], fcm: FakeFcm, tmp_path: Path) -> Client:
    """A hub pushing through the fake FCM."""
    client: Client = await make_client(**push_settings(fcm, tmp_path))
    return client


def device_token() -> str:
    """Something shaped like an FCM registration token."""
    return f"{secrets.token_urlsafe(16)}:APA91b{secrets.token_urlsafe(100)}"


async def add_device(
    client: Client, who: dict[str, Any], platform: str = "android", token: str | None = None
) -> str:
    token = token or device_token()
    resp = await client.post(
        "/api/v1/devices", json={"platform": platform, "token": token}, headers=who["auth"]
    )
    assert resp.status == 201, await resp.text()
    assert await resp.json() == {"token": token, "platform": platform}
    return token


async def say(client: Client, who: dict[str, Any], conversation_id: str, body: str) -> Any:
    resp = await client.post(
        f"/api/v1/conversations/{conversation_id}/messages",
        json={"body": body, "client_msg_id": secrets.token_hex(8)},
        headers=who["auth"],
    )
    assert resp.status == 201, await resp.text()
    return await resp.json()


async def pushes_to(fcm: FakeFcm, token: str, count: int, within: float = 10.0) -> list[Any]:
    """Wait until ``token`` received ``count`` pushes; return them."""
    await eventually(lambda: len(fcm.delivered_to(token)) >= count, within=within)
    return fcm.delivered_to(token)
