"""Stripe behind :class:`hub.payments.provider.PaymentProvider`, through the official
``stripe`` package (16.x).

The only module that imports ``stripe``. A :class:`stripe.StripeClient` of our own (no
module-level ``stripe.api_key``), its ``*_async`` methods over the library's aiohttp client
(nothing blocks the event loop), ``base_addresses`` from ``STRIPE_API_BASE`` (a local fake
in the tests), one retry by the library (with our idempotency key, so it is safe).
Webhooks are checked by the library's own verifier (``StripeClient.construct_event``,
HMAC-SHA256 of ``"<t>.<body>"``, 5-minute tolerance).
"""

from __future__ import annotations

from typing import Any

import stripe

from hub.payments.provider import (
    Account,
    BadSignature,
    Event,
    Intent,
    IntentRequest,
    ProviderRefused,
    ProviderUnavailable,
)

TOLERANCE_S = 300
TIMEOUT_S = 20.0


class StripeProvider:
    """Stripe Connect: Express accounts, manual-capture destination charges, refunds.

    Args:
        secret_key: the platform's secret key (``sk_...``); never logged.
        webhook_secret: the endpoint's signing secret (``whsec_...``); None refuses every
            webhook.
        api_base: Stripe's API address, or a fake's.
        return_url: where Stripe sends the contractor after onboarding (and, with
            ``?refresh=1``, when a link expired: the app asks for a new one).
    """

    def __init__(
        self, secret_key: str, webhook_secret: str | None, api_base: str, return_url: str
    ) -> None:
        self._webhook_secret = webhook_secret
        self._return_url = return_url
        self._http = stripe.AIOHTTPClient(timeout=TIMEOUT_S)
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base, "connect": api_base, "files": api_base},
            http_client=self._http,
            max_network_retries=1,
        )

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def create_account(self, user_id: str, email: str, idempotency_key: str) -> Account:
        account = await _guard(
            self._client.v1.accounts.create_async(
                {
                    "type": "express",
                    "email": email,
                    "capabilities": {
                        "card_payments": {"requested": True},
                        "transfers": {"requested": True},
                    },
                    "metadata": {"user_id": user_id},
                },
                {"idempotency_key": idempotency_key},
            )
        )
        return _account(account)

    async def account(self, account_id: str) -> Account:
        return _account(await _guard(self._client.v1.accounts.retrieve_async(account_id)))

    async def onboarding_link(self, account_id: str, idempotency_key: str) -> str:
        link = await _guard(
            self._client.v1.account_links.create_async(
                {
                    "account": account_id,
                    "type": "account_onboarding",
                    "return_url": self._return_url,
                    "refresh_url": f"{self._return_url}?refresh=1",
                },
                {"idempotency_key": idempotency_key},
            )
        )
        return str(link.url)

    async def create_intent(self, request: IntentRequest, idempotency_key: str) -> Intent:
        intent = await _guard(
            self._client.v1.payment_intents.create_async(
                {
                    "amount": request.amount,
                    "currency": request.currency,
                    "capture_method": "manual",
                    "automatic_payment_methods": {"enabled": True},
                    "application_fee_amount": request.fee,
                    "transfer_data": {"destination": request.destination},
                    "metadata": {"job_id": request.job_id, "customer_id": request.customer_id},
                },
                {"idempotency_key": idempotency_key},
            )
        )
        return _intent(intent)

    async def capture(self, intent_id: str, idempotency_key: str) -> Intent:
        intent = await _guard(
            self._client.v1.payment_intents.capture_async(
                intent_id, None, {"idempotency_key": idempotency_key}
            )
        )
        return _intent(intent)

    async def cancel(self, intent_id: str, idempotency_key: str) -> Intent:
        try:
            intent = await self._client.v1.payment_intents.cancel_async(
                intent_id, None, {"idempotency_key": idempotency_key}
            )
        except stripe.InvalidRequestError as exc:
            # Cancelled already (by Stripe at the hold's expiry, or by us with another key):
            # the intent as it is now says where it stands.
            if exc.code != "payment_intent_unexpected_state":
                raise ProviderRefused(_message(exc)) from None
            intent = await _guard(self._client.v1.payment_intents.retrieve_async(intent_id))
        except stripe.StripeError as exc:
            raise _translated(exc) from None
        return _intent(intent)

    async def refund(self, intent_id: str, amount: int, idempotency_key: str) -> int:
        refund = await _guard(
            self._client.v1.refunds.create_async(
                {"payment_intent": intent_id, "amount": amount},
                {"idempotency_key": idempotency_key},
            )
        )
        return int(refund.amount)

    def verify(self, payload: bytes, signature: str | None) -> Event:
        if not self._webhook_secret:
            raise BadSignature("no STRIPE_WEBHOOK_SECRET configured")
        try:
            event = self._client.construct_event(
                payload, signature, self._webhook_secret, tolerance=TOLERANCE_S
            )
        except stripe.SignatureVerificationError as exc:
            raise BadSignature(_message(exc)) from None
        except ValueError:  # the body is not JSON (its signature matched, oddly)
            raise BadSignature("the body is not a Stripe event") from None
        data: dict[str, Any] = event.to_dict()
        return Event(
            str(data["id"]),
            str(data["type"]),
            int(data.get("created") or 0),
            dict(data.get("data", {}).get("object") or {}),
        )


async def _guard(call: Any) -> Any:
    try:
        return await call
    except stripe.StripeError as exc:
        raise _translated(exc) from None


def _translated(exc: stripe.StripeError) -> Exception:
    """Unreachable, 5xx, rate limited: try later. Anything else: refused."""
    status = exc.http_status or 0
    if isinstance(exc, stripe.APIConnectionError | stripe.RateLimitError) or status >= 500:
        return ProviderUnavailable(_message(exc))
    return ProviderRefused(_message(exc))


def _message(exc: stripe.StripeError) -> str:
    return str(exc.user_message or type(exc).__name__)


def _account(account: Any) -> Account:
    return Account(
        str(account.id),
        bool(account.charges_enabled),
        bool(account.payouts_enabled),
        bool(account.details_submitted),
    )


def _intent(intent: Any) -> Intent:
    return Intent(
        str(intent.id),
        str(intent.status),
        str(intent.client_secret or ""),
        int(intent.amount),
        int(intent.amount_received or 0),
    )
