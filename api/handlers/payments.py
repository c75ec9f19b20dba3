"""Stripe Connect onboarding, a job's payment, and Stripe's webhooks."""

from __future__ import annotations

from aiohttp import web

from api.http import caller, json_response, read_json
from api.keys import PAYMENTS, STRIPE_WEBHOOKS
from api.logs import request_id_var
from api.schemas import RefundBody
from hub.core.errors import Unavailable
from hub.payments.store import Payment


def _intent_body(payment: Payment) -> dict[str, object]:
    return {
        "payment_intent_id": payment.intent_id,
        "client_secret": payment.client_secret,
        "amount_cents": payment.amount_cents,
        "currency": payment.currency,
        "status": payment.status,
    }


async def onboard(request: web.Request) -> web.Response:
    who = caller(request, "contractor")
    account, url = await request.app[PAYMENTS].onboard(who.user_id, who.role)
    return json_response({"account_id": account.account_id, "url": url})


async def connect_status(request: web.Request) -> web.Response:
    who = caller(request, "contractor")
    account = await request.app[PAYMENTS].connect_status(who.user_id, who.role)
    if account is None:
        return json_response(
            {"charges_enabled": False, "payouts_enabled": False, "details_submitted": False}
        )
    return json_response(account.public())


async def start_payment(request: web.Request) -> web.Response:
    who = caller(request, "customer")
    payment, created = await request.app[PAYMENTS].start(
        request.match_info["id"], who.user_id, who.role
    )
    return json_response(_intent_body(payment), status=201 if created else 200)


async def get_payment(request: web.Request) -> web.Response:
    who = caller(request)
    payment = await request.app[PAYMENTS].get(request.match_info["id"], who.user_id, who.role)
    return json_response(payment.public())


async def confirm_payment(request: web.Request) -> web.Response:
    who = caller(request, "customer")
    payment = await request.app[PAYMENTS].confirm(request.match_info["id"], who.user_id, who.role)
    return json_response(payment.public())


async def refund_payment(request: web.Request) -> web.Response:
    who = caller(request, "admin")
    body = await read_json(request, RefundBody) if request.can_read_body else RefundBody()
    payment = await request.app[PAYMENTS].refund(
        request.match_info["id"], who.user_id, body.amount_cents, request_id_var.get() or None
    )
    return json_response(payment.public())


async def stripe_webhook(request: web.Request) -> web.Response:
    """Answered once the event is recorded and applied (one short transaction); a capture
    it makes due runs after the answer."""
    webhooks = request.app[STRIPE_WEBHOOKS]
    if not request.app[PAYMENTS].configured:
        raise Unavailable("payments are not configured on this hub (no STRIPE_SECRET_KEY)")
    payload = await request.read()
    applied = await webhooks.receive(payload, request.headers.get("Stripe-Signature"))
    return json_response({"received": True, "replay": not applied})
