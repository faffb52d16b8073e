"""How the control face asks an actor: over HTTP (in process when the actor has no URL of its own),
with the operator's token when one is set, so the actor's guarded operator endpoints let it in.
An actor that cannot be reached is a 502 naming it; an actor's own refusal is passed on as it came."""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
from fastapi.responses import Response

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.outcome import FhirError, Issue

SOURCE = "nsp-sandbox control face (docs/control.md)"


async def call(context: SandboxContext, actor: str, method: str, path: str, *,
               body: Any = None) -> httpx.Response:
    """``method`` ``path`` on ``actor`` (e.g. ``PUT``, ``/switches`` on ``lps``)."""
    headers = {"Accept": "application/json"}
    if context.settings.admin_token:
        headers["Authorization"] = f"Bearer {context.settings.admin_token}"
    url = f"{context.peers.url(actor)}{path}"
    try:
        return await context.peers.client(actor).request(method, url, json=body, headers=headers)
    except (httpx.HTTPError, RuntimeError) as exc:
        raise FhirError(502, Issue("error", "transient", f"The {actor} actor could not be reached at {url}: "
                                   f"{type(exc).__name__}", rule="sandbox-actor-reachable", source=SOURCE)) from None


def passed_on(response: httpx.Response) -> Response:
    """The actor's answer as the control face's: its status, its body and its media type as they came (a
    refusal stays an OperationOutcome in ``application/fhir+json``)."""
    return Response(response.content, status_code=response.status_code,
                    media_type=response.headers.get("content-type"))
