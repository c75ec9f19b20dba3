"""Server-to-client events: one typed payload builder per event name.

The builders return plain dicts in the contract's shapes; ``hub/notify.py`` is the only
caller that sends them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

JOB_OFFER = "job:offer"
JOB_STATUS = "job:status"
JOB_LOCATION = "job:location"
CHAT_MESSAGE = "chat:message"
CHAT_TYPING = "chat:typing"
CHAT_READ = "chat:read"
PRESENCE = "presence"


def iso(value: datetime) -> str:
    """ISO 8601 UTC with milliseconds and a Z."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def job_offer(job: dict[str, Any], distance_m: float) -> dict[str, Any]:
    return {"job": job, "distance_m": round(distance_m, 1)}


def job_status(job_id: str, status: str, at: datetime) -> dict[str, Any]:
    return {"job_id": job_id, "status": status, "at": iso(at)}


def presence(user_id: str, online: bool) -> dict[str, Any]:
    return {"user_id": user_id, "online": online}


def user_room(user_id: str) -> str:
    return f"user:{user_id}"


def job_room(job_id: str) -> str:
    return f"job:{job_id}"
