"""The admin API: admins only, users and jobs lists with filters and cursors, stats, audit;
suspension on one node (tokens, sockets, login, share links, jobs, devices) and unsuspension."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from tests.api.jobs_support import admin, assigned_job, contractor_at, post_job, spot
from tests.conftest import PASSWORD, register
from tests.hub.realtime_support import connected, refused, token_of, until

Client = TestClient[Any, Any]
V1 = "/api/v1"


async def _get(client: Client, path: str, who: dict[str, Any], status: int = 200) -> Any:
    resp = await client.get(f"{V1}{path}", headers=who["auth"])
    assert resp.status == status, await resp.text()
    return await resp.json()


async def _post(
    client: Client, path: str, who: dict[str, Any], body: Any = None, status: int = 200
) -> Any:
    resp = await client.post(f"{V1}{path}", json=body, headers=who["auth"])
    assert resp.status == status, await resp.text()
    return await resp.json() if resp.status != 204 else None


async def test_only_admins_reach_admin_routes(client: Client) -> None:
    customer = await register(client, "customer")
    contractor = await register(client, "contractor")
    for who in (customer, contractor):
        for path in ("/admin/users", "/admin/jobs", "/admin/stats", "/admin/audit"):
            body = await _get(client, path, who, 403)
            assert body["error"]["code"] == "forbidden"
        body = await _post(client, f"/admin/users/{customer['user']['id']}/suspend", who,
                           {"reason": "x"}, 403)  # fmt: skip
        assert body["error"]["code"] == "forbidden"
    resp = await client.get(f"{V1}/admin/stats")
    assert resp.status == 401


async def test_users_search_filters_and_cursor(client: Client) -> None:
    boss = await admin(client)
    tag = uuid.uuid4().hex[:8]
    made = [
        await register(client, role, name=f"Zed {tag} {i}")
        for i, role in enumerate(("customer", "contractor", "customer"))
    ]
    page = await _get(client, f"/admin/users?q={tag}", boss)
    assert [u["id"] for u in page["items"]] == [m["user"]["id"] for m in reversed(made)]
    first = page["items"][0]
    assert set(first) >= {"id", "email", "name", "role", "status", "created_at"}
    assert first["status"] == "active"
    assert "password_hash" not in first

    by_email = await _get(client, f"/admin/users?q={made[1]['email'].upper()}", boss)
    assert [u["id"] for u in by_email["items"]] == [made[1]["user"]["id"]]
    contractors = await _get(client, f"/admin/users?q={tag}&role=contractor", boss)
    assert [u["role"] for u in contractors["items"]] == ["contractor"]

    seen: list[str] = []
    cursor = None
    while True:
        query = f"?q={tag}&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = await _get(client, f"/admin/users{query}", boss)
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [m["user"]["id"] for m in reversed(made)]

    # "%" and "_" are searched for, not wildcards; bad filters name the field.
    assert (await _get(client, "/admin/users?q=%25%25%25_", boss))["items"] == []
    for query, field in (
        ("role=pirate", "role"),
        ("status=gone", "status"),
        ("cursor=x", "cursor"),
    ):
        body = await _get(client, f"/admin/users?{query}", boss, 400)
        assert field in body["error"]["details"]["fields"]


async def test_jobs_list_filters_by_status(client: Client) -> None:
    boss = await admin(client)
    _, _, job = await assigned_job(client)
    page = await _get(client, "/admin/jobs?status=assigned&limit=200", boss)
    assert all(j["status"] == "assigned" for j in page["items"])
    assert job["id"] in [j["id"] for j in page["items"]]
    assert (await _get(client, "/admin/jobs?status=nope", boss, 400))["error"]["code"] == (
        "validation_error"
    )


async def test_stats_count_users_jobs_sockets(client: Client) -> None:
    boss = await admin(client)
    before = await _get(client, "/admin/stats", boss)
    assert set(before) == {"users", "jobs", "sockets", "payments"}
    assert set(before["users"]) == {"customer", "contractor", "admin"}
    assert set(before["payments"]) == {"captured_cents", "refunded_cents"}
    customer = await register(client, "customer")
    lat, lng = spot()
    await post_job(client, customer, lat, lng)
    async with connected(client, token_of(customer)):
        after = await _get(client, "/admin/stats", boss)
    assert after["users"]["customer"] == before["users"]["customer"] + 1
    assert after["jobs"]["open"] == before["jobs"]["open"] + 1
    assert after["sockets"] == before["sockets"] + 1


async def test_suspension_on_one_node(client: Client, pg_dsn: str) -> None:
    boss = await admin(client)
    customer = await register(client, "customer")
    uid = customer["user"]["id"]
    lat, lng = spot()
    await contractor_at(client, lat, lng)
    job = await post_job(client, customer, lat, lng)
    _, _, assigned = await assigned_job(client)
    await _post(client, "/devices", customer, {"platform": "ios", "token": f"dev-{uid}"}, 201)
    share = await _post(client, f"/jobs/{job['id']}/share", customer, None, 201)

    async with connected(client, token_of(customer)) as sock:
        user = await _post(client, f"/admin/users/{uid}/suspend", boss, {"reason": "fraud"})
        assert user["status"] == "suspended"
        assert user["suspended_reason"] == "fraud"
        # The access token fails at once, on this node, before any socket news.
        assert (await _get(client, "/me", customer, 401))["error"]["code"] == "unauthorized"
        await until(lambda: bool(sock.disconnect_reasons), "the socket's disconnect")
        assert sock.got("auth:revoked") == [
            {
                "reason": "suspended",
                "error": {
                    "code": "suspended",
                    "message": "this account was suspended; contact support",
                },
            }
        ]

    resp = await client.post(
        f"{V1}/auth/refresh", json={"refresh_token": customer["refresh_token"]}
    )
    assert resp.status == 401
    resp = await client.post(
        f"{V1}/auth/login", json={"email": customer["email"], "password": PASSWORD}
    )
    assert resp.status == 403
    assert (await resp.json())["error"]["code"] == "suspended"
    resp = await client.post(
        f"{V1}/auth/login", json={"email": customer["email"], "password": "wrong password!"}
    )
    assert resp.status == 401  # a wrong password does not learn the account's status
    assert (await refused(client, {"token": customer["access_token"]}))["error"]["code"] == (
        "unauthorized"
    )
    assert (await refused(client, {"share_token": share["token"]}))["error"]["code"] == (
        "unauthorized"
    )
    # Its open job was cancelled; someone else's assigned job is untouched.
    assert (await _get(client, f"/jobs/{job['id']}", boss))["status"] == "cancelled"
    assert (await _get(client, f"/jobs/{assigned['id']}", boss))["status"] == "assigned"
    conn = await asyncpg.connect(pg_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM devices WHERE user_id = $1", uid) == 0
    finally:
        await conn.close()

    listed = await _get(client, f"/admin/users?q={customer['email']}&status=suspended", boss)
    assert [u["id"] for u in listed["items"]] == [uid]
    audit = await _get(client, "/admin/audit?action=user.suspended&limit=5", boss)
    entry = audit["items"][0]
    assert entry["actor_id"] == boss["user"]["id"]
    assert entry["target"] == f"user:{uid}"
    assert entry["details"]["reason"] == "fraud"
    assert entry["details"]["open_jobs_cancelled"] == [job["id"]]

    # Unsuspended: signing in works again; the old tokens stay dead.
    user = await _post(client, f"/admin/users/{uid}/unsuspend", boss)
    assert user["status"] == "active"
    assert (await _get(client, "/me", customer, 401))["error"]["code"] == "unauthorized"
    resp = await client.post(
        f"{V1}/auth/refresh", json={"refresh_token": customer["refresh_token"]}
    )
    assert resp.status == 401
    resp = await client.post(
        f"{V1}/auth/login", json={"email": customer["email"], "password": PASSWORD}
    )
    assert resp.status == 200
    fresh = await resp.json()
    me = await client.get(f"{V1}/me", headers={"Authorization": f"Bearer {fresh['access_token']}"})
    assert me.status == 200
    audit = await _get(client, "/admin/audit?limit=1", boss)
    assert audit["items"][0]["action"] == "user.unsuspended"


async def test_suspension_edges(client: Client) -> None:
    boss = await admin(client)
    me = boss["user"]["id"]
    body = await _post(client, f"/admin/users/{me}/suspend", boss, {"reason": "oops"}, 409)
    assert body["error"]["code"] == "conflict"
    body = await _post(client, "/admin/users/u_nobody/suspend", boss, {"reason": "x"}, 404)
    assert body["error"]["code"] == "not_found"
    body = await _post(client, f"/admin/users/{me}/suspend", boss, {"reason": ""}, 400)
    assert "reason" in body["error"]["details"]["fields"]
    # Suspending twice: one audit entry, the same answer.
    victim = await register(client, "contractor")
    uid = victim["user"]["id"]
    await _post(client, f"/admin/users/{uid}/suspend", boss, {"reason": "spam"})
    again = await _post(client, f"/admin/users/{uid}/suspend", boss, {"reason": "spam"})
    assert again["status"] == "suspended"
    audit = await _get(client, "/admin/audit?action=user.suspended&limit=50", boss)
    assert [e["target"] for e in audit["items"]].count(f"user:{uid}") == 1
    assert (await _post(client, f"/admin/users/{uid}/unsuspend", boss))["status"] == "active"
    assert (await _post(client, f"/admin/users/{uid}/unsuspend", boss))["status"] == "active"
