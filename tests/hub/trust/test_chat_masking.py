"""Contact details hidden until booked, through the public surface: Socket.IO and REST.

Before the job is assigned to the conversation's contractor, what is stored and delivered
(ack, the other side's ``chat:message``, history, the offline notification) carries the
placeholder and ``redacted: true``, and a flag for review is raised with an audit entry.
Once the job is assigned to that contractor nothing is hidden.
"""

from __future__ import annotations

from typing import Any

from api import keys
from hub.trust.masking import PLACEHOLDER
from tests.api.jobs_support import admin, apply, contractor_at, post_job, spot
from tests.conftest import register
from tests.hub.realtime_support import Client, Pair, connected, conversation, token_of

PHONE = "call me on 07 911 123 456 tomorrow"
MASKED = f"call me on {PLACEHOLDER} tomorrow"


def send(pair: Pair, body: str, client_msg_id: str) -> dict[str, Any]:
    return {"conversation_id": pair.conversation_id, "body": body, "client_msg_id": client_msg_id}


async def history(client: Client, pair: Pair, who: dict[str, Any]) -> list[dict[str, Any]]:
    resp = await client.get(
        f"/api/v1/conversations/{pair.conversation_id}/messages", headers=who["auth"]
    )
    assert resp.status == 200
    items: list[dict[str, Any]] = (await resp.json())["items"]
    return items


async def flags_of(client: Client, message_id: str) -> list[dict[str, Any]]:
    app = client.app
    assert app is not None
    async with app[keys.POOL].acquire() as conn:
        rows = await conn.fetch(
            "SELECT kind, reason, user_id, conversation_id, details, resolved_at FROM flags"
            " WHERE message_id = $1",
            message_id,
        )
        audits = await conn.fetch(
            "SELECT action, target, details FROM audit_log WHERE action = 'flag.raised'"
            " AND details->>'message_id' = $1",
            message_id,
        )
    assert len(audits) == len(rows)
    return [dict(r) for r in rows]


async def accept(client: Client, pair: Pair, application_id: str) -> None:
    resp = await client.post(
        f"/api/v1/jobs/{pair.job_id}/applications/{application_id}/accept",
        headers=pair.customer["auth"],
    )
    assert resp.status == 200, await resp.text()


async def application_of(client: Client, pair: Pair) -> str:
    resp = await client.get(
        f"/api/v1/jobs/{pair.job_id}/applications", headers=pair.customer["auth"]
    )
    (application,) = await resp.json()
    return str(application["id"])


async def test_before_booking_contact_details_are_hidden_everywhere(client: Client) -> None:
    pair = await conversation(client)
    async with (
        connected(client, token_of(pair.customer)) as sender,
        connected(client, token_of(pair.contractor)) as receiver,
    ):
        ack = await sender.call("chat:send", send(pair, PHONE, "c-1"))
        assert ack["ok"] is True
        message = ack["message"]
        assert message["body"] == MASKED and message["redacted"] is True
        assert await receiver.next("chat:message") == [message]
        clean = await sender.call("chat:send", send(pair, "See you at 9:30, $450 ok", "c-2"))
        assert clean["message"]["body"] == "See you at 9:30, $450 ok"
        assert "redacted" not in clean["message"]
        assert await receiver.next("chat:message", 2) == [message, clean["message"]]
    assert await history(client, pair, pair.contractor) == [message, clean["message"]]
    (flag,) = await flags_of(client, message["id"])
    assert flag["kind"] == "contact_details" and flag["resolved_at"] is None
    assert flag["user_id"] == pair.customer_id
    assert flag["conversation_id"] == pair.conversation_id
    assert flag["details"] == {"original_body": PHONE}  # for the reviewer only
    assert await flags_of(client, clean["message"]["id"]) == []


async def test_rest_twin_hides_and_the_offline_push_carries_the_masked_text(
    client: Client,
) -> None:
    pair = await conversation(client)
    body = "email me: j o h n at gmail dot com"
    resp = await client.post(
        f"/api/v1/conversations/{pair.conversation_id}/messages",
        json={"body": body, "client_msg_id": "r-1"},
        headers=pair.contractor["auth"],
    )
    assert resp.status == 201
    message = await resp.json()
    assert message["body"] == f"email me: {PLACEHOLDER}" and message["redacted"] is True
    # The customer had no socket: their notification carries the stored (masked) text.
    resp = await client.get("/api/v1/notifications", headers=pair.customer["auth"])
    (notification,) = (await resp.json())["items"]
    assert "gmail" not in str(notification) and PLACEHOLDER in str(notification)
    # A resend with the same client_msg_id returns the stored message and flags nothing new.
    resp = await client.post(
        f"/api/v1/conversations/{pair.conversation_id}/messages",
        json={"body": body, "client_msg_id": "r-1"},
        headers=pair.contractor["auth"],
    )
    assert resp.status == 201 and await resp.json() == message
    assert len(await flags_of(client, message["id"])) == 1


async def test_after_assignment_nothing_is_hidden_but_other_applicants_still_are(
    client: Client,
) -> None:
    lat, lng = spot()
    chosen = await contractor_at(client, lat, lng)
    rival = await contractor_at(client, lat, lng)
    customer = await register(client, "customer")
    job = await post_job(client, customer, lat, lng)
    chosen_app = await apply(client, chosen, job["id"])
    rival_app = await apply(client, rival, job["id"])
    pair = Pair(customer, chosen, chosen_app["conversation_id"], job["id"])
    rival_pair = Pair(customer, rival, rival_app["conversation_id"], job["id"])
    await accept(client, pair, chosen_app["id"])
    async with connected(client, token_of(customer)) as sock:
        ack = await sock.call("chat:send", send(pair, PHONE, "a-1"))
        assert ack["message"]["body"] == PHONE and "redacted" not in ack["message"]
        assert await flags_of(client, ack["message"]["id"]) == []
        ack = await sock.call("chat:send", send(rival_pair, PHONE, "a-2"))
        assert ack["message"]["body"] == MASKED and ack["message"]["redacted"] is True
        assert len(await flags_of(client, ack["message"]["id"])) == 1


async def test_a_customer_who_posts_elsewhere_is_not_affected(client: Client) -> None:
    # Masking is per conversation: a booked pair's other job (not booked) is masked again.
    customer = await register(client, "customer")
    booked = await conversation(client, customer)
    await accept(client, booked, await application_of(client, booked))
    async with connected(client, token_of(customer)) as sock:
        ack = await sock.call("chat:send", send(booked, PHONE, "b-1"))
        assert ack["message"]["body"] == PHONE
        other = await conversation(client, customer)
        ack = await sock.call("chat:send", send(other, PHONE, "b-2"))
        assert ack["message"]["body"] == MASKED


async def test_an_applications_message_is_masked_too(client: Client) -> None:
    lat, lng = spot()
    contractor = await contractor_at(client, lat, lng)
    customer = await register(client, "customer")
    job = await post_job(client, customer, lat, lng)
    resp = await client.post(
        f"/api/v1/jobs/{job['id']}/applications",
        json={"quote_cents": 9000, "message": "Cheaper off the app: text 07911 123456"},
        headers=contractor["auth"],
    )
    assert resp.status == 201
    application = await resp.json()
    assert application["message"] == f"Cheaper off the app: text {PLACEHOLDER}"
    resp = await client.get(f"/api/v1/jobs/{job['id']}/applications", headers=customer["auth"])
    assert [a["message"] for a in await resp.json()] == [application["message"]]
    app = client.app
    assert app is not None
    async with app[keys.POOL].acquire() as conn:
        (flag,) = await conn.fetch(
            "SELECT kind, message_id, details FROM flags WHERE conversation_id = $1",
            application["conversation_id"],
        )
    assert flag["kind"] == "contact_details" and flag["message_id"] is None
    assert flag["details"] == {
        "original_body": "Cheaper off the app: text 07911 123456",
        "application_id": application["id"],
    }


async def test_a_reviewer_lists_and_resolves_the_flag_of_a_hidden_message(
    client: Client,
) -> None:
    pair = await conversation(client)
    boss = await admin(client)
    async with connected(client, token_of(pair.customer)) as sender:
        ack = await sender.call("chat:send", send(pair, PHONE, "c-review"))
    message_id = ack["message"]["id"]

    async def open_flags() -> list[dict[str, Any]]:
        resp = await client.get(
            "/api/v1/admin/flags?resolved=false&limit=200", headers=boss["auth"]
        )
        assert resp.status == 200, await resp.text()
        items: list[dict[str, Any]] = (await resp.json())["items"]
        return [f for f in items if f["message_id"] == message_id]

    (flag,) = await open_flags()
    assert flag["conversation_id"] == pair.conversation_id
    assert flag["resolved"] is False and flag["reason"]
    # Only admins see or resolve flags.
    resp = await client.get("/api/v1/admin/flags", headers=pair.customer["auth"])
    assert resp.status == 403
    resp = await client.post(
        f"/api/v1/admin/flags/{flag['id']}/resolve", headers=pair.contractor["auth"]
    )
    assert resp.status == 403

    resp = await client.post(
        f"/api/v1/admin/flags/{flag['id']}/resolve",
        json={"resolution": "warned the customer"},
        headers=boss["auth"],
    )
    assert resp.status == 200, await resp.text()
    resolved = await resp.json()
    assert resolved["id"] == flag["id"] and resolved["resolved"] is True
    assert resolved["resolution"] == "warned the customer"
    assert await open_flags() == []
    # Resolving again keeps the first resolution; an unknown flag is 404; a bad filter 400.
    resp = await client.post(
        f"/api/v1/admin/flags/{flag['id']}/resolve",
        json={"resolution": "something else"},
        headers=boss["auth"],
    )
    assert (await resp.json())["resolution"] == "warned the customer"
    resp = await client.post("/api/v1/admin/flags/f_nope/resolve", headers=boss["auth"])
    assert resp.status == 404
    resp = await client.get("/api/v1/admin/flags?resolved=maybe", headers=boss["auth"])
    assert (await resp.json())["error"]["code"] == "validation_error"
    resp = await client.get(
        "/api/v1/admin/audit?action=flag.resolved&limit=200", headers=boss["auth"]
    )
    entries = [e for e in (await resp.json())["items"] if e.get("target") == f"flag:{flag['id']}"]
    assert len(entries) == 1  # audited once
