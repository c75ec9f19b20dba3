"""A local fake of Checkr's REST API and of its webhooks, signed for real.

Serves ``POST /v1/candidates`` and ``POST /v1/invitations`` with Checkr's shapes (HTTP
Basic with the API key as user name; ``{id, object, ...}`` answers; 401 for another key,
400 for a missing field), records what it was asked, and can be told to fail
(``fail_with``). :meth:`FakeCheckr.send_event` posts an event the way Checkr does: JSON
``{id, object: "event", type, created_at, data: {object}}`` with ``X-Checkr-Signature``,
the hex HMAC-SHA256 of the raw body keyed with the API key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

API_KEY = "test_checkr_key_0123456789abcdef"


@dataclass
class FakeCheckr:
    api_key: str = API_KEY
    candidates: dict[str, dict[str, Any]] = field(default_factory=dict)
    invitations: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail_with: int | None = None  # every API call answers this status until cleared
    base_url: str = ""

    def _authorised(self, request: web.Request) -> bool:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            decoded = base64.b64decode(encoded, validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            return False
        return scheme.lower() == "basic" and decoded == f"{self.api_key}:"

    async def _create(self, request: web.Request, kind: str, required: tuple[str, ...]) -> Any:
        if self.fail_with is not None:
            return web.json_response({"error": "scripted failure"}, status=self.fail_with)
        if not self._authorised(request):
            return web.json_response({"error": "Bad authentication error"}, status=401)
        body = await request.json()
        missing = [k for k in required if not body.get(k)]
        if missing:
            return web.json_response({"error": f"{missing[0]} is required"}, status=400)
        object_id = secrets.token_hex(12)  # Checkr's ids: 24 hex digits, unique across tests
        answer = {"id": object_id, "object": kind, **body}
        if kind == "invitation":
            if body["candidate_id"] not in self.candidates:
                return web.json_response({"error": "Candidate not found"}, status=404)
            answer |= {"status": "pending", "invitation_url": f"{self.base_url}/i/{object_id}"}
            self.invitations[object_id] = answer
        else:
            self.candidates[object_id] = answer
        return web.json_response(answer, status=201)

    def app(self) -> web.Application:
        async def candidates(request: web.Request) -> Any:
            return await self._create(request, "candidate", ("first_name", "last_name", "email"))

        async def invitations(request: web.Request) -> Any:
            return await self._create(request, "invitation", ("candidate_id", "package"))

        app = web.Application()
        app.router.add_post("/v1/candidates", candidates)
        app.router.add_post("/v1/invitations", invitations)
        return app

    def sign(self, body: bytes) -> str:
        return hmac.new(self.api_key.encode(), body, hashlib.sha256).hexdigest()

    def report_event(
        self, candidate_id: str, result: str | None, event_type: str = "report.completed"
    ) -> dict[str, Any]:
        """An event about a report of ``candidate_id`` (include_object on, as configured)."""
        return {
            "id": secrets.token_hex(12),
            "object": "event",
            "type": event_type,
            "created_at": "2026-12-02T16:00:00Z",
            "data": {
                "object": {
                    "id": secrets.token_hex(12),
                    "object": "report",
                    "status": "complete",
                    "result": result,
                    "candidate_id": candidate_id,
                    "package": "tasker_standard",
                }
            },
        }

    async def send_event(
        self, hub_url: str, event: dict[str, Any], signature: str | None = None
    ) -> tuple[int, Any]:
        """POST ``event`` to the hub's webhook, signed (or with ``signature`` as given)."""
        body = json.dumps(event).encode()
        url = f"{hub_url.rstrip('/')}/api/v1/webhooks/checkr"
        headers = {"Content-Type": "application/json", "User-Agent": "Checkr-Webhook/1.0"}
        headers["X-Checkr-Signature"] = self.sign(body) if signature is None else signature
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=body, headers=headers) as resp,
        ):
            return resp.status, await resp.json()


async def start(fake: FakeCheckr) -> TestServer:
    """Serve ``fake`` on a free local port; sets ``fake.base_url``. Close the server after."""
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    fake.base_url = str(server.make_url("")).rstrip("/")
    return server
