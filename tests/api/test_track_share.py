"""Share links: POST /jobs/{id}/share, share-token sockets, revocation, expiry, job end, and
the GET /track/{token} page (its friendly answers for dead links)."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import socketio

from api import keys
from hub.accounts.tokens import TokenCodec
from tests.api.jobs_support import admin, set_status
from tests.conftest import register
from tests.hub.realtime_support import (
    WAIT,
    Client,
    Sock,
    connected,
    identities_of,
    refused,
    token_of,
    until,
    url_of,
)
from tests.hub.tracking_support import Tracked, base_ts, tracked_job

MakeClient = Callable[..., Any]


async def share(client: Client, who: dict[str, Any] | None, job_id: str) -> tuple[int, Any]:
    resp = await client.post(f"/api/v1/jobs/{job_id}/share", headers=who["auth"] if who else {})
    return resp.status, await resp.json()


async def new_link(client: Client, t: Tracked) -> dict[str, Any]:
    status, body = await share(client, t.customer, t.job_id)
    assert status == 201, body
    return dict(body)


@contextlib.asynccontextmanager
async def viewer(client: Client, share_token: str) -> AsyncIterator[Sock]:
    sio = socketio.AsyncClient(reconnection=False)
    sock = Sock(sio)
    try:
        await sio.connect(
            url_of(client),
            auth={"share_token": share_token},
            transports=["websocket"],
            wait_timeout=WAIT,
        )
        yield sock
    finally:
        await sio.disconnect()


async def page(client: Client, token: str) -> tuple[int, str, Any]:
    resp = await client.get(f"/track/{token}")
    return resp.status, await resp.text(), resp.headers


async def test_the_owner_makes_an_absolute_link_valid_for_24_hours(client: Client) -> None:
    t = await tracked_job(client)
    before = datetime.now(UTC)
    link = await new_link(client, t)
    assert set(link) == {"token", "url", "expires_at"}
    assert link["url"] == f"{str(client.make_url('/')).rstrip('/')}/track/{link['token']}"
    expires = datetime.fromisoformat(link["expires_at"].replace("Z", "+00:00"))
    assert link["expires_at"].endswith("Z")
    assert before + timedelta(hours=23, minutes=59) < expires <= before + timedelta(hours=24)
    staff = await admin(client)
    status, _ = await share(client, staff, t.job_id)
    assert status == 201


async def test_the_link_uses_the_public_url_when_configured(make_client: MakeClient) -> None:
    client = await make_client(public_url="https://hub.example.com")
    t = await tracked_job(client)
    link = await new_link(client, t)
    assert link["url"] == f"https://hub.example.com/track/{link['token']}"


async def test_who_may_share(client: Client) -> None:
    t = await tracked_job(client)
    stranger = await register(client, "customer")
    for who, expected in ((t.contractor, 403), (stranger, 404), (None, 401)):
        status, body = await share(client, who, t.job_id)
        assert status == expected, body
    status, body = await share(client, t.customer, "j_missing")
    assert status == 404
    code, _ = await set_status(client, t.customer, t.job_id, "cancelled")
    assert code == 200
    status, body = await share(client, t.customer, t.job_id)
    assert status == 409 and body["error"]["code"] == "conflict"


async def test_a_viewer_watches_that_job_only(client: Client) -> None:
    t = await tracked_job(client)
    other = await tracked_job(client)
    link = await new_link(client, t)
    ts = base_ts()
    async with (
        connected(client, token_of(t.contractor)) as contractor,
        viewer(client, link["token"]) as watching,
    ):
        await contractor.call("location:update", t.at(1500, ts))
        ack = await watching.call("job:watch", {"job_id": t.job_id})
        assert ack["ok"] is True and ack["job"] == {"id": t.job_id, "status": "en_route"}
        assert ack["location"] == t.at(1500, ts) and ack["eta_s"] > 0
        await contractor.call("location:update", t.at(1490, ts + 1000))
        [p] = await watching.next("job:location")
        assert p["ts"] == ts + 1000 and 1480 < p["distance_m"] < 1500
        refused_watch = await watching.call("job:watch", {"job_id": other.job_id})
        assert refused_watch["ok"] is False and refused_watch["error"]["code"] == "not_found"
        for event, data in (
            ("location:update", t.at(1, ts + 5000)),
            ("location:batch", {"points": []}),
            ("chat:join", {"conversation_id": "c"}),
        ):
            ack = await watching.call(event, data)
            assert ack["ok"] is False and ack["error"]["code"] == "forbidden", (event, ack)
        # a share token is no access token, and the reverse
        assert (await watching.call("auth:refresh", {"token": link["token"]}))["ok"] is False
    error = await refused(client, {"token": link["token"]})
    assert error["error"]["code"] == "unauthorized"
    error = await refused(client, {"share_token": token_of(t.customer)})
    assert error["error"]["code"] == "unauthorized"


async def test_completing_the_job_ends_the_link(client: Client) -> None:
    t = await tracked_job(client, "in_progress")
    link = await new_link(client, t)
    status, html, _ = await page(client, link["token"])
    assert status == 200
    async with viewer(client, link["token"]) as watching:
        await watching.call("job:watch", {"job_id": t.job_id})
        sid = watching.sid
        code, _ = await set_status(client, t.contractor, t.job_id, "completed")
        assert code == 200
        [done] = await watching.next("job:status")
        assert done["status"] == "completed"
        await until(lambda: sid not in identities_of(client), "the viewer to be disconnected")
    error = await refused(client, {"share_token": link["token"]})
    assert error["error"]["code"] == "unauthorized"
    status, html, headers = await page(client, link["token"])
    assert status == 410 and "has ended" in html and "completed" in html
    assert headers["Content-Type"].startswith("text/html")


async def test_revoking_ends_every_link_and_its_viewers(client: Client) -> None:
    t = await tracked_job(client)
    first, second = await new_link(client, t), await new_link(client, t)
    async with viewer(client, first["token"]) as watching:
        sid = watching.sid
        stranger = await register(client, "customer")
        resp = await client.delete(f"/api/v1/jobs/{t.job_id}/share", headers=stranger["auth"])
        assert resp.status == 404
        resp = await client.delete(f"/api/v1/jobs/{t.job_id}/share", headers=t.contractor["auth"])
        assert resp.status == 403
        resp = await client.delete(f"/api/v1/jobs/{t.job_id}/share", headers=t.customer["auth"])
        assert resp.status == 204
        await until(lambda: sid not in identities_of(client), "the viewer to be disconnected")
    for link in (first, second):
        error = await refused(client, {"share_token": link["token"]})
        assert error["error"]["code"] == "unauthorized"
        status, html, _ = await page(client, link["token"])
        assert status == 410 and "revoked" in html
    third = await new_link(client, t)  # the owner may share again
    status, _, _ = await page(client, third["token"])
    assert status == 200


async def test_expired_links_are_refused(client: Client) -> None:
    t = await tracked_job(client)
    link = await new_link(client, t)
    # the stored expiry passed (as after 24 h)
    async with client.app[keys.POOL].acquire() as conn:
        await conn.execute(
            "UPDATE share_links SET expires_at = now() - interval '1 second' WHERE job_id = $1",
            t.job_id,
        )
    error = await refused(client, {"share_token": link["token"]})
    assert error["error"]["code"] == "unauthorized"
    status, html, _ = await page(client, link["token"])
    assert status == 410 and "expired" in html
    # a token whose own expiry passed
    settings = client.app[keys.SETTINGS]
    yesterday = TokenCodec(settings.jwt_secret, 900, 900, clock=lambda: time.time() - 86_500)
    old = yesterday.issue(t.job_id, "viewer", "share", 86_400).token
    status, html, _ = await page(client, old)
    assert status == 410 and "expired" in html
    error = await refused(client, {"share_token": old})
    assert error["error"]["code"] == "unauthorized"


async def test_unknown_links_get_a_plain_page(client: Client) -> None:
    t = await tracked_job(client)
    forged = TokenCodec("another secret of enough length 0123456789", 900, 900)
    unknown_jti = client.app[keys.TOKENS].issue(t.job_id, "viewer", "share", 3600).token
    for token in (
        "garbage",
        "a.b.c",
        forged.issue(t.job_id, "viewer", "share", 3600).token,
        token_of(t.customer),  # an access token is no share token
        unknown_jti,  # signed, but never stored
        "x" * 5000,
    ):
        status, html, headers = await page(client, token)
        assert status == 404, token
        assert "not found" in html.lower() and "Traceback" not in html
        assert headers["Content-Type"].startswith("text/html")
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        error = await refused(client, {"share_token": token})
        assert error["error"]["code"] == "unauthorized"


async def test_the_page_and_its_assets(client: Client) -> None:
    t = await tracked_job(client)
    ts = base_ts()
    async with connected(client, token_of(t.contractor)) as contractor:
        await contractor.call("location:update", t.at(800, ts))
    link = await new_link(client, t)
    status, html, headers = await page(client, link["token"])
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    csp = headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    assert '<script src="static/track.js" defer></script>' in html
    assert '<script src="static/socket.io.min.js" defer></script>' in html
    assert "http://" not in html and "https://" not in html.replace("http://www.w3.org", "")
    state_json = html.split('<script type="application/json" id="state">')[1].split("</script>")[0]
    assert t.job_id in state_json and '"site"' in state_json and '"breadcrumb"' in state_json
    for name, kind in (
        ("track.js", "text/javascript"),
        ("socket.io.min.js", "text/javascript"),
        ("track.css", "text/css"),
    ):
        resp = await client.get(f"/track/static/{name}")
        assert resp.status == 200 and resp.headers["Content-Type"].startswith(kind), name
        body = await resp.text()
        assert "//cdn" not in body and "sourceMappingURL" not in body
    for missing in ("track.html", "..%2Fshare.py", "nope.js"):
        resp = await client.get(f"/track/static/{missing}")
        assert resp.status == 404, missing


async def test_a_title_cannot_break_out_of_the_page(client: Client) -> None:
    t = await tracked_job(client)
    title = '</script><script>alert(1)</script> {{state}} & "co"'
    async with client.app[keys.POOL].acquire() as conn:
        await conn.execute("UPDATE jobs SET title = $2 WHERE id = $1", t.job_id, title)
    link = await new_link(client, t)
    status, html, _ = await page(client, link["token"])
    assert status == 200
    assert "<script>alert(1)" not in html
    state_json = html.split('<script type="application/json" id="state">')[1].split("</script>")[0]
    assert json.loads(state_json)["title"] == title  # intact as data, inert as markup
    assert '<h1 id="title">&lt;/script&gt;&lt;script&gt;alert(1)' in html
