"""``POST /sandbox/world``: load a vendor's test persons and organisations (docs/control.md).

The body is a world file in YAML (``application/yaml``, ``text/yaml``; duplicate keys refused) or JSON
(``application/json``). The control face reads it and hands it to NSP over HTTP
(``POST /nsp/sandbox/world``), which checks it strictly (``services.nsp.world_file``: 422 naming every
problem, nothing loaded unless all is right) and makes its citizens, relatives, professionals and
systems personas the STS issues tokens to. ``nsp-sandbox up --world FILE`` posts a file at start.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import yaml
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fhir_http import read_body, read_json_object
from nsp_sandbox.outcome import FhirError, Issue
from sandbox.control.actor_calls import call, passed_on

SOURCE = "nsp-sandbox control face: the world (docs/control.md)"
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
JSON_TYPES = ("application/json", "application/fhir+json", "")


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (YAML would keep the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:  # type: ignore[override]
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"the key {key!r} is given twice",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else str(value)


def read_yaml(raw: bytes) -> dict[str, Any]:
    """A YAML world file as JSON values (dates as ISO strings); 400 for unreadable YAML."""
    try:
        data = yaml.load(raw.decode("utf-8"), Loader=_StrictLoader)  # a safe loader (yaml.SafeLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise FhirError(400, Issue("error", "structure", f"The world file is not readable YAML: {exc}"[:500],
                                   rule="sandbox-world-yaml", source=SOURCE)) from None
    if not isinstance(data, dict):
        raise FhirError(422, Issue("error", "structure", "A world file is a mapping of sections",
                                   rule="sandbox-world", source=SOURCE))
    return json.loads(json.dumps(data, default=_plain))  # type: ignore[no-any-return]


def router(context: SandboxContext, operator: Callable[[Request], None]) -> APIRouter:
    api = APIRouter(tags=["world"], dependencies=[Depends(operator)])

    @api.post("/world", responses=oa.errors(413, 415, 422, 502), openapi_extra=oa.body({
        "application/json": {"type": "object"}, "application/yaml": {"type": "string"}},
        description="A world file (docs/control.md)"))
    async def load_world(request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type in YAML_TYPES:
            body = read_yaml(await read_body(request, context.settings.max_body_bytes))
        elif content_type in JSON_TYPES:
            body = await read_json_object(request, context.settings.max_body_bytes)
        else:
            raise FhirError(415, Issue("error", "not-supported", f"A world file is YAML ({YAML_TYPES[0]}) or JSON "
                                       f"(application/json), not {content_type}", rule="sandbox-world-media-type",
                                       source=SOURCE))
        return passed_on(await call(context, "nsp", "POST", "/sandbox/world", body=body))

    return api
