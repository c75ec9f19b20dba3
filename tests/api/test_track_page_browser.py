"""The share-link page in a real browser: headless Chromium (the OS package) driven by
Playwright. A contractor streams points over a socket; the page must move the marker, show
the ETA, and follow the status to "Arrived" and then "Job completed", loading nothing from
outside the hub."""

from __future__ import annotations

import math
import shutil
from typing import Any

import pytest

from tests.api.jobs_support import set_status
from tests.hub.realtime_support import Client, connected, token_of
from tests.hub.tracking_support import base_ts, tracked_job

playwright_api = pytest.importorskip("playwright.async_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--headless=new",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TIMEOUT_MS = 15_000

pytestmark = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="no chromium (apt-get install -y chromium)"
)


def js_round(x: float) -> int:
    """``Math.round`` (halves up), which the page uses."""
    return math.floor(x + 0.5)


async def test_the_page_follows_the_contractor_live(client: Client) -> None:
    t = await tracked_job(client)
    resp = await client.post(f"/api/v1/jobs/{t.job_id}/share", headers=t.customer["auth"])
    link = await resp.json()
    origin = str(client.make_url("/")).rstrip("/")
    expect = playwright_api.expect
    requests: list[str] = []
    problems: list[str] = []
    ts = base_ts()

    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on(
                "console",
                lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None,
            )
            await page.goto(link["url"])
            connection = page.locator("#connection")
            await expect(connection).to_have_attribute("data-state", "live", timeout=TIMEOUT_MS)
            await expect(page.locator("#status")).to_have_text("On the way")
            marker = page.locator("#contractor")
            await expect(marker).to_have_attribute("visibility", "hidden")

            async with (
                connected(client, token_of(t.customer)) as watcher,
                connected(client, token_of(t.contractor)) as contractor,
            ):
                assert (await watcher.call("job:watch", {"job_id": t.job_id}))["ok"]

                async def send(p: dict[str, Any]) -> dict[str, Any]:
                    seen = len(watcher.got("job:location"))
                    ack = await contractor.call("location:update", p)
                    assert ack == {"ok": True, "accepted": True}, ack
                    return (await watcher.next("job:location", seen + 1))[-1]

                far = await send(t.at(1500, ts, heading=180.0, speed_mps=9.0))
                await expect(marker).to_have_attribute(
                    "data-lat", str(far["lat"]), timeout=TIMEOUT_MS
                )
                await expect(marker).to_have_attribute("visibility", "visible")
                far_y = float(await marker.get_attribute("data-y") or "nan")
                site_y = float(await page.locator("#site").get_attribute("data-y") or "nan")
                site_x = float(await page.locator("#site").get_attribute("data-x") or "nan")
                assert far_y < site_y  # north is up: the contractor is above the site
                assert abs(float(await marker.get_attribute("data-x") or "nan") - site_x) < 1.0

                near = await send(t.at(1200, ts + 30_000, heading=180.0, speed_mps=10.0))
                await expect(marker).to_have_attribute(
                    "data-lat", str(near["lat"]), timeout=TIMEOUT_MS
                )
                near_y = float(await marker.get_attribute("data-y") or "nan")
                assert far_y < near_y < site_y  # moved towards the site
                eta = page.locator("#eta")
                await expect(eta).to_have_attribute("data-eta-s", str(near["eta_s"]))
                minutes = js_round(near["eta_s"] / 60)
                expected = (
                    "Arriving in less than a minute"
                    if near["eta_s"] < 60
                    else f"Arriving in about {minutes} min"
                )
                await expect(eta).to_have_text(expected)
                await expect(page.locator("#distance")).to_have_text("1.2 km away")
                trail = await page.locator("#trail").get_attribute("points") or ""
                assert len(trail.split()) == 2

                # two points in a row within 100 m: the job arrives by itself
                await send(t.at(80, ts + 200_000))
                await send(t.at(60, ts + 205_000))
                await expect(page.locator("#status")).to_have_text("Arrived", timeout=TIMEOUT_MS)
                await expect(page.locator("#status")).to_have_attribute("data-status", "arrived")
                await expect(eta).to_have_text("Your contractor has arrived")

            for status in ("in_progress", "completed"):
                code, _ = await set_status(client, t.contractor, t.job_id, status)
                assert code == 200
            await expect(page.locator("#status")).to_have_text("Job completed", timeout=TIMEOUT_MS)
            await expect(connection).to_have_attribute("data-state", "ended", timeout=TIMEOUT_MS)
            await page.close()
        finally:
            await browser.close()

    assert problems == []
    assert requests and all(url.startswith(origin) for url in requests), requests
