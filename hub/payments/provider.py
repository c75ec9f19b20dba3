"""What the payments domain needs of a payment provider (Stripe, through ``api/stripe.py``).

Every call that changes something takes an idempotency key derived from the job (or the
contractor) and the action, so a retried call, from this node or another, never charges,
captures, refunds or creates twice. Failures reaching the provider raise
:class:`ProviderUnavailable`; a refusal (a bad request, an intent in the wrong state)
raises :class:`ProviderRefused`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


class ProviderUnavailable(Exception):
    """The provider could not be reached or answered 5xx: retry later."""


class ProviderRefused(Exception):
    """The provider refused the request (4xx); retrying the same request will not help."""


class BadSignature(Exception):
    """A webhook whose signature is missing, forged or outside the tolerance."""


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool


@dataclass(frozen=True, slots=True)
class Intent:
    id: str
    status: str  # Stripe's PaymentIntent status
    client_secret: str
    amount: int
    amount_received: int


@dataclass(frozen=True, slots=True)
class IntentRequest:
    """A manual-capture destination charge: ``amount`` held on the customer's card, the
    platform keeps ``fee``, the rest goes to ``destination`` once captured."""

    amount: int
    currency: str
    fee: int
    destination: str
    job_id: str
    customer_id: str


@dataclass(frozen=True, slots=True)
class Event:
    """A verified webhook event: its id, type, ``created`` (seconds) and ``data.object``."""

    id: str
    type: str
    created: int
    object: dict[str, Any]


class PaymentProvider(Protocol):
    async def create_account(self, user_id: str, email: str, idempotency_key: str) -> Account:
        """An Express connected account for the contractor ``user_id``."""

    async def account(self, account_id: str) -> Account: ...

    async def onboarding_link(self, account_id: str, idempotency_key: str) -> str:
        """A fresh Account Link URL (it expires within minutes; ask again for another)."""

    async def create_intent(self, request: IntentRequest, idempotency_key: str) -> Intent: ...

    async def capture(self, intent_id: str, idempotency_key: str) -> Intent: ...

    async def cancel(self, intent_id: str, idempotency_key: str) -> Intent: ...

    async def refund(self, intent_id: str, amount: int, idempotency_key: str) -> int:
        """Refund ``amount`` of a captured intent; returns the amount refunded."""

    def verify(self, payload: bytes, signature: str | None) -> Event:
        """The event of a webhook body, after checking its signature; BadSignature otherwise."""

    async def close(self) -> None: ...
