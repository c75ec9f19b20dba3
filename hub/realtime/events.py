"""Server-to-client events: one typed payload builder per event name.

The builders return plain dicts in the contract's shapes; ``hub/realtime/notify.py`` is the only
caller that sends them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.chat.store import Message

JOB_OFFER = "job:offer"
JOB_STATUS = "job:status"
JOB_LOCATION = "job:location"
CHAT_MESSAGE = "chat:message"
CHAT_TYPING = "chat:typing"
CHAT_READ = "chat:read"
PRESENCE = "presence"
AUTH_EXPIRED = "auth:expired"
AUTH_REVOKED = "auth:revoked"
SERVER_CLOSING = "server:closing"
PAYMENT_STATUS = "payment:status"


def iso(value: datetime) -> str:
    """ISO 8601 UTC with milliseconds and a Z (``value`` in UTC, as asyncpg returns it)."""
    # isoformat is C code; strftime was 4 % of the hub's CPU on the chat path.
    return value.isoformat(timespec="milliseconds")[:23] + "Z"


def iso_epoch(seconds: float) -> str:
    """``iso`` of a time given in seconds since the epoch."""
    return iso(datetime.fromtimestamp(seconds, UTC))


def job_offer(job: dict[str, Any], distance_m: float) -> dict[str, Any]:
    return {"job": job, "distance_m": round(distance_m, 1)}


def job_status(job_id: str, status: str, at: datetime) -> dict[str, Any]:
    return {"job_id": job_id, "status": status, "at": iso(at)}


def payment_status(job_id: str, status: str) -> dict[str, Any]:
    """``payment:status``: the job's payment moved (the app fetches GET /jobs/{id}/payment)."""
    return {"job_id": job_id, "status": status}


def job_location(
    job_id: str,
    contractor_id: str,
    lat: float,
    lng: float,
    ts: float,
    heading: float | None = None,
    speed_mps: float | None = None,
    accuracy_m: float | None = None,
    eta_s: int | None = None,
    distance_m: float | None = None,
) -> dict[str, Any]:
    """``job:location``; optional fields are left out rather than sent as null."""
    out: dict[str, Any] = {
        "job_id": job_id,
        "contractor_id": contractor_id,
        "lat": lat,
        "lng": lng,
        "ts": ts,
    }
    if heading is not None:
        out["heading"] = heading
    if speed_mps is not None:
        out["speed_mps"] = speed_mps
    if accuracy_m is not None:
        out["accuracy_m"] = accuracy_m
    if eta_s is not None:
        out["eta_s"] = eta_s
    if distance_m is not None:
        out["distance_m"] = distance_m
    return out


def presence(user_id: str, online: bool) -> dict[str, Any]:
    return {"user_id": user_id, "online": online}


def chat_message(msg: Message) -> dict[str, Any]:
    """The contract's message; also the body of acks and REST responses. ``redacted: true``
    only on a message whose contact details were hidden (absent otherwise)."""
    out: dict[str, Any] = {
        "id": msg.id,
        "conversation_id": msg.conversation_id,
        "seq": msg.seq,
        "sender_id": msg.sender_id,
        "body": msg.body,
        "client_msg_id": msg.client_msg_id,
        "created_at": iso(msg.created_at),
    }
    if msg.redacted:  # contact details hidden before booking (PROTOCOL.md 1.1)
        out["redacted"] = True
    return out


def chat_typing(conversation_id: str, user_id: str) -> dict[str, Any]:
    return {"conversation_id": conversation_id, "user_id": user_id}


def chat_read(conversation_id: str, user_id: str, seq: int) -> dict[str, Any]:
    return {"conversation_id": conversation_id, "user_id": user_id, "seq": seq}


def server_closing(reason: str) -> dict[str, Any]:
    """Sent to every socket of a node that is shutting down, just before it closes them."""
    return {"reason": reason}


def auth_expired() -> dict[str, Any]:
    """Sent to a socket just before it is disconnected for expired credentials."""
    return {
        "error": {
            "code": "unauthorized",
            "message": "access token expired; reconnect with a fresh token",
        }
    }


def auth_revoked(reason: str) -> dict[str, Any]:
    """Sent to each socket of a user whose tokens were cut (``reason``: ``suspended``), just
    before it is disconnected; reconnecting and signing in are refused while it lasts."""
    messages = {"suspended": "this account was suspended; contact support"}
    return {
        "reason": reason,
        "error": {"code": reason, "message": messages.get(reason, "your session was revoked")},
    }


def user_room(user_id: str) -> str:
    return f"user:{user_id}"


def job_room(job_id: str) -> str:
    return f"job:{job_id}"
