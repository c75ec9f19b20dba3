"""HTTP hygiene: the contract's error body everywhere, limits, headers, CORS, request ids."""

from __future__ import annotations

import io
from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import PASSWORD, register, unique_email
from tests.hub.realtime_support import conversation

Client = TestClient[Any, Any]


async def _error(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/json"
    body: dict[str, Any] = await resp.json()
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert "Traceback" not in await resp.text()
    return body


async def test_unknown_route_is_json_404(client: Client) -> None:
    await _error(await client.get("/api/v1/nothing-here"), 404, "not_found")


async def test_wrong_method_is_json_405(client: Client) -> None:
    resp = await client.delete("/api/v1/auth/login")
    await _error(resp, 405, "method_not_allowed")
    assert "POST" in resp.headers["Allow"]


async def test_malformed_json(client: Client) -> None:
    for raw in (b"{bad", b"[1,2", b'{"email": NaN}', b"", b"\xff\xfe"):
        resp = await client.post(
            "/api/v1/auth/login", data=raw, headers={"Content-Type": "application/json"}
        )
        await _error(resp, 400, "validation_error")


async def test_wrong_json_shapes(client: Client) -> None:
    for body in ([], "x", 1, None, {"email": {"a": 1}, "password": "x"}):
        resp = await client.post("/api/v1/auth/login", json=body)
        await _error(resp, 400, "validation_error")


async def test_unknown_fields_are_refused_naming_them(client: Client) -> None:
    """REST bodies are strict (unlike socket payloads, docs/PROTOCOL-NOTES.md): a field the
    endpoint does not take is a 400 whose details name it, and nothing is done."""
    email = unique_email()
    account = {"email": email, "password": PASSWORD, "name": "X", "role": "customer"}
    resp = await client.post("/api/v1/auth/register", json={**account, "nickname": "x"})
    body = await _error(resp, 400, "validation_error")
    assert body["error"]["details"] == {"fields": {"nickname": "unknown field"}}
    assert body["error"]["message"] == "nickname: unknown field"
    pair = await conversation(client)
    path = f"/api/v1/conversations/{pair.conversation_id}/messages"
    resp = await client.post(
        path,
        json={"body": "hi", "client_msg_id": "m-1", "attachments": []},
        headers=pair.customer["auth"],
    )
    body = await _error(resp, 400, "validation_error")
    assert body["error"]["details"] == {"fields": {"attachments": "unknown field"}}
    # nothing was done: the email is still free, the conversation still empty
    resp = await client.post("/api/v1/auth/register", json=account)
    assert resp.status == 201
    resp = await client.get(path, headers=pair.customer["auth"])
    assert (await resp.json())["items"] == []


async def test_body_over_one_mib(client: Client) -> None:
    big = b'{"email": "' + b"a" * (1024 * 1024 + 10) + b'"}'
    resp = await client.post(
        "/api/v1/auth/login", data=io.BytesIO(big), headers={"Content-Type": "application/json"}
    )
    await _error(resp, 413, "payload_too_large")


async def test_chunked_body_over_one_mib(client: Client) -> None:
    async def chunks() -> Any:
        for _ in range(20):
            yield b"a" * 100_000

    resp = await client.post(
        "/api/v1/auth/login", data=chunks(), headers={"Content-Type": "application/json"}
    )
    await _error(resp, 413, "payload_too_large")


async def test_security_headers_and_request_id(client: Client) -> None:
    resp = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert resp.status == 200
    assert resp.headers["X-Request-ID"] == "abc-123"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert "Strict-Transport-Security" not in resp.headers  # development
    resp = await client.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    generated = resp.headers["X-Request-ID"]
    assert generated and generated != "bad id with spaces"
    resp = await client.get("/nope")
    assert resp.headers["X-Request-ID"]


async def test_hsts_in_production(make_client: Any) -> None:
    client = await make_client(app_env="production")
    resp = await client.get("/health")
    assert resp.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_cors_only_for_listed_origins(make_client: Any) -> None:
    client = await make_client(cors_origins=("https://app.example.com",))
    resp = await client.options(
        "/api/v1/auth/login",
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"},
    )
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    resp = await client.options(
        "/api/v1/auth/login",
        headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"},
    )
    assert resp.status == 403
    assert "Access-Control-Allow-Origin" not in resp.headers
    resp = await client.get("/health", headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in resp.headers


async def test_auth_group_rate_limit(make_client: Any) -> None:
    client = await make_client(auth_rate_limit=3)
    for _ in range(3):
        resp = await client.post("/api/v1/auth/login", json={"email": "a@b.co", "password": "x"})
        assert resp.status in (400, 401)
    resp = await client.post("/api/v1/auth/login", json={"email": "a@b.co", "password": "x"})
    await _error(resp, 429, "rate_limited")
    assert int(resp.headers["Retry-After"]) >= 1
    # other route groups are not limited by it
    assert (await client.get("/health")).status == 200


async def test_health_ready_metrics(client: Client) -> None:
    assert (await (await client.get("/health")).json()) == {"status": "ok"}
    resp = await client.get("/ready")
    assert resp.status == 200
    assert (await resp.json())["checks"] == {"database": "ok"}
    reg = await register(client)
    await client.get("/api/v1/me", headers=reg["auth"])
    text = await (await client.get("/metrics")).text()
    assert 'tradeshub_http_requests_total{method="GET",route="/api/v1/me",status="200"} 1.0' in text
    assert "tradeshub_http_request_duration_seconds_bucket" in text
    assert "tradeshub_sockets_open 0.0" in text
    assert "tradeshub_db_pool_size" in text


async def test_openapi_lists_every_route(client: Client) -> None:
    doc = await (await client.get("/api/v1/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    app = client.server.app
    assert app is not None
    for resource in app.router.resources():
        path = resource.canonical
        if path.startswith("/socket.io"):
            continue
        for route in resource:
            if route.method in ("HEAD", "OPTIONS", "*"):
                continue
            assert route.method.lower() in doc["paths"].get(path, {}), (route.method, path)
    register_op = doc["paths"]["/api/v1/auth/register"]["post"]
    schema_ref = register_op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert schema_ref.rsplit("/", 1)[1] in doc["components"]["schemas"]
