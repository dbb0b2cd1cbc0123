"""The OpenAPI 3.1 document, built from the routes themselves: every ``ApiRoute`` carries a
``Doc``, so a route cannot exist without appearing here."""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Iterable
from typing import Any

from starlette.routing import BaseRoute, Route

from floww.entrypoints.http.codec import ApiRoute, Doc

__all__ = ["SCHEMAS", "build_document", "items_of", "openapi_path", "ref"]

_STR = {"type": "string"}
_STR_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
_ANY: dict[str, Any] = {}


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def items_of(name: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"items": {"type": "array", "items": ref(name)}},
        "required": ["items"],
    }


def _obj(required_: Iterable[str] = (), /, **properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required_)}


SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": _obj(["error"], error=_obj(["type", "message"], type=_STR, message=_STR)),
    "Namespace": _obj(["id", "name"], id=_STR, name=_STR, created_at=_STR),
    "Workflow": _obj(
        ["id", "namespace_id", "name"],
        id=_STR,
        namespace_id=_STR,
        name=_STR,
        description=_STR,
        created_at=_STR,
    ),
    "ProviderRef": _obj(["type"], type=_STR, alias=_STR),
    "TriggerSpec": _obj(
        ["provider", "trigger_type"],
        provider=ref("ProviderRef"),
        trigger_type=_STR,
        input={"type": "object"},
    ),
    "CodeBundle": _obj(["entrypoint", "files"], digest=_STR, entrypoint=_STR, files=_STR_MAP),
    "ProviderField": _obj(
        ["name"], name=_STR, label=_STR, secret={"type": "boolean"}, required={"type": "boolean"}
    ),
    "ProviderType": _obj(
        ["type", "fields"], type=_STR, fields={"type": "array", "items": ref("ProviderField")}
    ),
    "Provider": _obj(["type", "alias", "config"], id=_STR, type=_STR, alias=_STR, config=_STR_MAP),
    "Runtime": _obj(
        ["id", "namespace_id", "spec_hash", "image_ref", "status"],
        id=_STR,
        namespace_id=_STR,
        spec_hash=_STR,
        image_ref=_STR,
        status={"enum": ["pending", "ready", "failed"]},
        error=_STR,
        created_at=_STR,
    ),
    "Deployment": _obj(
        ["id", "workflow_id", "runtime_id", "code", "triggers", "status"],
        id=_STR,
        workflow_id=_STR,
        runtime_id=_STR,
        code=_obj(["digest", "entrypoint"], digest=_STR, entrypoint=_STR),
        triggers={"type": "array", "items": ref("TriggerSpec")},
        provider_mapping=_STR_MAP,
        status={"enum": ["active", "inactive"]},
        created_at=_STR,
        created_by=_STR,
        image_ref=_STR,
    ),
    "TriggerDiff": _obj(
        ["added", "removed", "kept"],
        **{k: {"type": "array", "items": ref("TriggerSpec")} for k in ("added", "removed", "kept")},
    ),
    "DeploymentReceipt": _obj(
        ["deployment", "webhook_urls", "diff"],
        deployment=ref("Deployment"),
        webhook_urls={"type": "array", "items": _STR},
        webhooks={
            "type": "array",
            "items": _obj(
                ["method", "url", "triggers"],
                method=_STR,
                url=_STR,
                triggers={"type": "array", "items": _STR},
            ),
        },
        provider_hooks={
            "type": "array",
            "items": _obj(
                ["provider", "target", "url", "action", "message"],
                provider=_STR,
                target=_STR,
                url=_STR,
                action=_STR,
                message=_STR,
            ),
        },
        diff=ref("TriggerDiff"),
    ),
    "Execution": _obj(
        ["id", "workflow_id", "trigger_id", "status", "received_at"],
        id=_STR,
        workflow_id=_STR,
        trigger_id=_STR,
        status=_STR,
        received_at=_STR,
        started_at={"type": ["string", "null"]},
        finished_at={"type": ["string", "null"]},
        duration_ms={"type": ["number", "null"]},
        result=_ANY,
        error={"type": ["object", "null"]},
        event={"type": "object"},
        logs={"type": "array", "items": {"type": "object"}},
    ),
    "KvItem": _obj(["key", "value"], key=_STR, value=_ANY, updated_at=_STR),
    "InvocationResult": _obj(
        ["ok"],
        ok={"type": "boolean"},
        result=_ANY,
        logs={"type": "array"},
        duration_ms={"type": "number"},
        error={"type": "object"},
    ),
}

_CONVERTER = re.compile(r"\{([^}:]+)(:[^}]+)?\}")


def openapi_path(path: str) -> str:
    """A Starlette path (``/x/{key:path}``) as an OpenAPI path (``/x/{key}``)."""
    return _CONVERTER.sub(lambda m: "{" + m.group(1) + "}", path)


def _schema(value: str | dict[str, Any]) -> dict[str, Any]:
    return ref(value) if isinstance(value, str) else value


def _operation(route: Route, doc: Doc) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": _STR}
        for name in route.param_convertors
    ]
    parameters += [
        {"name": name, "in": "query", "required": False, "schema": {"type": kind}, "description": d}
        for name, kind, d in doc.query
    ]
    success: dict[str, Any] = {"description": doc.summary}
    if doc.response is not None:
        success["content"] = {"application/json": {"schema": _schema(doc.response)}}
    error = {"description": "error", "content": {"application/json": {"schema": ref("Error")}}}
    operation: dict[str, Any] = {
        "summary": doc.summary,
        "tags": [doc.tag],
        "parameters": parameters,
        "responses": {str(doc.status): success, "4XX": error},
    }
    if doc.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema(doc.body)}},
        }
    if doc.auth:
        operation["security"] = [{"bearer": []}]
    return operation


def build_document(routes: Iterable[BaseRoute]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not isinstance(route, ApiRoute):
            continue
        item = paths.setdefault(openapi_path(route.path), {})
        for method in sorted(route.methods or ()):
            if method == "HEAD" and "GET" in (route.methods or ()):
                continue
            item[method.lower()] = _operation(route, route.doc)
    try:
        version = importlib.metadata.version("floww")
    except importlib.metadata.PackageNotFoundError:
        version = "0+unknown"
    return {
        "openapi": "3.1.0",
        "info": {"title": "floww", "version": version},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
