"""Payments through a local fake of Stripe: onboarding, the held payment and its capture
(gated on the geofence's arrival or the customer's word), release, refunds, retries."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from api import keys
from hub.notifications import store as notifications
from tests.api.jobs_support import admin, assigned_job, set_status
from tests.api.payments_support import (
    Client,
    Deal,
    audit_entries,
    deal,
    held,
    hub,
    onboarded,
    payment,
    start_payment,
    status_becomes,
    stripe,
)
from tests.api.push_support import add_device, fcm, push_settings, pushes_to
from tests.fakes.fcm import FakeFcm
from tests.fakes.stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe
from tests.hub.realtime_support import connected, token_of
from tests.hub.tracking_support import Tracked, base_ts
from tests.support.waiting import eventually

__all__ = ["fcm", "hub", "stripe"]  # fixtures


async def arrive_by_geofence(client: Client, d: Deal) -> None:
    """The contractor drives there: en_route, then two points within 100 m (the geofence)."""
    assert (await set_status(client, d.contractor, d.id, "en_route"))[0] == 200
    t = Tracked(d.customer, d.contractor, d.job)
    ts = base_ts()
    async with connected(client, token_of(d.contractor)) as phone:
        for metres, dt in ((300, 0), (60, 15_000), (40, 20_000)):
            ack = await phone.call("location:update", t.at(metres, ts + dt))
            assert ack["ok"] is True
        await eventually(lambda: client.app[keys.TRACKER].arrivals >= 1)

    async def arrived() -> bool:
        resp = await client.get(f"/api/v1/jobs/{d.id}", headers=d.customer["auth"])
        return (await resp.json())["status"] == "arrived"

    await eventually(arrived)


async def test_onboarding_creates_one_account_and_a_fresh_link_each_time(
    hub: Client, stripe: FakeStripe
) -> None:
    customer, contractor, _ = await assigned_job(hub)
    resp = await hub.get("/api/v1/payments/connect/status", headers=contractor["auth"])
    assert await resp.json() == {
        "charges_enabled": False,
        "payouts_enabled": False,
        "details_submitted": False,
    }
    first, second = await asyncio.gather(
        *(hub.post("/api/v1/payments/connect/onboard", headers=contractor["auth"]) for _ in "ab")
    )
    one, two = await first.json(), await second.json()
    assert first.status == second.status == 200
    assert one["account_id"] == two["account_id"] and one["account_id"].startswith("acct_")
    assert one["url"] != two["url"] and one["url"].startswith("https://connect.stripe.com/")
    assert stripe.effects["POST /v1/accounts"] == 1  # the concurrent call was a replay
    account = stripe.accounts[one["account_id"]]
    assert account["type"] == "express" and account["email"] == contractor["email"]
    again = await hub.post("/api/v1/payments/connect/onboard", headers=contractor["auth"])
    assert (await again.json())["account_id"] == one["account_id"]
    assert stripe.effects["POST /v1/accounts"] == 1

    # Not heard of yet: fetched from Stripe.
    stripe.accounts[one["account_id"]]["details_submitted"] = True
    resp = await hub.get("/api/v1/payments/connect/status", headers=contractor["auth"])
    assert await resp.json() == {
        "account_id": one["account_id"],
        "charges_enabled": False,
        "payouts_enabled": False,
        "details_submitted": True,
    }
    # account.updated keeps it current; an older one arriving late changes nothing.
    older = stripe.finish_onboarding(one["account_id"])  # queued, held back
    stripe.accounts[one["account_id"]]["payouts_enabled"] = False
    newer = stripe._queue("account.updated", stripe.accounts[one["account_id"]])
    assert await stripe.deliver(newer, older) == [200, 200]
    fetched = stripe.requests["GET /v1/accounts/{id}"]
    resp = await hub.get("/api/v1/payments/connect/status", headers=contractor["auth"])
    assert await resp.json() == {
        "account_id": one["account_id"],
        "charges_enabled": True,
        "payouts_enabled": False,
        "details_submitted": True,
    }
    assert stripe.requests["GET /v1/accounts/{id}"] == fetched  # known: not fetched

    resp = await hub.post("/api/v1/payments/connect/onboard", headers=customer["auth"])
    assert resp.status == 403


async def test_happy_path_hold_then_capture_after_arrival_and_completion(
    hub: Client, stripe: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # the stripe library's own request logs included
    d = await deal(hub, stripe)
    body = await start_payment(hub, d)
    assert body["amount_cents"] == 10_000 and body["currency"] == "usd"
    assert body["status"] == "requires_payment_method"
    intent = stripe.intents[body["payment_intent_id"]]
    assert body["client_secret"] == intent["client_secret"]
    assert intent["capture_method"] == "manual"
    assert intent["application_fee_amount"] == 1_000  # PLATFORM_FEE_BPS 1000 = 10 %
    assert intent["transfer_data"] == {"destination": d.account_id}
    assert intent["metadata"]["job_id"] == d.id
    assert f"tradeshub:job:{d.id}:intent:1" in stripe.keys_seen
    # Nobody online: the customer's authorisation notice goes to the outbox.
    assert await stripe.deliver(stripe.authorize(intent["id"])) == [200]
    got = await payment(hub, d)
    assert got == {
        "job_id": d.id,
        "payment_intent_id": intent["id"],
        "status": "authorized",
        "amount_cents": 10_000,
        "currency": "usd",
        "fee_cents": 1_000,
        "refunded_cents": 0,
    }
    async with hub.app[keys.POOL].acquire() as conn:
        stored = await notifications.for_user(conn, d.customer["user"]["id"])
    assert ("payment:status", {"job_id": d.id, "status": "authorized"}) in stored

    await arrive_by_geofence(hub, d)
    async with connected(hub, token_of(d.customer)) as customer:
        assert (await set_status(hub, d.contractor, d.id, "in_progress"))[0] == 200
        assert stripe.effects["POST /v1/payment_intents/{id}/capture"] == 0
        assert (await set_status(hub, d.contractor, d.id, "completed"))[0] == 200
        [event] = await customer.next("payment:status")
        assert event == {"job_id": d.id, "status": "captured"}
    assert stripe.effects["POST /v1/payment_intents/{id}/capture"] == 1
    assert stripe.transfers == [
        {
            "destination": d.account_id,
            "amount": 9_000,
            "source_transaction": intent["latest_charge"],
        }
    ]
    assert [f["amount"] for f in stripe.fees] == [1_000]
    # Stripe's own news of it, late (and the authorisation again): nothing moves back.
    late = [*stripe.of_type("payment_intent.succeeded"), stripe.sent[-1]]
    assert await stripe.deliver(*late) == [200, 200]
    seen_by_contractor = await payment(hub, d, d.contractor)
    assert seen_by_contractor["status"] == "captured" and "captured_at" in seen_by_contractor
    boss = await admin(hub)
    resp = await hub.get(f"/api/v1/jobs/{d.id}/payment", headers=boss["auth"])
    assert resp.status == 200
    # Confirming afterwards is harmless: still one capture.
    resp = await hub.post(f"/api/v1/jobs/{d.id}/payment/confirm", headers=d.customer["auth"])
    assert resp.status == 200 and (await resp.json())["status"] == "captured"
    assert stripe.effects["POST /v1/payment_intents/{id}/capture"] == 1
    assert "Request to Stripe api" in caplog.text  # the library's logs were captured
    assert SECRET_KEY not in caplog.text and WEBHOOK_SECRET not in caplog.text


async def test_capture_waits_for_the_geofence_or_the_customer(
    hub: Client, stripe: FakeStripe
) -> None:
    d = await deal(hub, stripe)
    await held(hub, stripe, d)
    for step in ("en_route", "arrived", "in_progress", "completed"):  # arrived by hand
        assert (await set_status(hub, d.contractor, d.id, step))[0] == 200
    assert (await payment(hub, d))["status"] == "authorized"
    assert stripe.requests["POST /v1/payment_intents/{id}/capture"] == 0
    resp = await hub.post(f"/api/v1/jobs/{d.id}/payment/confirm", headers=d.contractor["auth"])
    assert resp.status == 403  # only the customer confirms
    # Two confirmations at once (a double tap): one capture, one call to Stripe.
    answers = await asyncio.gather(
        *(
            hub.post(f"/api/v1/jobs/{d.id}/payment/confirm", headers=d.customer["auth"])
            for _ in "ab"
        )
    )
    assert [r.status for r in answers] == [200, 200]
    await status_becomes(hub, d, "captured")
    again = await hub.post(f"/api/v1/jobs/{d.id}/payment/confirm", headers=d.customer["auth"])
    assert again.status == 200 and (await again.json())["status"] == "captured"
    assert stripe.requests["POST /v1/payment_intents/{id}/capture"] == 1


async def test_confirmed_before_the_card_is_held_captures_once_it_is(
    hub: Client, stripe: FakeStripe
) -> None:
    d = await deal(hub, stripe)
    intent_id = (await start_payment(hub, d))["payment_intent_id"]
    resp = await hub.post(f"/api/v1/jobs/{d.id}/payment/confirm", headers=d.customer["auth"])
    assert resp.status == 200 and (await resp.json())["status"] == "requires_payment_method"
    assert await stripe.deliver(stripe.authorize(intent_id)) == [200]
    await status_becomes(hub, d, "captured")
    assert stripe.effects["POST /v1/payment_intents/{id}/capture"] == 1


async def test_a_job_cancelled_before_capture_releases_the_hold(
    hub: Client, stripe: FakeStripe
) -> None:
    d = await deal(hub, stripe)
    intent_id = await held(hub, stripe, d)
    assert (await set_status(hub, d.customer, d.id, "cancelled"))[0] == 200
    assert (await payment(hub, d))["status"] == "cancelled"
    assert stripe.intents[intent_id]["status"] == "canceled"
    assert await stripe.deliver() == [200]  # payment_intent.canceled, after the fact
    assert (await payment(hub, d))["status"] == "cancelled"
    await start_payment(hub, d, status=409)  # a cancelled job is not paid
    resp = await hub.post(f"/api/v1/jobs/{d.id}/payment/confirm", headers=d.customer["auth"])
    assert resp.status == 409


async def test_partial_and_full_refunds_by_an_admin(hub: Client, stripe: FakeStripe) -> None:
    d = await deal(hub, stripe)
    intent_id = await held(hub, stripe, d)
    resp = await hub.post(f"/api/v1/jobs/{d.id}/payment/refund", headers=(await admin(hub))["auth"])
    assert resp.status == 409  # not captured yet
    resp = await hub.post(f"/api/v1/jobs/{d.id}/payment/confirm", headers=d.customer["auth"])
    assert (await resp.json())["status"] == "captured"
    boss = await admin(hub)
    url = f"/api/v1/jobs/{d.id}/payment/refund"
    resp = await hub.post(url, json={"amount_cents": 100}, headers=d.customer["auth"])
    assert resp.status == 403
    resp = await hub.post(url, json={"amount_cents": 3_000}, headers=boss["auth"])
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "partially_refunded"
    assert body["refunded_cents"] == 3_000
    resp = await hub.post(url, json={"amount_cents": 7_001}, headers=boss["auth"])
    assert resp.status == 400
    resp = await hub.post(url, json={"amount_cents": 1.5}, headers=boss["auth"])
    assert resp.status == 400  # no float touches money
    resp = await hub.post(url, headers=boss["auth"])  # the rest
    body = await resp.json()
    assert body["status"] == "refunded" and body["refunded_cents"] == 10_000
    assert [r["amount"] for r in stripe.refunds] == [3_000, 7_000]
    assert all(r["payment_intent"] == intent_id for r in stripe.refunds)
    assert (await hub.post(url, headers=boss["auth"])).status == 409
    # charge.refunded events, the full one before the partial one: still refunded.
    partial, full = stripe.of_type("charge.refunded")
    assert await stripe.deliver(full, partial) == [200, 200]
    got = await payment(hub, d)
    assert got["status"] == "refunded" and got["refunded_cents"] == 10_000
    entries = await audit_entries(hub, d.id)
    assert [(e["action"], e["actor_id"]) for e in entries] == [
        ("payment.refunded", boss["user"]["id"]),
        ("payment.refunded", boss["user"]["id"]),
    ]


async def test_a_dispute_marks_the_payment_and_is_audited(hub: Client, stripe: FakeStripe) -> None:
    d = await deal(hub, stripe)
    intent_id = await held(hub, stripe, d)
    await hub.post(f"/api/v1/jobs/{d.id}/payment/confirm", headers=d.customer["auth"])
    dispute = stripe.dispute(intent_id)
    assert await stripe.deliver(dispute) == [200]
    assert await stripe.deliver(dispute) == [200]  # a replay: no second entry
    assert (await payment(hub, d))["status"] == "disputed"
    [entry] = await audit_entries(hub, d.id)
    assert entry["action"] == "payment.disputed" and entry["actor_id"] is None
    assert entry["details"]["amount_cents"] == 10_000
    resp = await hub.post(f"/api/v1/jobs/{d.id}/payment/refund", headers=(await admin(hub))["auth"])
    assert resp.status == 409


async def test_a_retried_payment_request_creates_one_intent(
    hub: Client, stripe: FakeStripe
) -> None:
    d = await deal(hub, stripe)
    answers = await asyncio.gather(
        *(hub.post(f"/api/v1/jobs/{d.id}/payment", headers=d.customer["auth"]) for _ in range(4))
    )
    bodies = [await r.json() for r in answers]
    assert sorted(r.status for r in answers) == [200, 200, 200, 201]
    assert len({b["payment_intent_id"] for b in bodies}) == 1
    again = await start_payment(hub, d, status=200)
    assert again["payment_intent_id"] == bodies[0]["payment_intent_id"]
    assert stripe.effects["POST /v1/payment_intents"] == 1
    assert len(stripe.intents) == 1


async def test_who_may_pay_and_see(hub: Client, stripe: FakeStripe) -> None:
    customer, contractor, job = await assigned_job(hub)
    d = Deal(customer, contractor, job, "")
    resp = await hub.post(f"/api/v1/jobs/{d.id}/payment", headers=customer["auth"])
    body = await resp.json()
    assert resp.status == 409 and body["error"]["code"] == "contractor_not_payable"
    assert stripe.requests["POST /v1/payment_intents"] == 0
    resp = await hub.get(f"/api/v1/jobs/{d.id}/payment", headers=customer["auth"])
    assert resp.status == 404
    await onboarded(hub, stripe, contractor)
    resp = await hub.post(f"/api/v1/jobs/{d.id}/payment", headers=contractor["auth"])
    assert resp.status == 403
    await start_payment(hub, d)
    stranger = (await assigned_job(hub))[0]
    resp = await hub.get(f"/api/v1/jobs/{d.id}/payment", headers=stranger["auth"])
    assert resp.status == 404


async def test_stripe_down_answers_unavailable_and_writes_nothing(
    hub: Client, stripe: FakeStripe
) -> None:
    d = await deal(hub, stripe)
    stripe.down = 503
    resp = await hub.post(f"/api/v1/jobs/{d.id}/payment", headers=d.customer["auth"])
    body = await resp.json()
    assert resp.status == 503 and body["error"]["code"] == "unavailable"
    assert (await hub.get(f"/api/v1/jobs/{d.id}/payment", headers=d.customer["auth"])).status == 404
    other = (await assigned_job(hub))[1]
    resp = await hub.post("/api/v1/payments/connect/onboard", headers=other["auth"])
    assert resp.status == 503
    async with hub.app[keys.POOL].acquire() as conn:
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM connect_accounts WHERE user_id = $1", other["user"]["id"]
            )
            == 0
        )
    stripe.down = None
    await start_payment(hub, d)


async def test_the_sweeper_captures_what_stripe_could_not_take_at_once(
    make_client: Any, stripe: FakeStripe
) -> None:
    from tests.api.payments_support import paying_hub

    client = await paying_hub(make_client, stripe, payment_sweep_s=0.2)
    d = await deal(client, stripe)
    await held(client, stripe, d)
    stripe.down = 503
    resp = await client.post(f"/api/v1/jobs/{d.id}/payment/confirm", headers=d.customer["auth"])
    assert resp.status == 503
    assert (await payment(client, d))["status"] == "authorized"
    stripe.down = None
    await status_becomes(client, d, "captured")
    assert stripe.effects["POST /v1/payment_intents/{id}/capture"] == 1


async def test_a_hold_near_its_expiry_is_renewed_with_a_new_intent(
    make_client: Any, stripe: FakeStripe
) -> None:
    from tests.api.payments_support import paying_hub

    # PAYMENT_HOLD_RENEW (6 days by default) shortened to a second.
    client = await paying_hub(make_client, stripe, payment_sweep_s=0.2, payment_hold_renew_s=1.0)
    d = await deal(client, stripe)
    old = await held(client, stripe, d)
    await status_becomes(client, d, "requires_payment_method", within=15)
    fresh = await start_payment(client, d, status=200)
    assert fresh["payment_intent_id"] != old and fresh["status"] == "requires_payment_method"
    new_intent = stripe.intents[fresh["payment_intent_id"]]
    assert fresh["client_secret"] == new_intent["client_secret"]
    assert new_intent["amount"] == 10_000 and new_intent["application_fee_amount"] == 1_000
    assert new_intent["transfer_data"] == {"destination": d.account_id}
    assert stripe.intents[old]["status"] == "canceled"  # the old hold released
    assert f"tradeshub:job:{d.id}:intent:2" in stripe.keys_seen
    # The old intent's cancellation arrives: it is no longer the payment's, nothing moves.
    assert await stripe.deliver(*stripe.of_type("payment_intent.canceled")) == [200]
    assert (await payment(client, d))["status"] == "requires_payment_method"
    assert await stripe.deliver(stripe.authorize(new_intent["id"])) == [200]
    assert (await payment(client, d))["status"] == "authorized"


async def test_without_a_stripe_key_payments_answer_unavailable(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    customer, contractor, job = await assigned_job(client)
    for method, path, who in (
        ("POST", "/api/v1/payments/connect/onboard", contractor),
        ("GET", "/api/v1/payments/connect/status", contractor),
        ("POST", f"/api/v1/jobs/{job['id']}/payment", customer),
        ("POST", f"/api/v1/jobs/{job['id']}/payment/confirm", customer),
    ):
        resp = await client.request(method, path, headers=who["auth"])
        body = await resp.json()
        assert resp.status == 503, (path, body)
        assert body["error"]["code"] == "unavailable"
        assert "payments are not configured" in body["error"]["message"]
    resp = await client.post("/api/v1/webhooks/stripe", data=b"{}")
    assert resp.status == 503
    assert (await set_status(client, contractor, job["id"], "en_route"))[0] == 200


async def test_start_up_line_says_whether_payments_are_on(
    make_client: Any, stripe: FakeStripe, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.api.payments_support import stripe_settings

    with caplog.at_level(logging.INFO):
        await make_client()
        await make_client(**stripe_settings(stripe))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("payments:")]
    assert lines[0].startswith("payments: off (no STRIPE_SECRET_KEY)")
    assert lines[1] == f"payments: on, Stripe at {stripe.base_url}"
    assert "sk_test" not in caplog.text and "whsec_" not in caplog.text


async def test_an_offline_party_gets_the_payment_status_as_a_push(
    make_client: Any, stripe: FakeStripe, fcm: FakeFcm, tmp_path: Path
) -> None:
    from tests.api.payments_support import paying_hub

    client = await paying_hub(make_client, stripe, **push_settings(fcm, tmp_path))
    d = await deal(client, stripe)
    phone = await add_device(client, d.customer, "ios")
    contractors_phone = await add_device(client, d.contractor, "android")
    intent_id = (await start_payment(client, d))["payment_intent_id"]
    assert await stripe.deliver(stripe.authorize(intent_id)) == [200]
    [push] = await pushes_to(fcm, phone, 1)
    assert push["data"] == {"kind": "payment:status", "job_id": d.id, "status": "authorized"}
    assert push["notification"]["title"] == d.job["title"]
    assert push["notification"]["body"] == "Payment held for your job"
    assert (await pushes_to(fcm, contractors_phone, 1))[0]["data"]["status"] == "authorized"


async def test_a_hold_stripe_expired_is_paid_again_with_a_new_intent(
    hub: Client, stripe: FakeStripe
) -> None:
    d = await deal(hub, stripe)
    old = await held(hub, stripe, d)
    assert await stripe.deliver(stripe.expire(old)) == [200]  # the hub was not there to renew
    assert (await payment(hub, d))["status"] == "cancelled"
    first, second = await asyncio.gather(
        *(hub.post(f"/api/v1/jobs/{d.id}/payment", headers=d.customer["auth"]) for _ in "ab")
    )
    assert sorted([first.status, second.status]) == [200, 201]
    fresh = await first.json()
    assert fresh["payment_intent_id"] != old and fresh["status"] == "requires_payment_method"
    assert (await second.json())["payment_intent_id"] == fresh["payment_intent_id"]
    assert stripe.effects["POST /v1/payment_intents"] == 2  # the first and this one
    assert await stripe.deliver(stripe.authorize(fresh["payment_intent_id"])) == [200]
    assert (await payment(hub, d))["status"] == "authorized"
