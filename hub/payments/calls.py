"""What the payment actions share: their settings, idempotency keys, and provider calls with
failures as the contract's errors."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from hub.core.errors import Conflict, Unavailable
from hub.payments.provider import PaymentProvider, ProviderRefused, ProviderUnavailable

T = TypeVar("T")

NOT_CONFIGURED = "payments are not configured on this hub (no STRIPE_SECRET_KEY)"


@dataclass(frozen=True)
class PaymentConfig:
    fee_bps: int  # the platform's fee, in basis points of the amount
    hold_renew_after_s: float  # an authorisation older than this is renewed (not yet due)
    sweep_interval_s: float  # how often the sweeper looks for work


def key(*parts: object) -> str:
    """An idempotency key derived from what is done to what: ``tradeshub:job:j_1:capture:1``."""
    return ":".join(["tradeshub", *(str(p) for p in parts)])


def configured(provider: PaymentProvider | None) -> PaymentProvider:
    """The provider, or ``unavailable`` (payments are not configured)."""
    if provider is None:
        raise Unavailable(NOT_CONFIGURED)
    return provider


async def call(awaitable: Awaitable[T]) -> T:
    """A provider call, its failures as the contract's errors (nothing was stored yet)."""
    try:
        return await awaitable
    except ProviderUnavailable as exc:
        raise Unavailable("the payment provider is unavailable; try again shortly") from exc
    except ProviderRefused as exc:
        raise Conflict(f"the payment provider refused the request: {exc}") from exc
