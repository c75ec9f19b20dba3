"""Verification and background checks over REST, against a local fake of Checkr.

Admins verify contractors by hand (with or without a provider), start background checks
(202, Checkr's candidate and invitation), and Checkr's signed webhook settles them: a
``clear`` report verifies the contractor, ``consider`` raises a flag for review. Each
change has its audit entry. The fake signs its webhooks with the API key, as Checkr does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from api import keys
from api.config import ConfigError, Settings
from tests.api.jobs_support import admin, contractor_at, post_job, spot
from tests.conftest import register
from tests.fakes.checkr import API_KEY, FakeCheckr, start
from tests.hub.realtime_support import Client, url_of

MakeClient = Callable[..., Any]


@pytest.fixture
async def checkr() -> AsyncIterator[FakeCheckr]:
    fake = FakeCheckr()
    server = await start(fake)
    try:
        yield fake
    finally:
        await server.close()


@pytest.fixture
async def hub(make_client: MakeClient, checkr: FakeCheckr) -> Client:
    client: Client = await make_client(checkr_api_key=API_KEY, checkr_api_base=checkr.base_url)
    return client


async def fetch(client: Client, sql: str, *args: Any) -> list[dict[str, Any]]:
    app = client.app
    assert app is not None
    async with app[keys.POOL].acquire() as conn:
        return [dict(r) for r in await conn.fetch(sql, *args)]


async def audit_of(client: Client, contractor_id: str) -> list[dict[str, Any]]:
    return await fetch(
        client,
        "SELECT actor_id, action, request_id, details FROM audit_log WHERE target = $1 ORDER BY id",
        f"user:{contractor_id}",
    )


async def verify(
    client: Client, who: dict[str, Any], contractor_id: str, body: Any, **headers: str
) -> tuple[int, Any]:
    resp = await client.post(
        f"/api/v1/admin/contractors/{contractor_id}/verify",
        json=body,
        headers={**who["auth"], **headers},
    )
    return resp.status, await resp.json()


async def start_check(client: Client, who: dict[str, Any], contractor_id: str) -> tuple[int, Any]:
    resp = await client.post(
        f"/api/v1/admin/contractors/{contractor_id}/background-check", headers=who["auth"]
    )
    return resp.status, await resp.json()


async def profile(client: Client, who: dict[str, Any], contractor_id: str) -> dict[str, Any]:
    resp = await client.get(f"/api/v1/contractors/{contractor_id}", headers=who["auth"])
    assert resp.status == 200
    body: dict[str, Any] = await resp.json()
    return body


async def test_manual_verification_works_without_a_provider(client: Client) -> None:
    boss = await admin(client)
    contractor = await register(client, "contractor")  # no profile saved yet
    cid = contractor["user"]["id"]
    status, body = await verify(client, boss, cid, {"verified": True}, **{"X-Request-ID": "rq-v1"})
    assert status == 200
    assert body["id"] == cid and body["verified"] is True
    assert (await profile(client, contractor, cid))["verified"] is True
    status, body = await verify(client, boss, cid, {"verified": False})
    assert status == 200 and body["verified"] is False
    entries = await audit_of(client, cid)
    assert [e["action"] for e in entries] == ["contractor.verified", "contractor.unverified"]
    assert entries[0]["actor_id"] == boss["user"]["id"] and entries[0]["request_id"] == "rq-v1"
    assert entries[0]["details"] == {"verified": True, "source": "manual"}
    # Without CHECKR_API_KEY: checks and the webhook are unavailable, nothing else changes.
    status, body = await start_check(client, boss, cid)
    assert status == 503 and body["error"]["code"] == "unavailable"
    assert "not configured" in body["error"]["message"]
    resp = await client.post("/api/v1/webhooks/checkr", data=b"{}")
    assert resp.status == 503


async def test_only_admins_verify_and_bad_requests_are_refused(client: Client) -> None:
    boss = await admin(client)
    contractor = await register(client, "contractor")
    customer = await register(client, "customer")
    cid = contractor["user"]["id"]
    for who in (contractor, customer):
        status, body = await verify(client, who, cid, {"verified": True})
        assert status == 403 and body["error"]["code"] == "forbidden"
        status, body = await start_check(client, who, cid)
        assert status == 403
    resp = await client.post(f"/api/v1/admin/contractors/{cid}/verify", json={"verified": True})
    assert resp.status == 401
    status, body = await verify(client, boss, cid, {"verified": "yes"})
    assert status == 400 and body["error"]["code"] == "validation_error"
    status, body = await verify(client, boss, cid, {"verified": True, "extra": 1})
    assert status == 400
    for not_a_contractor in (customer["user"]["id"], "u_nobody"):
        status, body = await verify(client, boss, not_a_contractor, {"verified": True})
        assert status == 404 and body["error"]["code"] == "not_found"
    assert (await profile(client, contractor, cid))["verified"] is False
    assert await audit_of(client, cid) == []


async def test_in_production_admins_need_two_factor(make_client: MakeClient) -> None:
    # The admin guard is the admin API's (api.handlers.admin.require_admin).
    hub = await make_client(app_env="production")
    boss = await admin(hub)
    contractor = await register(hub, "contractor")
    status, body = await verify(hub, boss, contractor["user"]["id"], {"verified": True})
    assert status == 403 and body["error"]["code"] == "two_factor_required"
    status, body = await start_check(hub, boss, contractor["user"]["id"])
    assert status == 403 and body["error"]["code"] == "two_factor_required"


async def test_verifying_puts_a_contractor_first_in_matches(client: Client) -> None:
    boss = await admin(client)
    lat, lng = spot()
    first = await contractor_at(client, lat, lng)
    second = await contractor_at(client, lat, lng)
    customer = await register(client, "customer")
    job = await post_job(client, customer, lat, lng)
    for favourite in (first, second):
        await verify(client, boss, favourite["user"]["id"], {"verified": True})
        resp = await client.get(f"/api/v1/jobs/{job['id']}/matches", headers=customer["auth"])
        ranked = [m["contractor"] for m in await resp.json()]
        assert ranked[0]["id"] == favourite["user"]["id"] and ranked[0]["verified"] is True
        await verify(client, boss, favourite["user"]["id"], {"verified": False})


async def test_clear_report_verifies_the_contractor_once(hub: Client, checkr: FakeCheckr) -> None:
    boss = await admin(hub)
    contractor = await register(hub, "contractor")
    cid = contractor["user"]["id"]
    status, check = await start_check(hub, boss, cid)
    assert status == 202
    assert check["status"] == "pending" and check["contractor_id"] == cid
    # Checkr got the candidate (the contractor) and an invitation for them.
    ((candidate_id, candidate),) = checkr.candidates.items()
    assert candidate["email"] == contractor["email"] and candidate["custom_id"] == cid
    assert (candidate["first_name"], candidate["last_name"]) == ("Test", "contractor")
    (invitation,) = checkr.invitations.values()
    assert invitation["candidate_id"] == candidate_id
    assert invitation["package"] == "tasker_standard"
    # Starting again while pending returns the same check and asks Checkr nothing.
    status, again = await start_check(hub, boss, cid)
    assert status == 202 and again["id"] == check["id"] and len(checkr.invitations) == 1

    event = checkr.report_event(candidate_id, "clear")
    assert await checkr.send_event(url_of(hub), event) == (200, {"received": True})
    assert (await profile(hub, contractor, cid))["verified"] is True
    actions = [e["action"] for e in await audit_of(hub, cid)]
    assert actions == [
        "background_check.started",
        "background_check.completed",
        "contractor.verified",
    ]
    # Checkr retries deliveries: the same event id changes nothing.
    assert await checkr.send_event(url_of(hub), event) == (200, {"received": True})
    assert len(await audit_of(hub, cid)) == 3
    (row,) = await fetch(
        hub, "SELECT status, report_id FROM background_checks WHERE id = $1", check["id"]
    )
    assert row == {"status": "clear", "report_id": event["data"]["object"]["id"]}
    # A later check reuses the candidate: a new invitation only.
    status, later = await start_check(hub, boss, cid)
    assert status == 202 and later["id"] != check["id"]
    assert len(checkr.candidates) == 1 and len(checkr.invitations) == 2


async def test_consider_raises_a_flag_and_does_not_verify(hub: Client, checkr: FakeCheckr) -> None:
    boss = await admin(hub)
    contractor = await register(hub, "contractor")
    cid = contractor["user"]["id"]
    _, check = await start_check(hub, boss, cid)
    (candidate_id,) = checkr.candidates
    event = checkr.report_event(candidate_id, "consider")
    assert (await checkr.send_event(url_of(hub), event))[0] == 200
    assert (await profile(hub, contractor, cid))["verified"] is False
    (flag,) = await fetch(
        hub,
        "SELECT id, kind, user_id, check_id, details, resolved_at FROM flags WHERE user_id = $1",
        cid,
    )
    assert flag["kind"] == "background_check" and flag["check_id"] == check["id"]
    assert flag["details"]["result"] == "consider" and flag["resolved_at"] is None
    raised = await fetch(
        hub,
        "SELECT actor_id FROM audit_log WHERE action = 'flag.raised' AND target = $1",
        f"flag:{flag['id']}",
    )
    assert raised == [{"actor_id": None}]


async def test_webhook_signature_is_required(hub: Client, checkr: FakeCheckr) -> None:
    boss = await admin(hub)
    contractor = await register(hub, "contractor")
    cid = contractor["user"]["id"]
    await start_check(hub, boss, cid)
    (candidate_id,) = checkr.candidates
    event = checkr.report_event(candidate_id, "clear")
    forged = FakeCheckr(api_key="someone_elses_key").sign(b"{}")
    for signature in ("", "0" * 64, forged, checkr.sign(b"another body")):
        status, body = await checkr.send_event(url_of(hub), event, signature=signature)
        assert status == 400 and body["error"]["code"] == "validation_error"
    assert await fetch(hub, "SELECT id FROM checkr_events WHERE id = $1", event["id"]) == []
    assert (await profile(hub, contractor, cid))["verified"] is False
    # Not an event at all, but signed: refused without a 500.
    for raw in (b"not json", b"[1, 2]", b'{"type": "report.completed"}'):
        resp = await hub.post(
            "/api/v1/webhooks/checkr", data=raw, headers={"X-Checkr-Signature": checkr.sign(raw)}
        )
        assert resp.status == 400


async def test_events_the_hub_does_not_act_on_are_acknowledged(
    hub: Client, checkr: FakeCheckr
) -> None:
    boss = await admin(hub)
    contractor = await register(hub, "contractor")
    cid = contractor["user"]["id"]
    _, check = await start_check(hub, boss, cid)
    (candidate_id,) = checkr.candidates
    for event in (
        checkr.report_event("0" * 24, "clear"),  # not ours
        checkr.report_event(candidate_id, None, "report.created"),  # not an outcome
        checkr.report_event(candidate_id, None),  # completed without a result yet
    ):
        assert (await checkr.send_event(url_of(hub), event))[0] == 200
    assert (await profile(hub, contractor, cid))["verified"] is False
    suspended = checkr.report_event(candidate_id, None, "report.suspended")
    assert (await checkr.send_event(url_of(hub), suspended))[0] == 200
    (row,) = await fetch(hub, "SELECT status FROM background_checks WHERE id = $1", check["id"])
    assert row["status"] == "suspended"


async def test_provider_failure_is_unavailable_and_starts_nothing(
    hub: Client, checkr: FakeCheckr
) -> None:
    boss = await admin(hub)
    contractor = await register(hub, "contractor")
    cid = contractor["user"]["id"]
    for failure in (500, 401, 422):
        checkr.fail_with = failure
        status, body = await start_check(hub, boss, cid)
        assert status == 503 and body["error"]["code"] == "unavailable"
    assert await fetch(hub, "SELECT id FROM background_checks WHERE contractor_id = $1", cid) == []
    assert await audit_of(hub, cid) == []
    checkr.fail_with = None
    status, _ = await start_check(hub, boss, cid)
    assert status == 202


async def test_wrong_api_key_is_the_providers_refusal(
    make_client: MakeClient, checkr: FakeCheckr
) -> None:
    hub = await make_client(checkr_api_key="not_the_key", checkr_api_base=checkr.base_url)
    boss = await admin(hub)
    contractor = await register(hub, "contractor")
    status, body = await start_check(hub, boss, contractor["user"]["id"])
    assert status == 503 and body["error"]["code"] == "unavailable"
    assert checkr.candidates == {}


def test_settings_read_checkr_once_and_mask_the_key() -> None:
    settings = Settings.from_env(
        {"CHECKR_API_KEY": "sk_secret_checkr", "CHECKR_API_BASE": "http://127.0.0.1:9/"}
    )
    assert settings.checkr_api_key == "sk_secret_checkr"
    assert settings.checkr_api_base == "http://127.0.0.1:9"
    assert settings.checkr_package == "tasker_standard"
    assert "sk_secret_checkr" not in repr(settings)
    assert settings.describe()["checkr_api_key"] == "***"
    assert Settings.from_env({}).checkr_api_key is None
    with pytest.raises(ConfigError, match=r"^CHECKR_API_BASE"):
        Settings.from_env({"CHECKR_API_BASE": "api.checkr.com"})
