"""Checkr's REST API, behind :class:`hub.trust.checks.CheckProvider`.

Two calls start a check: ``POST /v1/candidates`` (the contractor: name and e-mail; a
contractor checked before keeps their candidate) and ``POST /v1/invitations`` (the
candidate, the package, the work location), after which Checkr e-mails the contractor a
link to give their details and consent. Authentication is HTTP Basic with the API key as
user name and no password, as Checkr documents. ``CHECKR_API_BASE`` points the client at
another host (tests run a local fake, tests/fakes/checkr.py).
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from hub.trust.checks import Invitation, ProviderError
from hub.trust.checks_store import Candidate

log = logging.getLogger(__name__)

TIMEOUT = aiohttp.ClientTimeout(total=10)


def split_name(name: str) -> tuple[str, str]:
    """First and last name from the account's one name field ("Ann Lee Smith" ->
    "Ann", "Lee Smith"); a single word is both, as Checkr requires a last name."""
    parts = name.split(maxsplit=1)
    if not parts:
        return "-", "-"
    return parts[0], parts[1] if len(parts) > 1 else parts[0]


class CheckrClient:
    """Checkr's candidate and invitation endpoints.

    Args:
        session: the HTTP client (owned by the feature context that closes it).
        api_key: the secret key.
        base_url: ``https://api.checkr.com`` or a fake's address.
        package: the Checkr package slug checks are ordered with.
        work_country: ISO country of the work location the invitation names.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_key: str,
        base_url: str,
        package: str,
        work_country: str = "US",
    ) -> None:
        self._session = session
        self._headers = {"Authorization": aiohttp.encode_basic_auth(api_key, "")}
        self._base = base_url.rstrip("/")
        self._package = package
        self._work_country = work_country

    async def invite(self, candidate: Candidate, candidate_id: str | None) -> Invitation:
        if candidate_id is None:
            first, last = split_name(candidate.name)
            created = await self._post(
                "/v1/candidates",
                {
                    "first_name": first,
                    "last_name": last,
                    "email": candidate.email,
                    "custom_id": candidate.user_id,
                },
            )
            candidate_id = str(created["id"])
        invitation = await self._post(
            "/v1/invitations",
            {
                "candidate_id": candidate_id,
                "package": self._package,
                "work_locations": [{"country": self._work_country}],
            },
        )
        return Invitation(candidate_id, str(invitation["id"]))

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            async with self._session.post(
                self._base + path, json=body, headers=self._headers, timeout=TIMEOUT
            ) as resp:
                if resp.status >= 300:
                    text = (await resp.text())[:300]
                    raise ProviderError(f"Checkr {path}: HTTP {resp.status}: {text}")
                answer = await resp.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ProviderError(f"Checkr {path}: {type(exc).__name__}: {exc}") from None
        if not isinstance(answer, dict) or not answer.get("id"):
            raise ProviderError(f"Checkr {path}: an answer without an id")
        return answer
