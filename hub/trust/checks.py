"""Contractor verification: manual, and through a background-check provider (Checkr).

* An admin sets a contractor's ``verified`` directly (:meth:`Checks.set_verified`); this
  works whether or not a provider is configured.
* An admin starts a background check (:meth:`Checks.start`): the provider gets a candidate
  (the contractor; reused across checks) and an invitation, which the provider e-mails to
  the contractor to fill in; the check is ``pending`` until the provider's webhook says
  how it ended (:meth:`Checks.receive`). One check is in flight per contractor: starting
  another while one is pending returns the pending one.
* The webhook is signed: ``X-Checkr-Signature`` is the hex HMAC-SHA256 of the raw body
  keyed with the API key (:func:`signature_ok`). Each event id is applied once. A
  ``report.completed`` whose result is ``clear`` verifies the contractor; ``consider``
  raises a flag for review (a person decides: Checkr's FCRA adjudication is not ours to
  automate) and leaves ``verified`` as it was.

Every change is written with its audit entry in one transaction; a change of
``verified`` then reaches every node's matching index (verified contractors rank first).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
import orjson

from hub.contractors import store as contractors_store
from hub.contractors.store import ContractorProfile
from hub.core.errors import NotFound, Unavailable, ValidationFailed
from hub.core.ids import new_id
from hub.jobs.matching import ContractorMatcher
from hub.trust import audit, flags
from hub.trust import checks_store as store
from hub.trust.checks_store import BackgroundCheck, Candidate

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Checkr-Signature"


@dataclass(frozen=True, slots=True)
class Invitation:
    candidate_id: str
    invitation_id: str


class ProviderError(Exception):
    """The provider refused or could not be reached; nothing was started."""


class CheckProvider(Protocol):
    """A background-check provider's API (Checkr's shapes: candidate, invitation)."""

    async def invite(self, candidate: Candidate, candidate_id: str | None) -> Invitation:
        """Create the candidate (unless ``candidate_id`` names an existing one) and an
        invitation to the check; raise :class:`ProviderError` on any failure."""
        ...


def signature_ok(api_key: str, body: bytes, signature: str | None) -> bool:
    """Checkr's webhook signature: hex HMAC-SHA256 of the raw body keyed with the API key,
    compared in constant time."""
    if not signature:
        return False
    expected = hmac.new(api_key.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


# Provider event type -> the status it gives the check (report.completed: its result).
_STATUS_OF_EVENT = {
    "report.suspended": "suspended",
    "report.canceled": "canceled",
    "invitation.expired": "expired",
    "invitation.deleted": "canceled",
}


class Checks:
    """Verification and background checks.

    Args:
        pool: the database.
        matcher: this node's contractor index (updated at once, every node told).
        provider: the background-check provider; None when none is configured
            (starting a check and the webhook answer ``unavailable``).
        api_key: the provider's API key, which also signs its webhooks.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        matcher: ContractorMatcher,
        provider: CheckProvider | None,
        api_key: str | None,
    ) -> None:
        self._pool = pool
        self._matcher = matcher
        self._provider = provider
        self._api_key = api_key

    async def set_verified(
        self, admin_id: str, contractor_id: str, verified: bool, request_id: str | None
    ) -> ContractorProfile:
        """Set a contractor's ``verified`` by hand; NotFound for non-contractors."""
        async with self._pool.acquire() as conn:
            async with conn.transaction():
                if await store.contractor(conn, contractor_id) is None:
                    raise NotFound("no such contractor")
                await store.set_verified(conn, contractor_id, verified)
                await audit.record(
                    conn,
                    admin_id,
                    audit.CONTRACTOR_VERIFIED if verified else audit.CONTRACTOR_UNVERIFIED,
                    "user",
                    contractor_id,
                    request_id,
                    {"verified": verified, "source": "manual"},
                )
            profile = await contractors_store.profile_by_id(conn, contractor_id)
        await self._reindex(contractor_id)
        if profile is None:  # deleted meanwhile
            raise NotFound("no such contractor")
        return profile

    async def start(
        self, admin_id: str, contractor_id: str, request_id: str | None
    ) -> BackgroundCheck:
        """Start a background check (or return the one pending).

        Raises:
            Unavailable: no provider is configured, or it failed.
            NotFound: no such contractor.
        """
        if self._provider is None:
            raise Unavailable("background checks are not configured (CHECKR_API_KEY)")
        async with self._pool.acquire() as conn:
            candidate = await store.contractor(conn, contractor_id)
            if candidate is None:
                raise NotFound("no such contractor")
            pending = await store.pending_check(conn, contractor_id)
            if pending is not None:
                return pending
            known_candidate = await store.last_candidate(conn, contractor_id)
        # The provider is called outside any transaction: a slow provider holds no lock.
        try:
            invitation = await self._provider.invite(candidate, known_candidate)
        except ProviderError as exc:
            log.warning("background check not started", extra={"error": str(exc)})
            raise Unavailable("the background-check provider is unavailable") from None
        async with self._pool.acquire() as conn, conn.transaction():
            check = await store.insert_check(
                conn,
                new_id("bc_"),
                contractor_id,
                invitation.candidate_id,
                invitation.invitation_id,
                admin_id,
            )
            if check is None:  # another admin started one meanwhile
                pending = await store.pending_check(conn, contractor_id)
                if pending is None:
                    raise Unavailable("the background check changed meanwhile; try again")
                return pending
            await audit.record(
                conn,
                admin_id,
                audit.BACKGROUND_CHECK_STARTED,
                "user",
                contractor_id,
                request_id,
                {"check_id": check.id, "provider": check.provider},
            )
        return check

    async def receive(self, body: bytes, signature: str | None) -> str:
        """Apply a signed provider event once; return what was done (for the log):
        ``applied``, ``duplicate`` or ``ignored``.

        Raises:
            Unavailable: no provider is configured (nothing can check the signature).
            ValidationFailed: a missing or wrong signature, or a body that is not an event.
        """
        if self._api_key is None:
            raise Unavailable("background checks are not configured (CHECKR_API_KEY)")
        if not signature_ok(self._api_key, body, signature):
            raise ValidationFailed(
                f"{SIGNATURE_HEADER}: missing or wrong signature", {"rule": "signature"}
            )
        event_id, event_type, obj = _parse_event(body)
        reindex: str | None = None
        async with self._pool.acquire() as conn, conn.transaction():
            if not await store.first_delivery(conn, event_id, event_type):
                return "duplicate"
            outcome, reindex = await self._apply(conn, event_id, event_type, obj)
        if reindex is not None:
            await self._reindex(reindex)
        return outcome

    async def _apply(
        self, conn: asyncpg.Connection, event_id: str, event_type: str, obj: dict[str, Any]
    ) -> tuple[str, str | None]:
        if event_type == "report.completed":
            status = obj.get("result")
            if status not in ("clear", "consider"):
                return "ignored", None
        else:
            status = _STATUS_OF_EVENT.get(event_type)
            if status is None:
                return "ignored", None
        candidate_id = obj.get("candidate_id")  # reports and invitations both carry it
        if not isinstance(candidate_id, str):
            return "ignored", None
        check = await store.check_of_candidate(conn, candidate_id)
        if check is None:
            log.warning("provider event for an unknown candidate", extra={"event_id": event_id})
            return "ignored", None
        report_id = obj.get("id") if event_type.startswith("report.") else None
        check = await store.settle_check(
            conn, check.id, status, report_id if isinstance(report_id, str) else None
        )
        contractor_id = check.contractor_id
        details = {"check_id": check.id, "status": status, "event_id": event_id}
        await audit.record(
            conn, None, audit.BACKGROUND_CHECK_COMPLETED, "user", contractor_id, None, details
        )
        if status == "clear":
            await store.set_verified(conn, contractor_id, True)
            await audit.record(
                conn,
                None,
                audit.CONTRACTOR_VERIFIED,
                "user",
                contractor_id,
                None,
                {"verified": True, "source": "background_check", "check_id": check.id},
            )
            return "applied", contractor_id
        if status == "consider":
            flag_id = await flags.raise_flag(
                conn,
                flags.BACKGROUND_CHECK,
                "background check: consider",
                user_id=contractor_id,
                check_id=check.id,
                details={"report_id": check.report_id, "result": status},
            )
            await audit.record(
                conn,
                None,
                audit.FLAG_RAISED,
                "flag",
                flag_id,
                None,
                {"kind": flags.BACKGROUND_CHECK, "check_id": check.id, "user_id": contractor_id},
            )
        return "applied", None

    async def _reindex(self, contractor_id: str) -> None:
        """This node's index at once (read-your-writes), every node through the bus."""
        async with self._pool.acquire() as conn:
            row = await contractors_store.index_row(conn, contractor_id)
        self._matcher.apply(contractor_id, row)
        try:
            await self._matcher.invalidate(contractor_id)
        except Exception:  # the profile is saved; other nodes catch up on their next load
            log.exception("index invalidation failed", extra={"user_id": contractor_id})


def _parse_event(body: bytes) -> tuple[str, str, dict[str, Any]]:
    """``(id, type, data.object)`` of a provider event, or a validation error."""
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ValidationFailed("body: not JSON", {"fields": {"body": "not JSON"}}) from None
    if not isinstance(event, dict):
        raise ValidationFailed("body: not an event", {"fields": {"body": "not an event"}})
    event_id, event_type = event.get("id"), event.get("type")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str):
        raise ValidationFailed("id, type: required", {"fields": {"id": "required"}})
    return event_id[:200], event_type[:200], obj if isinstance(obj, dict) else {}
