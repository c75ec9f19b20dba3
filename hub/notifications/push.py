"""What the push worker needs from a push service (FCM behind ``api/fcm.py``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from hub.notifications.content import PushContent


@dataclass(frozen=True, slots=True)
class Push:
    """One message to one device."""

    token: str
    platform: str  # ios, android or web
    content: PushContent


class Outcome(enum.Enum):
    SENT = "sent"
    DROP_TOKEN = "drop_token"  # the service says the token is dead: delete it
    RETRY = "retry"  # the service is unavailable, overloaded or failed inside: try later
    FAIL = "fail"  # will not work by retrying (e.g. our credentials for APNs are wrong)


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    error: str = ""
    retry_after_s: float | None = None  # the service's Retry-After, when it gave one


class PushSender(Protocol):
    """Sends pushes; never raises for a failed push (each gets its :class:`Result`)."""

    async def send(self, pushes: list[Push]) -> list[Result]:
        """One result per push, in order. Must not block the event loop."""
        ...

    async def close(self) -> None: ...
