"""POST/DELETE /devices and GET /notifications through REST, with and without FCM: the
contract's shapes and errors, tokens moving between users, tokens going with accounts."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from api import keys
from api.config import ConfigError, Settings
from tests.api.push_support import Client, add_device, device_token, fcm, hub, pushes_to, say
from tests.conftest import register
from tests.fakes.fcm import FakeFcm
from tests.hub.realtime_support import conversation
from tests.support.waiting import eventually

__all__ = ["fcm", "hub"]  # fixtures


def fields_of(body: dict[str, Any]) -> set[str]:
    return set(body["error"]["details"]["fields"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"platform": "android", "token": "short"}, "token"),
        ({"platform": "android", "token": "has spaces in it, not a token"}, "token"),
        ({"platform": "android", "token": "x" * 5000}, "token"),
        ({"platform": "blackberry", "token": device_token()}, "platform"),
        ({"platform": "ios"}, "body"),  # a missing field is named in the message
        ({"platform": "ios", "token": device_token(), "app": "1.2"}, "app"),
        ({"platform": "ios", "token": 12345678901234567}, "token"),
    ],
)
async def test_bad_device_bodies_are_validation_errors(
    client: Client, body: dict[str, Any], field: str
) -> None:
    user = await register(client)
    resp = await client.post("/api/v1/devices", json=body, headers=user["auth"])
    assert resp.status == 400
    answer = await resp.json()
    assert answer["error"]["code"] == "validation_error"
    assert field in fields_of(answer)


async def test_devices_need_a_caller(client: Client) -> None:
    resp = await client.post("/api/v1/devices", json={"platform": "ios", "token": device_token()})
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "unauthorized"
    assert (await client.delete(f"/api/v1/devices/{device_token()}")).status == 401
    assert (await client.get("/api/v1/notifications")).status == 401


async def test_a_token_belongs_to_one_user_and_moves_to_who_registers_it(client: Client) -> None:
    alice, bob = await register(client), await register(client)
    token = await add_device(client, alice, "ios")
    await add_device(client, alice, "ios", token)  # again: harmless
    # Bob may not delete Alice's token, nor an unknown one: both are 404.
    for who, tok in ((bob, token), (alice, device_token())):
        resp = await client.delete(f"/api/v1/devices/{tok}", headers=who["auth"])
        assert resp.status == 404
        assert (await resp.json())["error"]["code"] == "not_found"
    # The device changes hands (Bob logs in on it): it is Bob's now, with its new platform.
    await add_device(client, bob, "android", token)
    resp = await client.delete(f"/api/v1/devices/{token}", headers=alice["auth"])
    assert resp.status == 404
    resp = await client.delete(f"/api/v1/devices/{token}", headers=bob["auth"])
    assert resp.status == 204
    resp = await client.delete(f"/api/v1/devices/{token}", headers=bob["auth"])
    assert resp.status == 404


async def test_a_moved_token_does_not_carry_the_previous_users_pushes(
    hub: Client, fcm: FakeFcm
) -> None:
    pair = await conversation(hub)
    token = await add_device(hub, pair.customer)
    fcm.held.clear()  # FCM slow: the first push is in flight, the second one queued
    await say(hub, pair.contractor, pair.conversation_id, "first")
    await eventually(lambda: fcm.requests_to[token] == 1)
    await say(hub, pair.contractor, pair.conversation_id, "private to the customer")
    other = await register(hub)
    await add_device(hub, other, "android", token)
    async with hub.app[keys.POOL].acquire() as conn:  # only the push in flight is left
        assert await conn.fetchval("SELECT count(*) FROM push_outbox WHERE token = $1", token) == 1
    fcm.held.set()
    # The push in flight had left; the queued one never reaches the new owner. The new
    # owner's own notifications do.
    await pushes_to(fcm, token, 1)
    await say(hub, pair.customer, pair.conversation_id, "to the contractor")
    contractor_token = await add_device(hub, pair.contractor)
    await say(hub, pair.customer, pair.conversation_id, "again")
    await pushes_to(fcm, contractor_token, 1)
    assert [p["notification"]["body"] for p in fcm.delivered_to(token)] == ["first"]


async def test_an_invalid_token_answer_deletes_the_token(hub: Client, fcm: FakeFcm) -> None:
    pair = await conversation(hub)
    token = await add_device(hub, pair.customer)
    fcm.invalid.add(token)
    await say(hub, pair.contractor, pair.conversation_id, "hello?")
    await eventually(lambda: hub.app[keys.PUSH_WORKER].pruned == 1)
    resp = await hub.delete(f"/api/v1/devices/{token}", headers=pair.customer["auth"])
    assert resp.status == 404


async def test_notifications_are_listed_newest_first_a_page_at_a_time(client: Client) -> None:
    pair = await conversation(client)
    for i in range(5):
        await say(client, pair.contractor, pair.conversation_id, f"m{i}")
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        url = "/api/v1/notifications?limit=2" + (f"&cursor={cursor}" if cursor else "")
        resp = await client.get(url, headers=pair.customer["auth"])
        assert resp.status == 200
        page = await resp.json()
        assert len(page["items"]) <= 2
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [n["payload"]["body"] for n in seen] == ["m4", "m3", "m2", "m1", "m0"]
    first = seen[0]
    assert set(first) == {"id", "kind", "payload", "created_at"}
    assert isinstance(first["id"], str) and first["kind"] == "chat:message"
    assert first["created_at"].endswith("Z")
    # The sender has none of them (only the offer of the job, made while offline).
    resp = await client.get("/api/v1/notifications", headers=pair.contractor["auth"])
    assert [n["kind"] for n in (await resp.json())["items"]] == ["job:offer"]
    for bad in ("cursor=nonsense!", "cursor=bjEyYQ", "limit=0", "limit=x"):
        resp = await client.get(f"/api/v1/notifications?{bad}", headers=pair.customer["auth"])
        assert resp.status == 400, bad
        assert (await resp.json())["error"]["code"] == "validation_error"


async def test_without_credentials_notifications_are_stored_and_listed_not_pushed(
    aiohttp_client: Any, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    from api.app import create_app

    with caplog.at_level(logging.INFO, logger="api.features.push"):
        client: Client = await aiohttp_client(create_app(settings))
    assert any("push: off (no FCM_CREDENTIALS)" in r.getMessage() for r in caplog.records)
    assert keys.PUSH_WORKER not in client.app
    pair = await conversation(client)
    token = await add_device(client, pair.customer)
    await say(client, pair.contractor, pair.conversation_id, "stored")
    resp = await client.get("/api/v1/notifications", headers=pair.customer["auth"])
    [item] = (await resp.json())["items"]
    assert item["payload"]["body"] == "stored"
    async with client.app[keys.POOL].acquire() as conn:  # queued for a node that can push
        assert await conn.fetchval("SELECT count(*) FROM push_outbox WHERE token = $1", token) == 1
    # (The device goes, with its queued push: later tests' hubs share this outbox.)
    assert (
        await client.delete(f"/api/v1/devices/{token}", headers=pair.customer["auth"])
    ).status == 204


async def test_the_start_up_line_names_the_fcm_project(
    make_client: Any, fcm: FakeFcm, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.api.push_support import push_settings

    with caplog.at_level(logging.INFO, logger="api.features.push"):
        await make_client(**push_settings(fcm, tmp_path))
    assert any(
        f"push: on, FCM project tradeshub-test at {fcm.base_url}" in r.getMessage()
        for r in caplog.records
    )


async def test_deleting_an_account_deletes_its_tokens(client: Client) -> None:
    user = await register(client)
    token = await add_device(client, user)
    async with client.app[keys.POOL].acquire() as conn:
        await conn.execute("DELETE FROM users WHERE id = $1", user["user"]["id"])
        assert await conn.fetchval("SELECT count(*) FROM devices WHERE token = $1", token) == 0


def test_fcm_settings_are_checked_at_start(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigError, match=r"^FCM_CREDENTIALS: cannot read"):
        Settings.from_env({"FCM_CREDENTIALS": str(missing)})
    not_an_account = tmp_path / "other.json"
    not_an_account.write_text('{"type": "authorized_user"}')
    with pytest.raises(ConfigError, match=r"^FCM_CREDENTIALS: .* not a service-account JSON"):
        Settings.from_env({"FCM_CREDENTIALS": str(not_an_account)})
    with pytest.raises(ConfigError, match=r"^FCM_ENDPOINT"):
        Settings.from_env({"FCM_ENDPOINT": "fcm.example.com"})
    with pytest.raises(ConfigError, match=r"^PUSH_TTL"):
        Settings.from_env({"PUSH_TTL": "soon"})
    defaults = Settings.from_env({})
    assert defaults.fcm_credentials is None
    assert defaults.fcm_endpoint == "https://fcm.googleapis.com"
    assert (defaults.push_ttl_s, defaults.push_rate_per_s, defaults.push_max_attempts) == (
        3600,
        500,
        10,
    )
