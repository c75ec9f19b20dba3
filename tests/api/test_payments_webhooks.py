"""Stripe's webhooks at POST /api/v1/webhooks/stripe: the library's verifier (forged, stale,
missing signatures refused with nothing changed), each event applied once, any order."""

from __future__ import annotations

import time

from api import keys
from tests.api.payments_support import (
    Client,
    deal,
    held,
    hub,
    payment,
    start_payment,
    stripe,
)
from tests.fakes.stripe import FakeStripe

__all__ = ["hub", "stripe"]  # fixtures


async def events_stored(client: Client, event_id: str) -> int:
    async with client.app[keys.POOL].acquire() as conn:
        return int(
            await conn.fetchval("SELECT count(*) FROM stripe_events WHERE id = $1", event_id)
        )


async def test_forged_stale_or_missing_signatures_are_refused_and_change_nothing(
    hub: Client, stripe: FakeStripe
) -> None:
    d = await deal(hub, stripe)
    intent_id = (await start_payment(hub, d))["payment_intent_id"]
    event = stripe.authorize(intent_id)
    body = stripe.body(event)
    tampered = body.replace(b'"amount_capturable": 10000', b'"amount_capturable": 1')
    for signature in (
        None,  # missing
        "",
        "t=abc,v1=zz",  # unreadable
        stripe.signature(body, secret="whsec_someone_else"),  # forged
        stripe.signature(body, at=int(time.time()) - 301),  # outside the 5 minutes
        stripe.signature(body).replace("v1=", "v0="),  # another scheme
    ):
        status, answer = await stripe.post(body, signature)
        assert status == 400, (signature, answer)
        assert answer["error"]["code"] == "validation_error"
    status, _ = await stripe.post(tampered, stripe.signature(body))  # body changed after
    assert status == 400
    assert await events_stored(hub, event["id"]) == 0
    assert (await payment(hub, d))["status"] == "requires_payment_method"
    # Within the tolerance (4 minutes old) and properly signed: applied.
    status, answer = await stripe.post(body, stripe.signature(body, at=int(time.time()) - 240))
    assert (status, answer) == (200, {"received": True, "replay": False})
    assert (await payment(hub, d))["status"] == "authorized"


async def test_a_replayed_event_is_answered_200_and_does_nothing(
    hub: Client, stripe: FakeStripe
) -> None:
    d = await deal(hub, stripe)
    intent_id = await held(hub, stripe, d)
    authorized = stripe.sent[-1]
    await hub.post(f"/api/v1/jobs/{d.id}/payment/confirm", headers=d.customer["auth"])
    assert stripe.intents[intent_id]["status"] == "succeeded"
    body = stripe.body(authorized)
    status, answer = await stripe.post(body, stripe.signature(body))
    assert (status, answer) == (200, {"received": True, "replay": True})
    assert await events_stored(hub, authorized["id"]) == 1
    assert (await payment(hub, d))["status"] == "captured"


async def test_events_out_of_order_end_in_the_right_state(hub: Client, stripe: FakeStripe) -> None:
    d = await deal(hub, stripe)
    intent_id = (await start_payment(hub, d))["payment_intent_id"]
    authorized = stripe.authorize(intent_id)
    captured = stripe.capture_outside(intent_id)  # captured in Stripe's dashboard
    # Stripe delivers succeeded first: captured straight from requires_payment_method.
    assert await stripe.deliver(captured) == [200]
    got = await payment(hub, d)
    assert got["status"] == "captured" and "captured_at" in got
    assert await stripe.deliver(authorized) == [200]  # late: nothing moves back
    assert (await payment(hub, d))["status"] == "captured"
    canceled = stripe._queue("payment_intent.canceled", {**stripe.intents[intent_id]})
    assert await stripe.deliver(canceled) == [200]  # cannot undo a capture
    assert (await payment(hub, d))["status"] == "captured"
    assert stripe.requests["POST /v1/payment_intents/{id}/capture"] == 0


async def test_a_declined_card_leaves_the_payment_waiting_for_another(
    hub: Client, stripe: FakeStripe
) -> None:
    d = await deal(hub, stripe)
    intent_id = (await start_payment(hub, d))["payment_intent_id"]
    assert await stripe.deliver(stripe.decline(intent_id)) == [200]
    assert (await payment(hub, d))["status"] == "requires_payment_method"
    async with hub.app[keys.POOL].acquire() as conn:
        error = await conn.fetchval("SELECT last_error FROM payments WHERE job_id = $1", d.id)
    assert error == "Your card was declined."
    assert await stripe.deliver(stripe.authorize(intent_id)) == [200]
    assert (await payment(hub, d))["status"] == "authorized"


async def test_unknown_events_and_unknown_intents_are_recorded_and_ignored(
    hub: Client, stripe: FakeStripe
) -> None:
    other = stripe._queue("customer.created", {"id": "cus_1", "object": "customer"})
    stray = stripe._queue(
        "payment_intent.succeeded", {"id": "pi_not_ours", "object": "payment_intent"}
    )
    assert await stripe.deliver(other, stray) == [200, 200]
    assert await events_stored(hub, other["id"]) == 1
