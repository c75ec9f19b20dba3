"""Two-factor sign-in (TOTP): setup, enable, disable, login with otp, ±1 step, no replay,
secrets encrypted at rest with rotating keys, admins in production, lockouts audited."""

from __future__ import annotations

from typing import Any

import asyncpg
import pyotp
import pytest
from aiohttp.test_utils import TestClient
from cryptography.fernet import Fernet

from api import keys
from api.app import create_app
from api.config import Settings
from tests.api.jobs_support import admin
from tests.conftest import PASSWORD, register

Client = TestClient[Any, Any]
V1 = "/api/v1"
T0 = 1_900_000_020.0  # the start of a 30-second step


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


async def _client(aiohttp_client: Any, settings: Settings, clock: Clock) -> Client:
    app = create_app(settings)
    app[keys.TWO_FACTOR_CLOCK] = clock
    client: Client = await aiohttp_client(app)
    return client


def code_at(secret: str, at: float) -> str:
    return pyotp.TOTP(secret).at(int(at))


async def _login(client: Client, who: dict[str, Any], **extra: Any) -> tuple[int, Any]:
    resp = await client.post(
        f"{V1}/auth/login", json={"email": who["email"], "password": PASSWORD, **extra}
    )
    return resp.status, await resp.json()


async def _enable(client: Client, who: dict[str, Any], clock: Clock) -> str:
    resp = await client.post(f"{V1}/auth/2fa/setup", headers=who["auth"])
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    secret = body["secret"]
    assert body["otpauth_url"].startswith("otpauth://totp/")
    assert "issuer=Tradeshub" in body["otpauth_url"]
    resp = await client.post(
        f"{V1}/auth/2fa/enable", json={"code": code_at(secret, clock.now)}, headers=who["auth"]
    )
    assert resp.status == 204, await resp.text()
    return str(secret)


async def test_enable_login_replay_disable(
    aiohttp_client: Any, settings: Settings, pg_dsn: str
) -> None:
    clock = Clock()
    # Wrong codes count as failed logins: let this one address fail more than 5 times.
    roomy = Settings(**{**settings.__dict__, "login_ip_max_failures": 100})
    client = await _client(aiohttp_client, roomy, clock)
    who = await register(client, "customer")
    resp = await client.post(f"{V1}/auth/2fa/setup", headers=who["auth"])
    secret = (await resp.json())["secret"]
    resp = await client.post(f"{V1}/auth/2fa/enable", json={"code": "000000"}, headers=who["auth"])
    assert resp.status == 400
    assert (await resp.json())["error"]["details"]["fields"] == {"code": "wrong code"}
    # Before enabling, login asks for nothing.
    assert (await _login(client, who))[0] == 200
    resp = await client.post(
        f"{V1}/auth/2fa/enable", json={"code": code_at(secret, clock.now)}, headers=who["auth"]
    )
    assert resp.status == 204

    # The secret is stored encrypted, never in clear.
    conn = await asyncpg.connect(pg_dsn)
    try:
        stored = await conn.fetchval(
            "SELECT totp_secret FROM users WHERE id = $1", who["user"]["id"]
        )
    finally:
        await conn.close()
    assert secret not in stored and stored.startswith("gAAAA")

    status, body = await _login(client, who)
    assert (status, body["error"]["code"]) == (401, "otp_required")
    status, body = await _login(client, who, otp="123456")
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    # The code of the enabling step is used up; the next step's is accepted early (+1).
    status, _ = await _login(client, who, otp=code_at(secret, clock.now))
    assert status == 401
    status, body = await _login(client, who, otp=code_at(secret, clock.now + 30))
    assert status == 200, body
    status, _ = await _login(client, who, otp=code_at(secret, clock.now + 30))
    assert status == 401  # replayed
    clock.now += 60
    status, _ = await _login(client, who, otp=code_at(secret, clock.now - 60))
    assert status == 401  # two steps old
    status, _ = await _login(client, who, otp=code_at(secret, clock.now - 30))
    assert status == 401  # one step back, but not newer than the last used
    status, _ = await _login(client, who, otp=code_at(secret, clock.now))
    assert status == 200

    # Setting up again while on is a conflict; disabling needs an unused current code.
    resp = await client.post(f"{V1}/auth/2fa/setup", headers=who["auth"])
    assert resp.status == 409
    resp = await client.post(
        f"{V1}/auth/2fa/disable", json={"code": code_at(secret, clock.now)}, headers=who["auth"]
    )
    assert resp.status == 400
    clock.now += 30
    resp = await client.post(
        f"{V1}/auth/2fa/disable", json={"code": code_at(secret, clock.now)}, headers=who["auth"]
    )
    assert resp.status == 204
    assert (await _login(client, who))[0] == 200
    resp = await client.post(f"{V1}/auth/2fa/disable", json={"code": "123456"}, headers=who["auth"])
    assert resp.status == 409

    boss = await admin(client)
    audit = await client.get(f"{V1}/admin/audit?limit=50", headers=boss["auth"])
    entries = [
        e for e in (await audit.json())["items"] if e.get("target") == f"user:{who['user']['id']}"
    ]
    actions = [e["action"] for e in entries]
    assert actions[0] == "two_factor.disabled" and actions[-1] == "two_factor.enabled"
    assert "two_factor.replay_refused" in actions
    assert all(secret not in str(e) for e in entries)


async def test_keys_rotate_without_losing_secrets(aiohttp_client: Any, settings: Settings) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    clock = Clock()
    first = await _client(
        aiohttp_client, Settings(**{**settings.__dict__, "totp_encryption_keys": (old,)}), clock
    )
    who = await register(first, "customer")
    secret = await _enable(first, who, clock)
    # A node with the new key first and the old one still listed reads the old secret...
    both = await _client(
        aiohttp_client,
        Settings(**{**settings.__dict__, "totp_encryption_keys": (new, old)}),
        clock,
    )
    status, _ = await _login(both, who, otp=code_at(secret, clock.now + 30))
    assert status == 200
    # ...and re-sealed it with the new key at that login: the old key can go.
    only_new = await _client(
        aiohttp_client, Settings(**{**settings.__dict__, "totp_encryption_keys": (new,)}), clock
    )
    clock.now += 60
    status, _ = await _login(only_new, who, otp=code_at(secret, clock.now))
    assert status == 200
    # reseal_all rewrites every stored secret (the documented rotation step).
    assert await only_new.app[keys.TWO_FACTOR].reseal_all() >= 1
    # A node whose keys cannot open the secret says so (503), it does not pretend "wrong code".
    stranger = await _client(
        aiohttp_client,
        Settings(
            **{**settings.__dict__, "totp_encryption_keys": (Fernet.generate_key().decode(),)}
        ),
        clock,
    )
    status, body = await _login(stranger, who, otp=code_at(secret, clock.now + 30))
    assert (status, body["error"]["code"]) == (503, "unavailable")


async def test_production_admins_need_two_factor(aiohttp_client: Any, settings: Settings) -> None:
    clock = Clock()
    production = Settings(
        **{
            **settings.__dict__,
            "app_env": "production",
            "totp_encryption_keys": (Fernet.generate_key().decode(),),
        }
    )
    client = await _client(aiohttp_client, production, clock)
    boss = await admin(client)
    resp = await client.get(f"{V1}/admin/stats", headers=boss["auth"])
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "two_factor_required"
    await _enable(client, boss, clock)
    resp = await client.get(f"{V1}/admin/stats", headers=boss["auth"])
    assert resp.status == 200


async def test_production_without_keys_has_no_two_factor(
    aiohttp_client: Any, settings: Settings
) -> None:
    production = Settings(**{**settings.__dict__, "app_env": "production"})
    client = await _client(aiohttp_client, production, Clock())
    who = await register(client, "customer")
    resp = await client.post(f"{V1}/auth/2fa/setup", headers=who["auth"])
    assert resp.status == 503
    assert (await resp.json())["error"]["code"] == "unavailable"


async def test_a_lockout_is_audited_without_the_password(client: Client) -> None:
    boss = await admin(client)  # before the address is locked out too
    who = await register(client, "customer")
    for _ in range(5):
        resp = await client.post(
            f"{V1}/auth/login", json={"email": who["email"], "password": "not the password"}
        )
        assert resp.status == 401
    resp = await client.post(f"{V1}/auth/login", json={"email": who["email"], "password": PASSWORD})
    assert resp.status == 429
    resp = await client.get(f"{V1}/admin/audit?action=login.locked", headers=boss["auth"])
    entries = [
        e for e in (await resp.json())["items"] if e["target"] == f"user:{who['user']['id']}"
    ]
    assert len(entries) == 1
    assert "actor_id" not in entries[0]
    assert "not the password" not in str(entries[0])


@pytest.mark.parametrize("bad", ["", "abc", "not-a-key"])
def test_bad_encryption_keys_stop_the_start(bad: str) -> None:
    from api.config import ConfigError

    if not bad:
        assert Settings.from_env({"TOTP_ENCRYPTION_KEYS": bad}).totp_encryption_keys == ()
        return
    with pytest.raises(ConfigError, match="TOTP_ENCRYPTION_KEYS"):
        Settings.from_env({"TOTP_ENCRYPTION_KEYS": bad})
    assert "totp_encryption_keys" not in repr(Settings())
