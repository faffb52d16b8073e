"""The conformance engine over HTTP: FHIR ``$validate`` (mounted at ``/conformance``).

``POST /$validate`` takes either the resource itself or a ``Parameters`` resource with a
``resource`` parameter (and optionally ``profile`` and ``version``), as FHIR JSON or FHIR XML;
``?profile=`` may name the profile too, ``?version=1.1|1.2`` the HomeCareObservation IG version to
judge an HCO message by (:mod:`nsp_sandbox.hco_versions`). The answer is always ``200`` with an
OperationOutcome listing what was found — a resource with errors is still a successful
``$validate`` — and ``4xx`` with an OperationOutcome when the request itself is unusable (not
FHIR, not JSON/XML, too large).
``GET /`` describes the operation and the loaded packages.
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import hco_versions
from nsp_sandbox import openapi_description as oa
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fastapi_telemetry import telemetry_options
from nsp_sandbox.fhir_http import (
    ACCEPTED_JSON_TYPES,
    FhirJSONResponse,
    install_error_handlers,
    read_body,
    read_fhir_json,
)
from nsp_sandbox.outcome import FhirError, Issue, operation_outcome

XML_TYPES = frozenset({"application/fhir+xml", "application/xml", "application/xml+fhir", "text/xml"})


def create_app(context: SandboxContext) -> FastAPI:
    app = FastAPI(title="nsp-sandbox conformance engine", docs_url="/docs", **telemetry_options())
    install_error_handlers(app)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def describe(request: Request) -> str:
        base = str(request.base_url).rstrip("/")
        rows = "\n".join(
            f"<tr><td><code>{html.escape(p.name)}</code></td><td>{html.escape(p.version)}</td></tr>"
            for p in context.packages.all_packages()
        )
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Conformance engine</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}}
td,th{{padding:.2rem .8rem;text-align:left}}</style></head><body>
<h1>Conformance engine</h1>
<p>Validates FHIR resources (a Bundle with every entry) against the profiles of the loaded packages.</p>
<p><code>POST {html.escape(base)}/$validate[?profile=URL]</code> with the resource, or a
<code>Parameters</code> with <code>resource</code> and <code>profile</code>, as
<code>application/fhir+json</code> or <code>application/fhir+xml</code>. The answer is an
OperationOutcome.</p>
<pre>curl -s -X POST -H 'Content-Type: application/fhir+json' --data-binary @bundle.json \\
  '{html.escape(base)}/$validate'</pre>
<h2>Loaded packages</h2>
<table><thead><tr><th>package</th><th>version</th></tr></thead><tbody>
{rows}
</tbody></table>
</body></html>"""

    @app.post("/$validate", response_class=FhirJSONResponse, responses={
        **oa.answer("What the validator found", {oa.FHIR_JSON: oa.fhir_resource("OperationOutcome")}),
        **oa.errors(413, 415)}, openapi_extra=oa.body({oa.FHIR_JSON: {"type": "object", "required": ["resourceType"]},
                                                        oa.FHIR_XML: {"type": "string"}},
                                                       description="Any FHIR resource, or Parameters with one"))
    async def validate_operation(request: Request,
                                 profile: str | None = Query(default=None, description="profile URL"),
                                 version: str | None = Query(default=None, description="HCO IG version: 1.1 | 1.2"),
                                 ) -> Response:
        resource = await _read_resource(request, context)
        resource, given_profile, given_version = _unwrap_parameters(resource)
        wanted = profile or given_profile
        version = version or given_version
        validator = await run_in_threadpool(lambda: context.validator)
        package = None
        if version:
            try:
                package = hco_versions.package_for(validator.registry, version, resource)
            except hco_versions.UnknownVersion as exc:
                raise FhirError(400, Issue("error", "not-supported", str(exc), expression="version",
                                           rule="hco-version")) from None
        issues = await run_in_threadpool(lambda: validator.validate(resource, wanted, package=package))
        return FhirJSONResponse(operation_outcome(issues), status_code=200)

    return app


async def _read_resource(request: Request, context: SandboxContext) -> dict[str, Any]:
    """The request body as a FHIR JSON resource (FHIR XML is converted); 4xx when unusable."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    max_bytes = context.settings.max_body_bytes
    if media in ACCEPTED_JSON_TYPES or media not in XML_TYPES:
        body, _raw = await read_fhir_json(request, max_bytes)
        return body
    raw = await read_body(request, max_bytes)
    validator = await run_in_threadpool(lambda: context.validator)
    resource, problems = validator.parse(raw, media)
    if resource is None:
        raise FhirError(400, problems)
    return resource


def _unwrap_parameters(body: dict[str, Any]) -> tuple[dict[str, Any], str | None, str | None]:
    """``Parameters`` with a ``resource`` parameter: that resource and the ``profile`` and ``version``
    parameters."""
    if body.get("resourceType") != "Parameters" or not isinstance(body.get("parameter"), list):
        return body, None, None
    resource: dict[str, Any] | None = None
    given: dict[str, str] = {}
    for parameter in body["parameter"]:
        if not isinstance(parameter, dict):
            continue
        if parameter.get("name") == "resource" and isinstance(parameter.get("resource"), dict):
            resource = parameter["resource"]
        elif parameter.get("name") in ("profile", "version"):
            for key in ("valueUri", "valueCanonical", "valueString", "valueUrl", "valueCode"):
                if isinstance(parameter.get(key), str):
                    given[parameter["name"]] = parameter[key]
    if resource is None:
        return body, None, None
    return resource, given.get("profile"), given.get("version")
