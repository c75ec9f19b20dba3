"""The Stripe adapter against the fake: Stripe's idempotency semantics as the library sees
them, errors as the domain's, and the configuration of payments."""

from __future__ import annotations

import pytest

from api.config import ConfigError, Settings
from api.stripe_provider import StripeProvider
from hub.payments import states
from hub.payments.provider import IntentRequest, ProviderRefused, ProviderUnavailable
from tests.api.payments_support import stripe
from tests.fakes.stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe

__all__ = ["stripe"]  # fixtures


async def test_same_key_same_answer_other_parameters_refused(stripe: FakeStripe) -> None:
    provider = StripeProvider(SECRET_KEY, WEBHOOK_SECRET, stripe.base_url, "https://app/done")
    try:
        account = await provider.create_account("u_1", "a@example.com", "k-account")
        assert await provider.create_account("u_1", "a@example.com", "k-account") == account
        stripe.finish_onboarding(account.id)
        request = IntentRequest(5_000, "usd", 500, account.id, "j_1", "u_2")
        first = await provider.create_intent(request, "k-intent")
        assert await provider.create_intent(request, "k-intent") == first
        assert len(stripe.intents) == 1
        other = IntentRequest(5_001, "usd", 500, account.id, "j_1", "u_2")
        with pytest.raises(ProviderRefused, match="same parameters"):
            await provider.create_intent(other, "k-intent")
        with pytest.raises(ProviderRefused):  # not held: Stripe refuses the capture
            await provider.capture(first.id, "k-capture")
        cancelled = await provider.cancel(first.id, "k-cancel")
        assert cancelled.status == "canceled"
        # Cancelled already (another key): the intent as it stands, not an error.
        assert (await provider.cancel(first.id, "k-cancel-2")).status == "canceled"
        stripe.down = 503
        with pytest.raises(ProviderUnavailable):
            await provider.account(account.id)
    finally:
        await provider.close()


def test_payment_settings_parsed_and_secrets_masked() -> None:
    env = {
        "STRIPE_SECRET_KEY": "sk_live_verysecret",
        "STRIPE_WEBHOOK_SECRET": "whsec_verysecret",
        "STRIPE_API_BASE": "http://127.0.0.1:9999/",
        "PLATFORM_FEE_BPS": "1250",
        "PAYMENT_HOLD_RENEW": "5d",
    }
    settings = Settings.from_env(env)
    assert settings.stripe_api_base == "http://127.0.0.1:9999"
    assert settings.platform_fee_bps == 1250
    assert settings.payment_hold_renew_s == 5 * 86400
    described = settings.describe()
    assert described["stripe_secret_key"] == described["stripe_webhook_secret"] == "***"
    assert "verysecret" not in repr(settings) and "verysecret" not in str(described)
    defaults = Settings.from_env({})
    assert defaults.stripe_secret_key is None and defaults.platform_fee_bps == 1000
    assert defaults.stripe_api_base == "https://api.stripe.com"
    assert defaults.describe()["stripe_secret_key"] is None
    for bad in ({"PLATFORM_FEE_BPS": "10001"}, {"STRIPE_API_BASE": "ftp://x"}):
        with pytest.raises(ConfigError):
            Settings.from_env(bad)


def test_the_status_machine_only_moves_forward() -> None:
    order = ["requires_payment_method", "authorized", "captured", "partially_refunded"]
    for i, current in enumerate(order):
        for earlier in order[: i + 1]:
            assert not states.is_legal(current, earlier)
    assert states.is_legal("requires_payment_method", "captured")  # succeeded seen first
    assert states.is_legal("authorized", "cancelled")
    assert not states.is_legal("captured", "cancelled")
    assert not any(states.is_legal(s, "requires_payment_method") for s in states.STATUSES)
    assert states.TRANSITIONS["cancelled"] == states.TRANSITIONS["disputed"] == frozenset()
    assert set(states.TRANSITIONS) == set(states.STATUSES)
    assert [states.from_intent(s) for s in ("requires_capture", "succeeded", "canceled")] == [
        "authorized",
        "captured",
        "cancelled",
    ]
    assert states.from_intent("requires_action") == "requires_payment_method"
    assert states.fee_of(10_000, 1000) == 1_000
    assert states.fee_of(999, 1000) == 99  # rounded down, integers only
    assert states.after_refund(10_000, 3_000) == "partially_refunded"
    assert states.after_refund(10_000, 10_000) == "refunded"
