"""The OpenAPI 3.1 document, generated from the route table and the msgspec body types."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from api.errors import STATUS
from api.routes import Route

_CODE_BY_STATUS = {status: code for code, status in STATUS.items()}
_PARAM = re.compile(r"\{(\w+)\}")


def build_openapi(routes: list[Route], version: str) -> dict[str, Any]:
    bodies = sorted({r.body for r in routes if r.body is not None}, key=lambda t: t.__name__)
    schemas: dict[str, Any] = {}
    if bodies:
        _, schemas = msgspec.json.schema_components(
            bodies, ref_template="#/components/schemas/{name}"
        )
    schemas["Error"] = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {"type": "object"},
                },
            }
        },
    }
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        op: dict[str, Any] = {
            "summary": route.summary,
            "tags": [route.tag],
            "operationId": f"{route.method.lower()}_{route.handler.__name__}_{route.tag}",
            "responses": {str(route.ok_status): {"description": "success"}},
        }
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PARAM.findall(route.path)
        ]
        params += [
            {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
            for name in route.query
        ]
        if params:
            op["parameters"] = params
        if not route.public:
            op["security"] = [{"bearer": []}]
        if route.body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{route.body.__name__}"}
                    }
                },
            }
        for status in route.errors:
            op["responses"][str(status)] = {
                "description": _CODE_BY_STATUS.get(status, "error"),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        paths.setdefault(route.path, {})[route.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Tradeshub API", "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
