"""A local fake of the Stripe API endpoints the hub uses, and of Stripe's webhook delivery.

The hub's ``stripe`` client reaches it through ``STRIPE_API_BASE``. Requests arrive as
Stripe's library sends them (``application/x-www-form-urlencoded`` with bracketed nesting,
``metadata[job_id]=...``, a ``Bearer`` secret key, a ``Stripe-Version``) and are answered
with Stripe's object and error shapes. Idempotency follows Stripe's rules: a key seen before
with the same parameters gets the first answer again (``Idempotent-Replayed: true``), with
other parameters (or on another endpoint) a 400 ``idempotency_error``; concurrent requests
with one key are answered one after the other. Webhooks are posted to the hub signed as
Stripe signs them: ``Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>"
keyed with the endpoint secret>``.

What the customer's phone and Stripe's own processes do is played by the methods
:meth:`FakeStripe.authorize` (the payment sheet confirms the card), :meth:`decline`,
:meth:`finish_onboarding`, :meth:`dispute` and :meth:`expire`; each queues the event Stripe
would send, and :meth:`deliver` sends queued events (in any order the test wants).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SECRET_KEY = "sk_test_fake_0123456789abcdef"
WEBHOOK_SECRET = "whsec_fake_0123456789abcdef"


class StripeError(Exception):
    def __init__(self, status: int, type_: str, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.type, self.message, self.code = status, type_, message, code

    def response(self) -> web.Response:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
        headers = {"Stripe-Should-Retry": "false"} if self.status < 500 else None
        return web.json_response({"error": error}, status=self.status, headers=headers)


@dataclass
class FakeStripe:
    """State and script of the fake; :func:`start` serves it."""

    webhook_url: str = ""  # where events are delivered (the hub's /webhooks/stripe)
    webhook_secret: str = WEBHOOK_SECRET
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    transfers: list[dict[str, Any]] = field(default_factory=list)  # at capture
    fees: list[dict[str, Any]] = field(default_factory=list)  # application fees, at capture
    pending: list[dict[str, Any]] = field(default_factory=list)  # events not yet delivered
    sent: list[dict[str, Any]] = field(default_factory=list)  # events delivered
    requests: Counter[str] = field(default_factory=Counter)  # "POST /v1/..." per route
    effects: Counter[str] = field(default_factory=Counter)  # executed (not replayed) calls
    keys_seen: list[str] = field(default_factory=list)  # Idempotency-Key of every POST
    down: int | None = None  # every API request answers this status until cleared
    base_url: str = ""
    _idem: dict[str, tuple[str, int, bytes]] = field(default_factory=dict)
    _locks: defaultdict[str, asyncio.Lock] = field(
        default_factory=lambda: defaultdict(asyncio.Lock)
    )
    _clock: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _last_created: int = 0

    # --- what happens outside the hub ------------------------------------------------------

    def authorize(self, intent_id: str) -> dict[str, Any]:
        """The customer's payment sheet confirmed a card: the amount is held."""
        intent = self.intents[intent_id]
        charge_id = self._id("ch")
        self.charges[charge_id] = {
            "id": charge_id,
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": 0,
            "amount_refunded": 0,
            "captured": False,
            "refunded": False,
            "currency": intent["currency"],
            "payment_intent": intent_id,
            "destination": intent["transfer_data"]["destination"],
        }
        intent.update(
            status="requires_capture",
            amount_capturable=intent["amount"],
            latest_charge=charge_id,
            payment_method="pm_card_visa",
        )
        return self._queue("payment_intent.amount_capturable_updated", intent)

    def capture_outside(self, intent_id: str) -> dict[str, Any]:
        """A capture made outside the hub (Stripe's dashboard): only its event tells."""
        intent = self.intents[intent_id]
        self._captured(intent)
        return self.of_type("payment_intent.succeeded")[-1]

    def decline(self, intent_id: str) -> dict[str, Any]:
        intent = self.intents[intent_id]
        intent["last_payment_error"] = {
            "type": "card_error",
            "code": "card_declined",
            "message": "Your card was declined.",
        }
        return self._queue("payment_intent.payment_failed", intent)

    def expire(self, intent_id: str) -> dict[str, Any]:
        """Stripe cancels an uncaptured intent when its authorisation expires (~7 days)."""
        intent = self.intents[intent_id]
        intent.update(status="canceled", cancellation_reason="automatic", amount_capturable=0)
        return self._queue("payment_intent.canceled", intent)

    def finish_onboarding(self, account_id: str) -> dict[str, Any]:
        account = self.accounts[account_id]
        account.update(charges_enabled=True, payouts_enabled=True, details_submitted=True)
        return self._queue("account.updated", account)

    def dispute(self, intent_id: str, reason: str = "fraudulent") -> dict[str, Any]:
        intent = self.intents[intent_id]
        charge = self.charges[intent["latest_charge"]]
        charge["disputed"] = True
        return self._queue(
            "charge.dispute.created",
            {
                "id": self._id("dp"),
                "object": "dispute",
                "amount": charge["amount"],
                "charge": charge["id"],
                "payment_intent": intent_id,
                "currency": charge["currency"],
                "reason": reason,
                "status": "needs_response",
            },
        )

    # --- webhooks ----------------------------------------------------------------------------

    def signature(self, body: bytes, at: int | None = None, secret: str | None = None) -> str:
        """The Stripe-Signature header Stripe would send for ``body`` at time ``at``."""
        t = int(time.time()) if at is None else at
        mac = hmac.new(
            (secret or self.webhook_secret).encode(), f"{t}.".encode() + body, hashlib.sha256
        )
        return f"t={t},v1={mac.hexdigest()}"

    @staticmethod
    def body(event: dict[str, Any]) -> bytes:
        return json.dumps(event, indent=2).encode()  # Stripe sends it pretty-printed

    async def post(self, body: bytes, signature: str | None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if signature is not None:
            headers["Stripe-Signature"] = signature
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.webhook_url, data=body, headers=headers) as resp,
        ):
            return resp.status, await resp.json()

    async def deliver(self, *events: dict[str, Any]) -> list[int]:
        """Send ``events`` (all pending ones, oldest first, when none is named), signed;
        returns the hub's status for each. Delivered events leave the queue."""
        chosen = list(events) or list(self.pending)
        statuses = []
        for event in chosen:
            body = self.body(event)
            status, _ = await self.post(body, self.signature(body))
            statuses.append(status)
            if event in self.pending:
                self.pending.remove(event)
            self.sent.append(event)
        return statuses

    def of_type(self, type_: str) -> list[dict[str, Any]]:
        return [e for e in self.pending if e["type"] == type_]

    def _queue(self, type_: str, obj: dict[str, Any]) -> dict[str, Any]:
        self._last_created = max(int(time.time()), self._last_created + 1)
        event = {
            "id": self._id("evt"),
            "object": "event",
            "api_version": "2025-10-29.clover",
            "created": self._last_created,
            "data": {"object": json.loads(json.dumps(obj))},  # a snapshot
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": type_,
        }
        self.pending.append(event)
        return event

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._clock):04d}{secrets.token_hex(6)}"

    # --- the API -------------------------------------------------------------------------------

    @web.middleware
    async def _api(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        route = f"{request.method} {request.match_info.route.resource.canonical}"  # type: ignore[union-attr]
        self.requests[route] += 1
        try:
            if request.headers.get("Authorization") != f"Bearer {SECRET_KEY}":
                raise StripeError(401, "invalid_request_error", "Invalid API Key provided")
            if not request.headers.get("Stripe-Version"):
                raise StripeError(400, "invalid_request_error", "Stripe-Version missing")
            if self.down is not None:
                raise StripeError(self.down, "api_error", "Stripe is having a bad day")
            if request.method != "POST":
                return await handler(request)
            if request.content_type != "application/x-www-form-urlencoded":
                raise StripeError(400, "invalid_request_error", "form encoding expected")
            key = request.headers.get("Idempotency-Key")
            if not key:  # the hub always sends one
                raise StripeError(400, "invalid_request_error", "no Idempotency-Key")
            self.keys_seen.append(key)
            fingerprint = route + "\n" + "&".join(sorted((await request.text()).split("&")))
            async with self._locks[key]:
                if key in self._idem:
                    first, status, body = self._idem[key]
                    if first != fingerprint:
                        raise StripeError(
                            400,
                            "idempotency_error",
                            "Keys for idempotent requests can only be used with the same "
                            f"parameters they were first used with. Try using a key other "
                            f"than '{key}' if you meant to execute a different request.",
                        )
                    return web.Response(
                        body=body,
                        status=status,
                        content_type="application/json",
                        headers={"Idempotent-Replayed": "true", "Idempotency-Key": key},
                    )
                try:
                    response = await handler(request)
                except StripeError as exc:
                    response = exc.response()
                assert isinstance(response, web.Response) and response.body is not None
                self._idem[key] = (fingerprint, response.status, bytes(response.body))  # type: ignore[arg-type]
                if response.status < 400:
                    self.effects[route] += 1
                response.headers["Idempotency-Key"] = key
                return response
        except StripeError as exc:
            return exc.response()

    async def _form(self, request: web.Request) -> dict[str, Any]:
        return nested(list((await request.post()).items()))

    async def create_account(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        if form.get("type") != "express":
            raise StripeError(
                400, "invalid_request_error", "type: express expected", "parameter_invalid"
            )
        account = {
            "id": self._id("acct"),
            "object": "account",
            "type": "express",
            "email": form.get("email"),
            "capabilities": {k: "inactive" for k in form.get("capabilities", {})},
            "charges_enabled": False,
            "payouts_enabled": False,
            "details_submitted": False,
            "metadata": form.get("metadata", {}),
        }
        self.accounts[account["id"]] = account
        return web.json_response(account)

    async def get_account(self, request: web.Request) -> web.Response:
        account = self.accounts.get(request.match_info["id"])
        if account is None:
            raise StripeError(404, "invalid_request_error", "No such account", "resource_missing")
        return web.json_response(account)

    async def account_link(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        if form.get("account") not in self.accounts:
            raise StripeError(400, "invalid_request_error", "No such account", "resource_missing")
        for name in ("return_url", "refresh_url"):
            if not str(form.get(name, "")).startswith("http"):
                raise StripeError(400, "invalid_request_error", f"{name} required")
        return web.json_response(
            {
                "object": "account_link",
                "created": int(time.time()),
                "expires_at": int(time.time()) + 300,
                "url": f"https://connect.stripe.com/setup/e/{form['account']}/{secrets.token_hex(8)}",
            }
        )

    async def create_intent(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        try:
            amount = int(form["amount"])
            fee = int(form.get("application_fee_amount", 0))
        except (KeyError, ValueError):
            raise StripeError(400, "invalid_request_error", "amount: integer expected") from None
        destination = form.get("transfer_data", {}).get("destination")
        account = self.accounts.get(str(destination))
        if account is None or not account["charges_enabled"]:
            raise StripeError(400, "invalid_request_error", "destination cannot take charges")
        if amount < 50 or not 0 <= fee <= amount:
            raise StripeError(400, "invalid_request_error", "amount or fee out of range")
        intent_id = self._id("pi")
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "application_fee_amount": fee,
            "capture_method": form.get("capture_method", "automatic"),
            "client_secret": f"{intent_id}_secret_{secrets.token_hex(8)}",
            "currency": form.get("currency"),
            "latest_charge": None,
            "metadata": form.get("metadata", {}),
            "status": "requires_payment_method",
            "transfer_data": {"destination": destination},
            "automatic_payment_methods": form.get("automatic_payment_methods"),
        }
        self.intents[intent_id] = intent
        return web.json_response(intent)

    def _intent(self, request: web.Request) -> dict[str, Any]:
        intent = self.intents.get(request.match_info["id"])
        if intent is None:
            raise StripeError(
                404, "invalid_request_error", "No such payment_intent", "resource_missing"
            )
        return intent

    async def get_intent(self, request: web.Request) -> web.Response:
        return web.json_response(self._intent(request))

    async def capture(self, request: web.Request) -> web.Response:
        intent = self._intent(request)
        if intent["status"] != "requires_capture":
            raise StripeError(
                400,
                "invalid_request_error",
                "This PaymentIntent could not be captured because it has a status of "
                f"{intent['status']}.",
                "payment_intent_unexpected_state",
            )
        self._captured(intent)
        return web.json_response(intent)

    def _captured(self, intent: dict[str, Any]) -> None:
        charge = self.charges[intent["latest_charge"]]
        charge.update(captured=True, amount_captured=intent["amount"])
        intent.update(status="succeeded", amount_received=intent["amount"], amount_capturable=0)
        fee = intent["application_fee_amount"]
        self.fees.append({"charge": charge["id"], "amount": fee})
        self.transfers.append(
            {
                "destination": intent["transfer_data"]["destination"],
                "amount": intent["amount"] - fee,
                "source_transaction": charge["id"],
            }
        )
        self._queue("payment_intent.succeeded", intent)

    async def cancel(self, request: web.Request) -> web.Response:
        intent = self._intent(request)
        if intent["status"] in ("succeeded", "canceled"):
            raise StripeError(
                400,
                "invalid_request_error",
                "You cannot cancel this PaymentIntent because it has a status of "
                f"{intent['status']}.",
                "payment_intent_unexpected_state",
            )
        intent.update(
            status="canceled", cancellation_reason="requested_by_customer", amount_capturable=0
        )
        self._queue("payment_intent.canceled", intent)
        return web.json_response(intent)

    async def refund(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        intent = self.intents.get(str(form.get("payment_intent")))
        if intent is None or intent["status"] != "succeeded":
            raise StripeError(400, "invalid_request_error", "the payment is not captured")
        charge = self.charges[intent["latest_charge"]]
        if charge.get("disputed"):
            raise StripeError(400, "invalid_request_error", "charge is disputed", "charge_disputed")
        left = charge["amount"] - charge["amount_refunded"]
        amount = int(form.get("amount", left))
        if not 0 < amount <= left:
            raise StripeError(
                400,
                "invalid_request_error",
                "Refund amount is greater than unrefunded amount",
                "amount_too_large",
            )
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        refund = {
            "id": self._id("re"),
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "payment_intent": intent["id"],
            "currency": charge["currency"],
            "status": "succeeded",
        }
        self.refunds.append(refund)
        self._queue("charge.refunded", charge)
        return web.json_response(refund)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._api])

        def wrap(handler: Any) -> Any:
            async def run(request: web.Request) -> web.StreamResponse:
                try:
                    return await handler(request)  # type: ignore[no-any-return]
                except StripeError as exc:
                    return exc.response()

            return run

        app.router.add_post("/v1/accounts", wrap(self.create_account))
        app.router.add_get("/v1/accounts/{id}", wrap(self.get_account))
        app.router.add_post("/v1/account_links", wrap(self.account_link))
        app.router.add_post("/v1/payment_intents", wrap(self.create_intent))
        app.router.add_get("/v1/payment_intents/{id}", wrap(self.get_intent))
        app.router.add_post("/v1/payment_intents/{id}/capture", wrap(self.capture))
        app.router.add_post("/v1/payment_intents/{id}/cancel", wrap(self.cancel))
        app.router.add_post("/v1/refunds", wrap(self.refund))
        return app


def nested(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Stripe's form encoding back into objects: ``a[b][c]=v`` is ``{"a": {"b": {"c": v}}}``."""
    out: dict[str, Any] = {}
    for raw_key, value in pairs:
        head, *rest = raw_key.replace("]", "").split("[")
        target = out
        for part in [head, *rest][:-1]:
            target = target.setdefault(part, {})
        target[([head, *rest])[-1]] = value
    return out


async def start(fake: FakeStripe) -> TestServer:
    """Serve ``fake`` on a free local port; sets ``fake.base_url``. Close the server after."""
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    fake.base_url = str(server.make_url("")).rstrip("/")
    return server
