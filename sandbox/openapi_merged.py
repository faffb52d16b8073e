"""The root ``/openapi.json``: every mounted actor's own description merged into one document.

Each actor keeps its own ``/<actor>/openapi.json``; here its paths are put under its mount prefix, its
operations tagged with its title (and their ids prefixed with its name when another actor uses the same),
and its components merged with the others'. A component two actors both define identically is kept once;
one defined differently is renamed ``<actor>_<name>`` in that actor's part, every ``$ref`` to it following.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from starlette.routing import Mount

from sandbox.lazy_actor import mounted_app

COMPONENT_KINDS = ("schemas", "securitySchemes", "parameters", "responses", "requestBodies")


def _renamed(part: Any, renames: dict[str, str]) -> Any:
    """``part`` with every ``$ref`` in ``renames`` pointed at the new name."""
    if not renames:
        return part
    text = json.dumps(part)
    for old, new in renames.items():
        text = text.replace(f'"{old}"', f'"{new}"')
    return json.loads(text)


def _merge_components(merged: dict[str, dict[str, Any]], actor: str, components: dict[str, Any]) -> dict[str, str]:
    """Put ``components`` into ``merged``; the ``$ref`` renames this actor's part needs."""
    renames: dict[str, str] = {}
    for kind in COMPONENT_KINDS:
        for name, value in components.get(kind, {}).items():
            known = merged.setdefault(kind, {})
            if name in known and known[name] != value:
                renames[f"#/components/{kind}/{name}"] = f"#/components/{kind}/{actor}_{name}"
    for kind in COMPONENT_KINDS:
        for name, value in components.get(kind, {}).items():
            ref = f"#/components/{kind}/{name}"
            target = renames.get(ref, ref).rsplit("/", 1)[1]
            merged[kind][target] = _renamed(value, renames)
    return renames


def merged_description(app: FastAPI) -> dict[str, Any]:
    """One OpenAPI document for ``app`` and every FastAPI app mounted in it, paths under their prefixes."""
    root = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    document: dict[str, Any] = {"openapi": root["openapi"], "info": root["info"], "paths": dict(root["paths"]),
                                "components": {}, "tags": []}
    _merge_components(document["components"], "root", root.get("components", {}))
    operation_ids: set[str] = set()
    for route in app.routes:
        mounted = mounted_app(route.app) if isinstance(route, Mount) else None
        if not isinstance(mounted, FastAPI):
            continue
        actor = route.path.strip("/")
        part = mounted.openapi()
        renames = _merge_components(document["components"], actor, part.get("components", {}))
        title = str(part["info"]["title"])
        document["tags"].append({"name": title, "description": f"under {route.path}"})
        for path, operations in _renamed(part.get("paths", {}), renames).items():
            for method, operation in operations.items():
                if method == "parameters":
                    continue
                operation["tags"] = [title]
                if operation.get("operationId") in operation_ids:
                    operation["operationId"] = f"{actor}_{operation['operationId']}"
                operation_ids.add(operation.get("operationId", ""))
            document["paths"][route.path + path] = operations
    document["components"] = {kind: value for kind, value in document["components"].items() if value}
    return document


def install(app: FastAPI) -> None:
    """Serve :func:`merged_description` at the root app's ``/openapi.json`` (made once, at the first call)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = merged_description(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
