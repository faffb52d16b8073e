"""Conformance runs over HTTP (docs/runs.md): point a suite at a vendor's system, get a verdict with evidence.

* ``GET /sandbox/suites``                  every suite: name, title, target_kind, description, options, cases
* ``POST /sandbox/runs``                   ``{"suite", "target", "options", "cases"}`` → 201 ``{"id"}``; the run
                                           goes on in the background of this process
* ``GET /sandbox/runs``                    the runs, newest first (summary and counts)
* ``GET /sandbox/runs/{id}``               the run: status, finished cases with evidence, pending cases,
                                           instructions for the participant (``?evidence=false``: no evidence)
* ``GET /sandbox/runs/{id}/report.html``   the printable report
* ``GET /sandbox/runs/{id}/junit.xml``     the JUnit XML report

Runs are kept in the database (:mod:`sandbox.runs.store`), so any process on it answers; ``POST
/sandbox/reset`` leaves them alone (they are evidence).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fhir_http import read_json_object
from nsp_sandbox.outcome import FhirError, Issue
from sandbox.runs import runner, suites
from sandbox.runs.junit import junit_xml
from sandbox.runs.report_html import REPORT_POLICY, report_html
from sandbox.runs.report_json import links, run_json, summary_json
from sandbox.runs.request import SOURCE, allowed_options, read_request
from sandbox.runs.store import RunStore
from sandbox.runs.suite import Suite


def suite_json(suite: Suite) -> dict[str, Any]:
    return {**suite.summary(), "description": suite.description, "options": allowed_options(suite),
            "cases": [{"name": c.name, "title": c.title, "reference": c.reference} for c in suite.cases]}


def router(context: SandboxContext, operator: Callable[[Request], None]) -> APIRouter:
    api = APIRouter(tags=["runs"], dependencies=[Depends(operator)])
    store = RunStore(context.database)

    async def found(run_id: str) -> dict[str, Any]:
        run = await run_in_threadpool(store.get, run_id)
        if run is None:
            raise FhirError(404, Issue("error", "not-found", f"No conformance run {run_id} (GET /sandbox/runs)",
                                       expression="id", rule="sandbox-run-known", source=SOURCE))
        return run_json(run)

    @api.get("/suites")
    def list_suites() -> list[dict[str, Any]]:
        return [suite_json(s) for s in suites.all_suites()]

    @api.post("/runs", status_code=201, responses=oa.errors(413, 422), openapi_extra=oa.json_body({
        "type": "object", "required": ["suite", "target"], "additionalProperties": False,
        "properties": {"suite": {"type": "string"}, "target": {"type": "string"},
                       "options": {"type": "object"}, "cases": {"type": "array", "items": {"type": "string"}}}},
        "the suite, the target (the vendor's URL or identity), its options and, to run only those, case names"))
    async def start_run(request: Request) -> JSONResponse:
        asked = read_request(await read_json_object(request, 256 * 1024))
        run_id = await runner.start(context, store, asked.suite, asked.target, asked.options, asked.cases)
        return JSONResponse({"id": run_id, "status": "running", "links": links(run_id)}, status_code=201,
                            headers={"Location": links(run_id)["self"]})

    @api.get("/runs")
    async def list_runs() -> list[dict[str, Any]]:
        return [summary_json(r) for r in await run_in_threadpool(store.recent)]

    @api.get("/runs/{run_id}", responses=oa.errors(404))
    async def get_run(run_id: str, evidence: bool = True) -> dict[str, Any]:
        """The run; ``?evidence=false`` leaves the cases' evidence out (``evidence_count`` says how much there
        is), for following a run closely without its bodies."""
        run = await found(run_id)
        if not evidence:
            run["cases"] = [{**c, "evidence": [], "evidence_count": len(c["evidence"])} for c in run["cases"]]
        return run

    @api.get("/runs/{run_id}/report.html", response_class=HTMLResponse, responses=oa.errors(404))
    async def get_report(run_id: str) -> HTMLResponse:
        return HTMLResponse(report_html(await found(run_id)), headers={"Content-Security-Policy": REPORT_POLICY})

    @api.get("/runs/{run_id}/junit.xml", responses={
        **oa.answer("JUnit XML", {"application/xml": {"type": "string"}}), **oa.errors(404)})
    async def get_junit(run_id: str) -> Response:
        return Response(junit_xml(await found(run_id)), media_type="application/xml",
                        headers={"Content-Disposition": f'inline; filename="{run_id}-junit.xml"'})

    return api
