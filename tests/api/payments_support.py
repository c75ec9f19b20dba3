"""Fixtures and helpers of the payment tests: the fake Stripe, hubs that pay through it, and
jobs walked to the point where they can be paid."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from api import keys
from tests.api.jobs_support import assigned_job
from tests.fakes.stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe, start
from tests.support.waiting import eventually

Client = TestClient[Any, Any]


@pytest.fixture
async def stripe() -> AsyncIterator[FakeStripe]:
    fake = FakeStripe()
    server = await start(fake)
    try:
        yield fake
    finally:
        await server.close()


def stripe_settings(fake: FakeStripe, **extra: Any) -> dict[str, Any]:
    """Settings changes that make a hub pay through ``fake`` (the sweeper idle unless asked)."""
    return {
        "stripe_secret_key": SECRET_KEY,
        "stripe_webhook_secret": WEBHOOK_SECRET,
        "stripe_api_base": fake.base_url,
        "payment_sweep_s": 3600.0,
        **extra,
    }


async def paying_hub(make_client: Callable[..., Any], fake: FakeStripe, **extra: Any) -> Client:
    client: Client = await make_client(**stripe_settings(fake, **extra))
    fake.webhook_url = str(client.make_url("/api/v1/webhooks/stripe"))
    return client


@pytest.fixture
async def hub(make_client: Callable[..., Any], stripe: FakeStripe) -> Client:
    return await paying_hub(make_client, stripe)


@dataclass
class Deal:
    """A job assigned to an onboarded contractor (quote 10,000), its parties."""

    customer: dict[str, Any]
    contractor: dict[str, Any]
    job: dict[str, Any]
    account_id: str

    @property
    def id(self) -> str:
        return str(self.job["id"])


async def onboarded(client: Client, fake: FakeStripe, contractor: dict[str, Any]) -> str:
    resp = await client.post("/api/v1/payments/connect/onboard", headers=contractor["auth"])
    assert resp.status == 200, await resp.text()
    account_id = str((await resp.json())["account_id"])
    assert await fake.deliver(fake.finish_onboarding(account_id)) == [200]
    return account_id


async def deal(client: Client, fake: FakeStripe) -> Deal:
    customer, contractor, job = await assigned_job(client)
    account_id = await onboarded(client, fake, contractor)
    return Deal(customer, contractor, job, account_id)


async def start_payment(client: Client, d: Deal, status: int = 201) -> dict[str, Any]:
    resp = await client.post(f"/api/v1/jobs/{d.id}/payment", headers=d.customer["auth"])
    body: dict[str, Any] = await resp.json()
    assert resp.status == status, body
    return body


async def payment(client: Client, d: Deal, who: dict[str, Any] | None = None) -> dict[str, Any]:
    resp = await client.get(f"/api/v1/jobs/{d.id}/payment", headers=(who or d.customer)["auth"])
    body: dict[str, Any] = await resp.json()
    assert resp.status == 200, body
    return body


async def held(client: Client, fake: FakeStripe, d: Deal) -> str:
    """Start the payment and have the customer's card held; returns the intent id."""
    intent_id = str((await start_payment(client, d))["payment_intent_id"])
    assert await fake.deliver(fake.authorize(intent_id)) == [200]
    assert (await payment(client, d))["status"] == "authorized"
    return intent_id


async def status_becomes(client: Client, d: Deal, status: str, within: float = 10.0) -> None:
    async def check() -> bool:
        return (await payment(client, d))["status"] == status

    await eventually(check, within=within)


async def audit_entries(client: Client, job_id: str) -> list[dict[str, Any]]:
    app = client.app
    assert app is not None
    async with app[keys.POOL].acquire() as conn:
        rows = await conn.fetch(
            "SELECT actor_id, action, details FROM audit_log WHERE target = $1 ORDER BY id",
            f"job:{job_id}",
        )
    return [dict(r) for r in rows]
