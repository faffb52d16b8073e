"""DDS's request log over HTTP: the middleware that keeps each request, and the operator's read face.

``GET /dds/requests`` (operator only, :mod:`nsp_sandbox.operator_access`) lists what DDS received,
oldest first: ``after`` (an ``id``: only later requests), ``caller`` (a persona), ``patient`` (a CPR
number), ``transaction`` (``ITI-65``, ``ITI-67``, ``ITI-68``, ``ITI-92``, ``ITI-41``, ``ITI-18``, …),
``_count`` (0–1000, default 100; ``0`` answers only ``last``). The answer is
``{"requests": [...], "last": <the newest id kept>}``; a run marks where it starts with ``_count=0``
and then reads ``after`` that mark, whatever the sandbox clock does. What is kept is described in
:mod:`services.dds.request_log` and ``docs/dds.md`` ("The request log").
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode

from fastapi import APIRouter, Depends, Request
from lxml import etree
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.operator_access import require_operator
from nsp_sandbox.outcome import FhirError, Issue
from services.dds.access.consent_override import CRITICALITY_HEADER, HEADER
from services.dds.request_log import FACTS_KEY, Facts, Received, RequestLog, cprs_in, registered_ids

logger = logging.getLogger("services.dds.request_log")

SOURCE = "DDS request log (docs/dds.md: the request log)"
NOT_KEPT = ("/requests", "/fhir/metadata", "/sandbox/reset")
KEEP_BODY = 4_000_000  # answers read for their outcome up to this size; larger ones keep only their status
RULE_SYSTEM = "urn:nsp-sandbox:rule"
IHE_SYSTEM = "urn:ihe:iti:xds:errorCode"
SOAP_PATHS = {"/ddsregistry": "ITI-18", "/ddsregistry/metadataupdate": "ITI-57", "/ddsrepository": "ITI-43",
              "/drs/proxy": "ITI-41"}
DROS_ACTIONS = {"ProvideAndRegisterDocumentSet-b": "ITI-41", "UpdateDocumentSet": "ITI-57",
                "RegisterOnDemandDocumentEntry": "ITI-61"}
RULE_IN_CONTEXT = re.compile(r"\[([A-Za-z0-9_.-]+)\]\s*$")
_SAFE_XML = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def transaction_of(method: str, path: str, headers: dict[str, str]) -> str:
    """The IHE transaction (or read) a request to DDS is, by its method and path under ``/dds``."""
    parts = path.strip("/").split("/")
    if path in SOAP_PATHS:
        return SOAP_PATHS[path]
    if path == "/dros":
        action = headers.get("soapaction", "") + headers.get("content-type", "")
        return next((t for suffix, t in DROS_ACTIONS.items() if suffix in action), "DROS")
    if parts == ["fhir"] and method == "POST":
        return "ITI-65"
    if len(parts) >= 2 and parts[0] == "fhir" and parts[1] in ("DocumentReference", "List"):
        search = len(parts) == 2 or parts[2] == "_search"
        if parts[1] == "List":
            return "ITI-66" if search else "read List"
        if search:
            return "ITI-67"
        return "ITI-92" if method == "PUT" else "read DocumentReference"
    if parts[0] == "documents" and len(parts) == 2:
        return "ITI-68"
    return f"{method} {path}"


def patients_in_query(query: str) -> list[str]:
    """The CPR numbers a search names (``patient.identifier`` / ``patient:identifier`` / ``patient``)."""
    found: list[str] = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name in ("patient.identifier", "patient:identifier"):
            found.extend(v.rpartition("|")[2] for v in value.split(","))
        elif name == "patient":
            found.extend(v.rpartition("/")[2] for v in value.split(","))
    return [f for f in dict.fromkeys(found) if f]


def _issue(item: dict[str, Any]) -> dict[str, Any]:
    codings = ((item.get("details") or {}).get("coding")) or []
    by_system = {c.get("system"): c.get("code") for c in codings if isinstance(c, dict)}
    return {"severity": item.get("severity"), "code": item.get("code"), "rule": by_system.get(RULE_SYSTEM),
            "ihe_code": by_system.get(IHE_SYSTEM), "expression": item.get("expression") or [],
            "diagnostics": str(item.get("diagnostics") or "")[:2000]}


def read_json_answer(body: dict[str, Any], facts: Facts) -> int | None:
    """Issues, entries and result from a FHIR answer; the searchset's ``total`` when it is one."""
    kind = body.get("resourceType")
    if kind == "OperationOutcome":
        facts.issues.extend(_issue(i) for i in body.get("issue") or [] if isinstance(i, dict))
        return None
    if kind == "DocumentReference" and isinstance(body.get("id"), str):
        facts.add_entries([body["id"]])
    if kind != "Bundle":
        return None
    for entry in body.get("entry") or []:
        outcome = ((entry.get("response") or {}).get("outcome")) or (
            entry.get("resource") if (entry.get("search") or {}).get("mode") == "outcome" else None)
        if isinstance(outcome, dict):
            facts.issues.extend(_issue(i) for i in outcome.get("issue") or [] if isinstance(i, dict))
        resource = entry.get("resource") or {}
        if (entry.get("search") or {}).get("mode") == "match" and resource.get("resourceType") == "DocumentReference":
            facts.add_entries([str(resource.get("id"))])
    if body.get("type") == "transaction-response":
        facts.add_entries(registered_ids(body))
    total = body.get("total")
    return total if isinstance(total, int) else None


def read_xml_answer(content: bytes, facts: Facts) -> None:
    """The RegistryResponse's (or AdhocQueryResponse's) status word and its RegistryErrors."""
    try:
        root = etree.fromstring(content, _SAFE_XML)
    except etree.XMLSyntaxError:
        return
    for element in root.iter("{*}RegistryResponse", "{*}AdhocQueryResponse"):
        facts.result = str(element.get("status", "")).rpartition(":")[2] or None
        break
    for error in root.iter("{*}RegistryError"):
        severity = str(error.get("severity", "")).rpartition(":")[2].lower() or "error"
        rule = RULE_IN_CONTEXT.search(str(error.get("codeContext") or ""))  # DDS ends its codeContext "[rule]"
        facts.issues.append({"severity": severity, "code": None, "rule": rule.group(1) if rule else None,
                             "ihe_code": error.get("errorCode"),
                             "expression": [error.get("location")] if error.get("location") else [],
                             "diagnostics": str(error.get("codeContext") or "")[:2000]})


class RequestLogMiddleware:
    """Keeps every request to DDS (but the log's own face, ``metadata`` and ``reset``) in the request log."""

    def __init__(self, app: ASGIApp, context: SandboxContext, log: RequestLog) -> None:
        self.app = app
        self.context = context
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        local = path[len(root):] if root and path.startswith(root + "/") else path
        if scope["type"] != "http" or local in NOT_KEPT or not local or not self.context.settings.dds_request_log:
            await self.app(scope, receive, send)
            return
        at = self.context.clock.now()
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        facts = Facts()
        scope.setdefault("state", {})[FACTS_KEY] = facts
        # A retrieved document (ITI-68, ITI-43) is not read: only its status is kept.
        reads_answer = transaction_of(scope.get("method", ""), local, headers) not in ("ITI-68", "ITI-43")
        sent: dict[str, Any] = {"status": 500, "type": "", "body": bytearray(), "whole": reads_answer}
        posted = bytearray()

        async def receiving() -> Message:
            message = await receive()
            if local.endswith("/_search") and message["type"] == "http.request" and len(posted) < 65536:
                posted.extend(message.get("body", b""))
            return message

        kept = False

        async def sending(message: Message) -> None:
            nonlocal kept
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
                sent["type"] = dict(message.get("headers") or []).get(b"content-type", b"").decode("latin-1")
            elif message["type"] == "http.response.body":
                if sent["whole"]:
                    sent["body"].extend(message.get("body", b""))
                    if len(sent["body"]) > KEEP_BODY:
                        sent["whole"], sent["body"] = False, bytearray()
                if self.log.shared and not message.get("more_body", False) and not kept:
                    # Several workers: the answer is complete only once its row is written, so a reader
                    # or a reset that comes after it, through any worker, finds it there.
                    kept = True
                    await self._keep(scope, local, headers, at, facts, sent, bytes(posted), wait=True)
            await send(message)

        try:
            await self.app(scope, receiving, sending)
        finally:
            if not kept:
                await self._keep(scope, local, headers, at, facts, sent, bytes(posted))

    async def _keep(self, scope: Scope, local: str, headers: dict[str, str], at: Any, facts: Facts,
                    sent: dict[str, Any], posted: bytes, *, wait: bool = False) -> None:
        """Keep the request (``wait``: until its row is written); a failure is logged, never the answer's."""
        try:
            await self._keep_or_raise(scope, local, headers, at, facts, sent, posted, wait)
        except Exception:  # the log is an aid to testing: DDS's answer never depends on it
            logger.warning("DDS could not keep %s %s in its request log", scope.get("method"), local, exc_info=True)

    async def _keep_or_raise(self, scope: Scope, local: str, headers: dict[str, str], at: Any, facts: Facts,
                             sent: dict[str, Any], posted: bytes, wait: bool) -> None:
        method = scope.get("method", "")
        query = scope.get("query_string", b"").decode("latin-1")
        if posted:
            query = "&".join(q for q in (query, urlencode(parse_qsl(posted.decode("utf-8", "replace")))) if q)
        transaction = transaction_of(method, local, headers)
        facts.add_patients(patients_in_query(query))
        if transaction in ("ITI-68", "ITI-92", "read DocumentReference"):
            facts.add_entries([local.rstrip("/").rpartition("/")[2]])
        total = None
        content, kind = bytes(sent["body"]), sent["type"]
        if sent["whole"] and content:
            if "json" in kind:
                try:
                    body = json.loads(content)
                except ValueError:
                    body = None
                if isinstance(body, dict) and transaction != "ITI-68":
                    total = read_json_answer(body, facts)
            elif "xml" in kind and transaction not in ("ITI-43",):
                read_xml_answer(content, facts)
        override = headers.get(HEADER.lower())
        criticality = headers.get(CRITICALITY_HEADER.lower())
        received = Received(at, transaction, method, local, query, unquote(override) if override else None,
                            unquote(criticality) if criticality else None, int(sent["status"]), facts, total)
        if wait:
            await self.log.kept(received)
        else:
            self.log.keep(received)


def _number(request: Request, name: str, default: int, top: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"\d{1,9}", raw) or int(raw) > top:
        raise FhirError(400, Issue("error", "invalid", f"{name} must be a whole number from 0 to {top}, not {raw!r}",
                                   expression=name, rule="dds-request-log-parameter", source=SOURCE))
    return int(raw)


KNOWN_PARAMETERS = frozenset({"after", "caller", "patient", "transaction", "_count"})


def router(context: SandboxContext, log: RequestLog) -> APIRouter:
    """``GET /requests``: what DDS received, for the sandbox operator."""

    def operator(request: Request) -> None:
        require_operator(request, context.settings, "DDS's request log", SOURCE)

    api = APIRouter(dependencies=[Depends(operator)])

    @api.get("/requests", summary="The requests DDS received and what it answered (operator only)",
             responses=oa.errors(400, 401, 403, 409), openapi_extra=oa.parameters(
                 oa.query("after", "only requests after this sequence number"),
                 oa.query("caller", "the caller's persona"), oa.query("patient", "a CPR number the request was about"),
                 oa.query("transaction", "e.g. ITI-67, ITI-65, ITI-18"),
                 oa.query("_count", "at most this many (1000)")))
    async def requests(request: Request) -> dict[str, Any]:
        if not context.settings.dds_request_log:
            raise FhirError(409, Issue("error", "not-supported", "DDS keeps no request log in this sandbox "
                                       "(NSP_SANDBOX_DDS_REQUEST_LOG=false)", rule="dds-request-log-on", source=SOURCE))
        unknown = sorted(set(request.query_params) - KNOWN_PARAMETERS)
        if unknown:
            raise FhirError(400, [Issue("error", "not-supported", f"Unknown parameter {name!r}; the request log "
                                         f"takes {', '.join(sorted(KNOWN_PARAMETERS))}", expression=name,
                                         rule="dds-request-log-parameter", source=SOURCE) for name in unknown])
        params = request.query_params
        found, last = await run_in_threadpool(
            log.read, after=_number(request, "after", 0, 2_000_000_000), caller=params.get("caller"),
            patient=params.get("patient"), transaction=params.get("transaction"),
            count=_number(request, "_count", 100, 1000))
        return {"requests": found, "last": last}

    return api


__all__ = ["RequestLogMiddleware", "cprs_in", "router"]
