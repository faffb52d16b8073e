"""A bounded schemathesis run of every face of an in-process sandbox, as one kind of caller.

The merged ``/openapi.json`` is loaded from the app itself; every operation gets ``examples`` generated
requests (half fitting the description, half not, bodies included), sent in process, each as one kind of
caller drawn with it:

* ``citizen`` / ``professional`` / ``system``: a persona of that kind, with a token from NSP's STS for every
  actor, calling from another machine;
* ``operator``: the sandbox's operator (a caller on this machine, no token);
* ``none``: no token, from another machine.

Each answer is checked: no 5xx, its status declared for the operation, its media type declared for that
status, its body of the declared shape. Hypothesis keeps no database (nothing is written into the repo) and
draws the same examples every run (``derandomize``). After each request of the operator, the clock and the
fault switches it may have moved are put back, so the next request meets the same sandbox.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure
from schemathesis.generation.modes import GenerationMode
from schemathesis.python.asgi import ASGIClient
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# Hypothesis keeps caches (unicode data, constants) in a directory of its own: never in the repository.
set_hypothesis_home_dir(str(Path(tempfile.gettempdir()) / "nsp-sandbox-hypothesis"))

KINDS = ("citizen", "professional", "system", "operator", "none")
PERSONAS = {"citizen": "citizen-2509479989", "professional": "gp-skodstrup", "system": "system-eoj-aarhus"}
AUDIENCES = ["dds", "nsp", "plsp", "eoj", "lps", "view", "conformance"]
SOAP_TYPES = ("text/xml", "application/soap+xml")


def no_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """No 5xx, but for the SOAP fault a SOAP face declares with HTTP 500 (SOAP 1.1 HTTP binding, DGWS):
    that is the protocol's answer to a body it cannot serve, not a server failure."""
    declared = case.operation.definition.raw.get("responses", {}).get("500", {}).get("content", {})
    media = (response.headers.get("content-type") or [""])[0].split(";")[0].strip()
    if response.status_code == 500 and media in SOAP_TYPES and media in declared:
        return None
    return not_a_server_error(ctx, response, case)  # type: ignore[no-any-return]


CHECKS = [no_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass
class Report:
    """What one run found: requests sent per operation and per kind, answers per status, and every finding."""

    requests: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    findings: dict[str, str] = field(default_factory=dict)  # "<operation> → <status>: <check>" → an example

    @property
    def sent(self) -> int:
        return sum(self.requests.values())


@dataclass(frozen=True)
class Caller:
    """One kind of caller: the client it calls through and the headers it sends."""

    kind: str
    client: ASGIClient
    headers: dict[str, str]


def from_loopback(app: Any) -> Any:
    """``app`` as a caller on this machine reaches it (the operator)."""

    async def loopback(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope = {**scope, "client": ("127.0.0.1", 50000)}
        await app(scope, receive, send)

    return loopback


def caller(app: Any, kind: str) -> Caller:
    """``kind`` of caller of ``app``, with its token from NSP's STS (for every actor) when it has one."""
    client = ASGIClient(from_loopback(app) if kind == "operator" else app)
    if kind not in PERSONAS:
        return Caller(kind, client, {})
    answer = client.post("/nsp/sts/token", json={"persona": PERSONAS[kind], "audience": AUDIENCES})
    assert answer.status_code == 200, answer.text
    return Caller(kind, client, {"Authorization": f"Bearer {answer.json()['access_token']}"})


def _finding(report: Report, label: str, response: Any, failure: BaseException) -> None:
    failures = failure.exceptions if isinstance(failure, BaseExceptionGroup) else (failure,)
    for one in failures:
        title = getattr(one, "title", type(one).__name__)
        key = f"{label} → {response.status_code}: {title}"
        report.findings.setdefault(key, f"{getattr(one, 'message', one)}"[:400])


def under(path: str, prefix: str) -> bool:
    """Whether ``path`` lies under the mount ``prefix`` (``/dds`` holds ``/dds/fhir``, not ``/ddsx``)."""
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def shard_of(path: str, prefixes: tuple[str, ...]) -> str:
    """The one of ``prefixes`` (mount paths) ``path`` lies under, or ``"/"`` for the sandbox's own paths."""
    return next((prefix for prefix in prefixes if under(path, prefix)), "/")


def operations(app: Any) -> list[Any]:
    """Every operation of ``app``'s merged ``/openapi.json``."""
    return [result.ok() for result in schemathesis.openapi.from_asgi("/openapi.json", app).get_all_operations()]


def fuzz(app: Any, examples: int, kinds: tuple[str, ...] = KINDS,
         select: Callable[[str], bool] | None = None) -> Report:
    """``examples`` requests to every operation (whose path ``select`` takes, when given), each as one of
    ``kinds`` of caller, drawn with the request."""
    callers = [caller(app, kind) for kind in kinds]
    report = Report()
    for operation in operations(app):
        if select is None or select(operation.path):
            _run(operation, examples, callers, report)
    return report


def _run(operation: Any, examples: int, callers: list[Caller], report: Report) -> None:
    """``examples`` requests to ``operation``, half fitting its description and half not."""
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @hypothesis.settings(max_examples=examples, database=None, deadline=None, derandomize=True,
                         phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @hypothesis.given(case=cases, who=st.sampled_from(callers))
    def run(case: Any, who: Caller) -> None:
        report.requests[operation.label] += 1
        report.kinds[who.kind] += 1
        try:
            response = case.call(session=who.client, headers=who.headers)
        except Exception as exc:  # the app raised instead of answering: a server error
            report.findings.setdefault(f"{operation.label} → raised {type(exc).__name__}", str(exc)[:400])
            return
        report.statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (Failure, BaseExceptionGroup) as failure:
            _finding(report, operation.label, response, failure)
        if who.kind == "operator" and operation.method.upper() != "GET":
            who.client.delete("/sandbox/clock")
            who.client.delete("/sandbox/faults")

    run()
