"""What a push says: title, body, data, collapse key and urgency, from a notification.

Pure functions of the notification's kind and payload (the payload is what the socket event
carried), so the worker of any node renders the same push from the stored row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BODY_CHARS = 140  # a lock-screen line; the app fetches the whole message when opened

# job:status values that are pushed, and how they read. in_progress is not pushed: the
# customer is with the contractor when the work starts.
_STATUS_TEXT = {
    "assigned": "Your job has been assigned",
    "en_route": "Your contractor is on the way",
    "arrived": "Your contractor has arrived",
    "completed": "Your job is completed",
    "cancelled": "The job was cancelled",
}
PUSHED_STATUSES = frozenset(_STATUS_TEXT)
_PAYMENT_TEXT = {
    "requires_payment_method": "Please add a card for your job",
    "authorized": "Payment held for your job",
    "captured": "Payment for your job went through",
    "partially_refunded": "Part of the payment was refunded",
    "refunded": "The payment was refunded",
    "cancelled": "The payment hold was released",
    "disputed": "The payment is disputed",
}


@dataclass(frozen=True, slots=True)
class PushContent:
    """One push as the user sees it, independent of the push service."""

    title: str
    body: str
    data: dict[str, str]  # FCM data values are strings
    collapse_key: str
    high_priority: bool


def collapse_key(kind: str, payload: dict[str, Any]) -> str:
    """Per conversation for chat, per job for everything else: a burst shows as one."""
    if kind == "chat:message":
        return f"chat:{payload['conversation_id']}"
    if kind == "job:offer":
        return f"offer:{payload['job']['id']}"
    if kind == "payment:status":
        return f"payment:{payload['job_id']}"
    return f"job:{payload['job_id']}"


def cut(text: str, limit: int = BODY_CHARS) -> str:
    """``text`` on one line, at most ``limit`` characters (an ellipsis marks a cut)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def render(kind: str, payload: dict[str, Any], subject: str | None = None) -> PushContent:
    """The push of a stored notification; ``subject`` is the sender's name for chat, the
    job's title for a job status (looked up when the push is sent).

    The data carries the contract's ``{kind, job_id?, conversation_id?, seq?}``, plus
    ``status`` and ``eta_s`` for a job status, so an app can route a tap without a fetch.
    """
    data: dict[str, str] = {"kind": kind}
    if kind == "chat:message":
        data["conversation_id"] = str(payload["conversation_id"])
        data["seq"] = str(payload["seq"])
        return PushContent(
            subject or "New message",
            cut(str(payload["body"])),
            data,
            collapse_key(kind, payload),
            high_priority=True,
        )
    if kind == "job:offer":
        job = payload["job"]
        data["job_id"] = str(job["id"])
        return PushContent(
            "New job near you",
            cut(str(job.get("title") or "A customer needs you")),
            data,
            collapse_key(kind, payload),
            high_priority=False,
        )
    status = str(payload.get("status", ""))
    data["job_id"] = str(payload["job_id"])
    if status:
        data["status"] = status
    if kind == "payment:status":
        return PushContent(
            subject or "Payment update",
            _PAYMENT_TEXT.get(status, f"Payment update: {status}"),
            data,
            collapse_key(kind, payload),
            high_priority=False,
        )
    body = _STATUS_TEXT.get(status, f"Job update: {status}")
    eta = payload.get("eta_s")
    if status == "en_route" and isinstance(eta, int | float):
        data["eta_s"] = str(int(eta))
        body += f", arriving in about {max(1, round(eta / 60))} min"
    return PushContent(
        subject or "Job update",
        body,
        data,
        collapse_key(kind, payload),
        high_priority=kind == "job:status" and status == "arrived",
    )
