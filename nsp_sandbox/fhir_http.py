"""FHIR over HTTP: JSON responses, request-body parsing, and error handlers shared by every actor."""

from __future__ import annotations

import json
import re
import tempfile
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from nsp_sandbox import openapi_description
from nsp_sandbox.allowed_methods import allowed_methods
from nsp_sandbox.conformance import strict_json
from nsp_sandbox.digits import whole_number
from nsp_sandbox.outcome import FhirError, Issue, operation_outcome

FHIR_JSON = "application/fhir+json"
ACCEPTED_JSON_TYPES = {"application/fhir+json", "application/json", "application/json+fhir"}


def json_bytes(content: Any) -> bytes:
    """Compact UTF-8 JSON, as ``json.dumps(ensure_ascii=False, separators=(",", ":"))`` writes it,
    several times faster (a searchset page of 20 DocumentReferences: ``docs/benchmarks.md``); what
    ``orjson`` will not write (an integer beyond 64 bits, a key that is not a string) goes to ``json``."""
    try:
        return orjson.dumps(content)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def pretty_json_bytes(content: Any) -> bytes:
    """UTF-8 JSON indented by two spaces, as ``json.dumps(ensure_ascii=False, indent=2)`` writes it (the same bytes for
    FHIR resources; a float that needs an exponent may be written with another but equal one), some fifty times
    faster: written by ``orjson``; what it will not write goes to ``json``."""
    try:
        return orjson.dumps(content, option=orjson.OPT_INDENT_2)
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(content, ensure_ascii=False, indent=2).encode("utf-8")


def json_copy(content: Any) -> Any:
    """A deep copy of parsed JSON, as ``json.loads(json.dumps(content))`` gives it, several times faster: written
    and read by ``orjson`` (a float that is not finite becomes null, as :func:`json_bytes` writes it); what
    ``orjson`` will not write goes to ``json``."""
    try:
        return orjson.loads(orjson.dumps(content))
    except TypeError:  # orjson.JSONEncodeError
        return json.loads(json.dumps(content))


class FhirJSONResponse(JSONResponse):
    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        return json_bytes(content)


def outcome_response(status: int, issues: list[Issue], headers: dict[str, str] | None = None) -> Response:
    return FhirJSONResponse(operation_outcome(issues), status_code=status, headers=headers)


SPOOL_IN_MEMORY = 1024 * 1024  # a body is held in memory up to this size while it streams in, then on disk
HEAD_BYTES = 256 * 1024  # what is kept of a body refused as too large, to say whose it was


class BodyTooLarge(FhirError):
    """A body over the limit: 413, reading stopped at the limit; ``head`` is its beginning (for a face that
    answers such a message in its own protocol, e.g. with a negative acknowledgement)."""

    def __init__(self, max_bytes: int, head: bytes) -> None:
        super().__init__(413, Issue("error", "too-costly", f"Request body exceeds {max_bytes} bytes",
                                    rule="http-body-size"))
        self.max_bytes = max_bytes
        self.head = head


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refused with 413 (:class:`BodyTooLarge`) as soon as it exceeds ``max_bytes``
    (declared or streamed). Memory stays bounded while it streams in: chunks go to a spooled temporary
    file (in memory up to ``SPOOL_IN_MEMORY``, then on disk), and reading stops at the limit."""
    declared = request.headers.get("content-length")
    declared_bytes = whole_number(declared) if declared else None
    if declared_bytes is not None and declared_bytes > max_bytes:
        head = b""
        async for chunk in request.stream():  # only as much as says whose it is
            head += chunk[:HEAD_BYTES - len(head)]
            if len(head) >= HEAD_BYTES:
                break
        raise BodyTooLarge(max_bytes, head)
    size = 0
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                spool.seek(0)
                raise BodyTooLarge(max_bytes, spool.read(HEAD_BYTES))
            spool.write(chunk)
        spool.seek(0)
        return spool.read()


def _parse_json(raw: bytes) -> Any:
    """The body as JSON (:mod:`~nsp_sandbox.conformance.strict_json`: no duplicate keys, bounded nesting), else 400."""
    try:
        return strict_json.loads(raw)
    except strict_json.JsonRefused as exc:
        raise FhirError(400, Issue("error", "structure", f"Body refused: {exc}", rule=exc.rule)) from None


async def read_json_object(request: Request, max_bytes: int) -> dict[str, Any]:
    """A plain JSON object body (an empty body is ``{}``); 413 / 400 for oversized or malformed ones."""
    body = _parse_json(await read_body(request, max_bytes) or b"{}")
    if not isinstance(body, dict):
        raise FhirError(400, Issue("error", "structure", "The body must be a JSON object", rule="json-object"))
    return body


async def read_fhir_json(request: Request, max_bytes: int) -> tuple[dict[str, Any], bytes]:
    """Read a FHIR JSON body; refuse wrong media types, oversized and malformed bodies with 4xx."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ACCEPTED_JSON_TYPES:
        raise FhirError(415, Issue(
            "error", "not-supported",
            f"Content-Type '{content_type or '(none)'}' is not supported; send application/fhir+json",
            rule="http-content-type",
        ))
    raw = await read_body(request, max_bytes)
    body = _parse_json(raw)
    if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
        raise FhirError(400, Issue("error", "structure", "Body is not a FHIR resource (no resourceType)",
                                   expression=None, rule="fhir-resource-type"))
    return body, raw


_CONTROL_IN_URL = re.compile(r"%(?:0[0-8bBcCeEfF]|1[0-9a-fA-F]|7[fF])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def refuse_control_characters(values: list[tuple[str, str]]) -> None:
    """Search parameters (e.g. from a form body) must not carry control characters: 400."""
    for name, value in values:
        if _CONTROL.search(name) or _CONTROL.search(value):
            raise FhirError(400, Issue("error", "invalid", f"Search parameter '{_CONTROL.sub('?', name)}' "
                                       "contains control characters", rule="http-url-characters"))


class RefuseControlCharacters:
    """ASGI middleware: 400 OperationOutcome for a URL whose path or query holds control characters."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path", b"") + b"?" + scope.get("query_string", b"")
            text = raw.decode("latin-1")
            if _CONTROL_IN_URL.search(text) or _CONTROL.search(text) or _CONTROL.search(scope.get("path", "")):
                response = outcome_response(400, [Issue("error", "invalid", "The URL contains control characters",
                                                        rule="http-url-characters")])
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """Every error of this app answers as a FHIR OperationOutcome, never as a bare 500.

    A URL whose path or query carries control characters (``%00`` …) is refused at the edge: no
    identifier, code or search value contains one, and databases refuse to store or compare them.
    """

    app.add_middleware(RefuseControlCharacters)
    openapi_description.install(app)  # its /openapi.json declares these answers

    @app.exception_handler(DataError)
    async def _data_error(_request: Request, exc: DataError) -> Response:
        return outcome_response(400, [Issue("error", "invalid", "A value in the request cannot be stored or "
                                            f"searched: {str(exc.orig).splitlines()[0]}", rule="storable-value")])

    @app.exception_handler(FhirError)
    async def _fhir_error(_request: Request, exc: FhirError) -> Response:
        return outcome_response(exc.status, exc.issues, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not-found", 405: "not-supported", 401: "login", 403: "forbidden"}.get(
            exc.status_code, "processing")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # Starlette names the first matching route's methods only
            headers["Allow"] = allowed_methods(request)
        return outcome_response(exc.status_code, [Issue("error", code, str(exc.detail))], headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> Response:
        issues = [
            Issue("error", "invalid", f"{err.get('msg')}", expression=".".join(str(p) for p in err.get("loc", ())))
            for err in exc.errors()
        ]
        return outcome_response(400, issues)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> Response:
        import logging

        logging.getLogger("nsp_sandbox").exception("unexpected error")
        return outcome_response(500, [Issue("fatal", "exception", f"Internal error: {type(exc).__name__}")])
