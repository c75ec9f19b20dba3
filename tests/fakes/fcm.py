"""A local fake of Google's OAuth token endpoint and FCM's HTTP v1 ``messages:send``.

firebase-admin reaches it as it would reach Google: through a service-account JSON whose
``token_uri`` points here (google-auth posts a signed JWT assertion, verified with the
account's public key) and ``FCM_ENDPOINT``. A send must carry a token this fake issued.
Requests are checked against the real shapes (one target, string data values, durations
as ``"<n>s"``), and answers follow FCM's: ``{"name": ...}`` on success, and its error body
(``google.rpc.Status`` with an ``FcmError`` detail) for the scripted failures:
404 UNREGISTERED for tokens marked dead, 400 INVALID_ARGUMENT for tokens marked malformed,
503 UNAVAILABLE with Retry-After, 429 QUOTA_EXCEEDED.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PROJECT = "tradeshub-test"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Any of these scopes lets an access token send (firebase-admin asks for the first two).
FCM_SCOPES = frozenset(
    f"https://www.googleapis.com/auth/{s}"
    for s in ("cloud-platform", "firebase", "firebase.messaging")
)
# google-auth signs the assertion for Google's token endpoint whatever token_uri says.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
_FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"


@dataclass
class Failure:
    """One scripted answer instead of success."""

    status: int
    code: str | None  # the FcmError errorCode (None: a plain Google API error)
    retry_after: str | None = None


UNAVAILABLE = Failure(503, "UNAVAILABLE", "1")
QUOTA_EXCEEDED = Failure(429, "QUOTA_EXCEEDED", "1")
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


@dataclass
class FakeFcm:
    """State and script of the fake; :func:`start` serves it."""

    key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    client_email: str = f"push@{PROJECT}.iam.gserviceaccount.com"
    delivered: list[dict[str, Any]] = field(default_factory=list)  # messages answered 200
    requests: int = 0  # every send request, answered or not
    requests_to: Counter[str] = field(default_factory=Counter)  # the same, per device token
    tokens_issued: int = 0
    unregistered: set[str] = field(default_factory=set)  # device tokens answered 404
    invalid: set[str] = field(default_factory=set)  # device tokens answered 400 (malformed)
    # The next answers to sends to a device token, in order (then success again).
    script: defaultdict[str, deque[Failure]] = field(default_factory=lambda: defaultdict(deque))
    down: Failure | None = None  # every send answers this until cleared
    held: asyncio.Event = field(default_factory=asyncio.Event)  # cleared: sends wait
    base_url: str = ""
    _issued: set[str] = field(default_factory=set)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.held.set()

    def service_account(self, directory: Path) -> Path:
        """Write a service-account JSON for this fake; returns its path."""
        pem = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        path = directory / "service-account.json"
        path.write_text(
            json.dumps(
                {
                    "type": "service_account",
                    "project_id": PROJECT,
                    "private_key_id": "fake-key-1",
                    "private_key": pem,
                    "client_email": self.client_email,
                    "client_id": "1",
                    "token_uri": f"{self.base_url}/token",
                }
            )
        )
        return path

    def delivered_to(self, token: str) -> list[dict[str, Any]]:
        return [m for m in self.delivered if m["token"] == token]

    def per_token(self) -> Counter[str]:
        return Counter(m["token"] for m in self.delivered)

    # --- the endpoints ---------------------------------------------------------------------

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != JWT_BEARER:
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        try:
            claims = jwt.decode(
                str(form.get("assertion")),
                self.key.public_key(),
                algorithms=["RS256"],
                audience=GOOGLE_TOKEN_AUDIENCE,
            )
        except jwt.PyJWTError as exc:
            return web.json_response(
                {"error": "invalid_grant", "error_description": str(exc)}, status=400
            )
        scopes = set(str(claims.get("scope", "")).split())
        if claims.get("iss") != self.client_email or not scopes & FCM_SCOPES:
            return web.json_response({"error": "invalid_scope"}, status=400)
        self.tokens_issued += 1
        access = f"ya29.fake-{self.tokens_issued}"
        self._issued.add(access)
        return web.json_response(
            {"access_token": access, "expires_in": 3599, "token_type": "Bearer"}
        )

    async def send(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.json()
        token = body.get("message", {}).get("token") if isinstance(body, dict) else None
        self.requests_to[str(token)] += 1
        await self.held.wait()
        if request.match_info["project"] != PROJECT:
            return _error(404, "NOT_FOUND", None, "project not found")
        scheme, _, access = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or access not in self._issued:
            return _error(401, "UNAUTHENTICATED", None, "Request had invalid credentials.")
        problem = _check(body)
        if problem:
            return _error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", problem)
        message = body["message"]
        queue = self.script.get(message["token"])
        failure = self.down or (queue.popleft() if queue else None)
        if failure is not None:
            return _error(
                failure.status,
                _STATUS.get(failure.status, "UNKNOWN"),
                failure.code,
                "scripted failure",
                failure.retry_after,
            )
        if message["token"] in self.invalid:
            return _error(
                400,
                "INVALID_ARGUMENT",
                "INVALID_ARGUMENT",
                "The registration token is not a valid FCM registration token",
            )
        if message["token"] in self.unregistered:
            return _error(404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found.")
        self.delivered.append(message)
        return web.json_response({"name": f"projects/{PROJECT}/messages/{next(self._ids)}"})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/token", self.token)
        app.router.add_post("/v1/projects/{project}/messages:send", self.send)
        return app


def _check(body: Any) -> str | None:
    """What FCM would refuse as INVALID_ARGUMENT in a send request, or None."""
    if not isinstance(body, dict) or not isinstance(body.get("message"), dict):
        return "message is required"
    message = body["message"]
    targets = [k for k in ("token", "topic", "condition") if k in message]
    if targets != ["token"] or not isinstance(message["token"], str):
        return "exactly one target (token) is required"
    data = message.get("data", {})
    if not all(isinstance(v, str) for v in data.values()):
        return "data values must be strings"
    android = message.get("android", {})
    ttl = android.get("ttl")
    if ttl is not None and not (isinstance(ttl, str) and ttl.endswith("s")):
        return "android.ttl must be a duration"
    if android.get("priority") not in (None, "high", "normal"):
        return "android.priority"
    return None


def _error(
    status: int,
    grpc_status: str,
    fcm_code: str | None,
    message: str,
    retry_after: str | None = None,
) -> web.Response:
    error: dict[str, Any] = {"code": status, "message": message, "status": grpc_status}
    if fcm_code:
        error["details"] = [{"@type": _FCM_ERROR, "errorCode": fcm_code}]
    headers = {"Retry-After": retry_after} if retry_after else None
    return web.json_response({"error": error}, status=status, headers=headers)


async def start(fake: FakeFcm) -> TestServer:
    """Serve ``fake`` on a free local port; sets ``fake.base_url``. Close the server after."""
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    fake.base_url = str(server.make_url("")).rstrip("/")
    return server


# --- standalone, for the drain benchmark (loadtests/bench_push_drain.py) -------------------


def control_routes(fake: FakeFcm, app: web.Application) -> None:
    """``POST /_fake/down`` (``{"status", "code", "retry_after"}``), ``POST /_fake/up``,
    ``GET /_fake/stats``: a benchmark drives the fake from another process."""

    async def down(request: web.Request) -> web.Response:
        body = await request.json()
        fake.down = Failure(int(body["status"]), body.get("code"), body.get("retry_after"))
        return web.json_response({"ok": True})

    async def up(request: web.Request) -> web.Response:
        fake.down = None
        return web.json_response({"ok": True})

    async def stats(request: web.Request) -> web.Response:
        per_token = fake.per_token()
        return web.json_response(
            {
                "requests": fake.requests,
                "delivered": len(fake.delivered),
                "distinct_tokens": len(per_token),
                "duplicates": sum(n - 1 for n in per_token.values()),
                "tokens_issued": fake.tokens_issued,
            }
        )

    app.router.add_post("/_fake/down", down)
    app.router.add_post("/_fake/up", up)
    app.router.add_get("/_fake/stats", stats)


def main() -> None:
    """``python -m tests.fakes.fcm --port P --account PATH``: serve until killed."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--account", type=Path, required=True)
    args = parser.parse_args()

    async def serve() -> None:
        fake = FakeFcm(base_url=f"http://127.0.0.1:{args.port}")
        fake.service_account(args.account.parent)
        if args.account.name != "service-account.json":
            (args.account.parent / "service-account.json").rename(args.account)
        app = fake.app()
        control_routes(fake, app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", args.port).start()
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
