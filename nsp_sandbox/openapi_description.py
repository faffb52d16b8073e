"""What a face declares in its OpenAPI description, and the description every actor serves.

Many faces read their own bodies (FHIR JSON or XML, SOAP, forms), so FastAPI cannot infer them; a route
declares them here with ``openapi_extra=`` (:func:`body`, :func:`fhir_body`, :func:`soap_body`,
:func:`parameters`) and its error answers with ``responses=`` (:func:`errors`). Every actor answers its
errors as a FHIR OperationOutcome (``nsp_sandbox.fhir_http``), so every error is declared so, under
``application/fhir+json``. :func:`install` makes an app's ``/openapi.json`` say what the app really does:
FastAPI's own 422 (``HTTPValidationError``) becomes the OperationOutcome the handlers answer with, and the
400 every URL may get (control characters, ``fhir_http.RefuseControlCharacters``) is declared on every
operation.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"
SOAP_11 = "text/xml"
SOAP_XML = "application/soap+xml"
MTOM = "multipart/related"
OUTCOME_REF = {"$ref": "#/components/schemas/OperationOutcome"}

OPERATION_OUTCOME: dict[str, Any] = {
    "title": "OperationOutcome",
    "description": "FHIR R4 OperationOutcome: what is wrong, with the element path (expression) and the rule",
    "type": "object",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"const": "OperationOutcome"},
        "issue": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["severity", "code"],
            "properties": {
                "severity": {"enum": ["fatal", "error", "warning", "information"]},
                "code": {"type": "string"},
                "diagnostics": {"type": "string"},
                "expression": {"type": "array", "items": {"type": "string"}},
                "details": {"type": "object"},
            },
        }},
    },
}


def fhir_resource(*resource_types: str) -> dict[str, Any]:
    """The JSON shape of a FHIR resource of one of ``resource_types``: an object with that resourceType."""
    kind: dict[str, Any] = ({"const": resource_types[0]} if len(resource_types) == 1
                            else {"enum": list(resource_types)})
    return {"type": "object", "required": ["resourceType"], "properties": {"resourceType": kind}}


def body(content: dict[str, dict[str, Any]], *, required: bool = True, description: str = "") -> dict[str, Any]:
    """``openapi_extra`` of a route that reads its own body: ``content`` is media type → JSON schema."""
    declared: dict[str, Any] = {"required": required, "content": {m: {"schema": s} for m, s in content.items()}}
    if description:
        declared["description"] = description
    return {"requestBody": declared}


def fhir_body(*resource_types: str, xml: bool = True, description: str = "") -> dict[str, Any]:
    """``openapi_extra`` of a route that reads a FHIR resource as JSON (and XML unless ``xml`` is false)."""
    content = {FHIR_JSON: fhir_resource(*resource_types)}
    if xml:
        content[FHIR_XML] = {"type": "string"}
    return body(content, description=description)


def _inlined(schema: Any, defs: dict[str, Any]) -> Any:
    if isinstance(schema, dict):
        ref = schema.get("$ref", "")
        if ref.startswith("#/$defs/"):
            return _inlined(defs[ref.rsplit("/", 1)[1]], defs)
        return {k: _inlined(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inlined(item, defs) for item in schema]
    return schema


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of a pydantic ``model`` a route parses itself, its definitions inlined (a copy of
    the one made at the model's first use: every build of a sandbox describes the same models)."""
    return copy.deepcopy(_model_schema(model))


@functools.cache
def _model_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    return _inlined(schema, schema.get("$defs", {}))  # type: ignore[no-any-return]


def json_body(schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    """``openapi_extra`` of a route that reads a JSON object of ``schema`` (``read_json_object``)."""
    return body({"application/json": schema}, description=description)


def form_body(*fields: str) -> dict[str, Any]:
    """``openapi_extra`` of a page's HTML form (``application/x-www-form-urlencoded``) with these fields."""
    return body({"application/x-www-form-urlencoded": {
        "type": "object", "properties": {name: {"type": "string"} for name in fields}}})


def message_body(description: str) -> dict[str, Any]:
    """``openapi_extra`` of an EHMI face: a MedCom message Bundle (FHIR JSON or XML), bare or in an SBDH
    envelope (``application/json`` / ``application/xml``)."""
    return body({FHIR_JSON: fhir_resource("Bundle"), FHIR_XML: {"type": "string"},
                 "application/json": {"type": "object"}, "application/xml": {"type": "string"}},
                description=description)


def soap_body(description: str) -> dict[str, Any]:
    """``openapi_extra`` of a SOAP face: a SOAP 1.1 (``text/xml``) or 1.2 (``application/soap+xml``) envelope,
    or an MTOM/XOP package (``multipart/related``)."""
    return body({SOAP_11: {"type": "string"}, SOAP_XML: {"type": "string"},
                 MTOM: {"type": "string", "format": "binary"}}, description=description)


def soap_answers(*, mtom: bool = False) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a SOAP face: its answer in the request's SOAP version (MTOM when ``mtom``), and a
    SOAP fault with HTTP 500 (SOAP 1.1 HTTP binding, DGWS) for a request it cannot serve."""
    envelope = {"type": "string"}
    answers = {SOAP_11: envelope, SOAP_XML: envelope, **({MTOM: {"type": "string", "format": "binary"}} if mtom
                                                           else {})}
    return {**answer("The answer envelope", answers),
            **answer("A SOAP fault (a DGWS fault, or a body that is no request this face takes)",
                     {SOAP_11: envelope, SOAP_XML: envelope}, status=500)}


def parameters(*declared: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` naming parameters a route reads from the request itself (``query`` builds one)."""
    return {"parameters": list(declared)}


def query(name: str, description: str, *, required: bool = False, schema: dict[str, Any] | None = None,
          ) -> dict[str, Any]:
    """One query parameter, as :func:`parameters` takes it."""
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema or {"type": "string"}}


def extra(*parts: dict[str, Any]) -> dict[str, Any]:
    """Several ``openapi_extra`` parts as one (their parameters put together)."""
    merged: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            merged[key] = [*merged.get(key, []), *value] if key == "parameters" else value
    return merged


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries: each status answered with an OperationOutcome (``application/fhir+json``)."""
    return {status: {"description": HTTPStatus(status).phrase, "content": {FHIR_JSON: {"schema": OUTCOME_REF}}}
            for status in statuses}


def operator_errors() -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a face only the sandbox's operator may call: 401 when ``NSP_SANDBOX_ADMIN_TOKEN`` is
    set and not sent, 403 from another machine (``nsp_sandbox.operator_access``)."""
    return errors(401, 403)


def answer(description: str, content: dict[str, dict[str, Any]], status: int = 200) -> dict[int | str, Any]:
    """A ``responses=`` entry for a success answered with ``content`` (media type → JSON schema)."""
    return {status: {"description": description, "content": {m: {"schema": s} for m, s in content.items()}}}


def _rewrite_validation(operation: dict[str, Any], validation_status: int) -> None:
    responses = operation.setdefault("responses", {})
    fastapi_default = responses.pop("422", None)
    if fastapi_default is not None and "HTTPValidationError" not in str(fastapi_default):
        responses["422"] = fastapi_default  # declared by the route itself
    elif fastapi_default is not None:
        responses.setdefault(str(validation_status), errors(validation_status)[validation_status])
    responses.setdefault("400", errors(400)[400])  # control characters in the URL: any operation


def _drop_unused(schema: dict[str, Any], names: Iterable[str]) -> None:
    """Remove the components ``names`` when nothing refers to them any more."""
    schemas = schema.get("components", {}).get("schemas", {})
    for name in names:
        rest = {**schema, "components": {**schema["components"],
                                         "schemas": {k: v for k, v in schemas.items() if k != name}}}
        if name in schemas and f'"#/components/schemas/{name}"' not in json.dumps(rest):
            del schemas[name]


def describe(app: FastAPI, validation_status: int = 400) -> dict[str, Any]:
    """The app's OpenAPI description as it answers: OperationOutcome errors, the universal 400."""
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            _rewrite_validation(operation, validation_status)
    schema.setdefault("components", {}).setdefault("schemas", {})["OperationOutcome"] = OPERATION_OUTCOME
    _drop_unused(schema, ("HTTPValidationError", "ValidationError"))
    return schema


def install(app: FastAPI, validation_status: int = 400,
            refine: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Serve :func:`describe` at the app's ``/openapi.json`` (``refine`` adds what only the actor knows)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = describe(app, validation_status)
            if refine is not None:
                refine(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
