"""What a conformance suite is made of, and how its cases run.

A :class:`Suite` is a named list of :class:`Case` s run in order against one target (a vendor's URL,
or for the suites where the vendor's system calls the sandbox, what identifies it). A case is an
async function of a :class:`CaseContext`: it passes by returning, fails by raising
:class:`CaseFailed` (``ctx.fail``, ``ctx.check``), is skipped by raising :class:`CaseSkipped`
(``ctx.skip``). Every HTTP exchange a case makes through its context is kept as evidence, bodies
included; what a participant must do next (an order to send, a look-up to make) is said with
``ctx.instruct`` and shown in the CLI, the run's JSON and its report.

Cases reach the sandbox's actors over HTTP only (``ctx.actor``), as the control face does; the
target through ``ctx.request``. State shared between the cases of one run lives in ``ctx.shared``.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import httpx2 as httpx

from nsp_sandbox.context import SandboxContext

Status = Literal["passed", "failed", "skipped"]
T = TypeVar("T")
BODY_KEPT = 2_000_000  # characters of a body kept as evidence; longer ones are cut and say so
SECRET_HEADERS = ("authorization", "cookie", "set-cookie")


class CaseFailed(Exception):
    """The target did not do what the case requires; the message says what and where."""


class CaseSkipped(Exception):
    """The case does not apply to this target or run (the message says why)."""


@dataclass(frozen=True)
class Case:
    name: str  # stable, kebab-case, unique in its suite: "ack-for-every-message"
    title: str  # one line for a person
    run: Callable[[CaseContext], Awaitable[None]]
    reference: str = ""  # where the requirement comes from: "hco.md §7.3", "MedCom ack TestScript …"


@dataclass(frozen=True)
class Suite:
    name: str  # "gp-system", "eoj", "document-source", "document-consumer", "gp-system-plsp"
    title: str
    target_kind: str  # what the target is: "gp-system", "eoj", "document-source", "document-consumer", …
    description: str  # what the suite does, what the target must be, what the participant does
    cases: tuple[Case, ...]
    options: dict[str, str] = field(default_factory=dict)  # option name → what it means (the run's body)
    setup: Callable[[CaseContext], Awaitable[None]] | None = None  # before the first case (seeding)

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "target_kind": self.target_kind}


@dataclass
class Exchange:
    """One HTTP request and its answer (or the error instead of an answer), as evidence."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str
    at: str
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str = ""
    duration_ms: float = 0.0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "url": self.url, "at": self.at,
                "request": {"headers": self.request_headers, "body": self.request_body},
                "response": None if self.status is None else {
                    "status": self.status, "headers": self.response_headers, "body": self.response_body},
                "duration_ms": round(self.duration_ms, 1), "error": self.error}


def _body(content: bytes, content_type: str) -> str:
    """A body as text for the evidence: UTF-8 as it is, anything else as base64 (and said so)."""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        text = f"base64 ({content_type or 'no content type'}): " + base64.b64encode(content).decode("ascii")
    if len(text) > BODY_KEPT:
        return text[:BODY_KEPT] + f"\n… ({len(text) - BODY_KEPT} more characters not kept)"
    return text


def _headers(headers: httpx.Headers) -> dict[str, str]:
    """Headers as evidence; a credential is shown by its kind and first characters only."""
    shown: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in SECRET_HEADERS:
            value = value[:16] + "… (not kept)" if len(value) > 16 else value
        shown[name] = value
    return shown


@dataclass
class CaseContext:
    """What a case works with; one per case, sharing ``shared`` and ``options`` with the run's other cases."""

    sandbox: SandboxContext
    suite: Suite
    case: Case
    target: str
    options: dict[str, Any]
    shared: dict[str, Any]
    on_instruction: Callable[[str], None] | None = None
    evidence: list[Exchange] = field(default_factory=list)
    instructions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    # ---- time -------------------------------------------------------------------------------------
    def now(self) -> datetime:
        """The sandbox clock's now (what the actors judge by)."""
        return self.sandbox.clock.now()

    # ---- HTTP, kept as evidence -------------------------------------------------------------------
    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """``method`` ``url`` (absolute: the target's, or this sandbox's in-process origin), kept as evidence.
        A transport error is kept too, then raised as :class:`CaseFailed` naming the URL."""
        client = self.sandbox.peers.client_for_url(url)
        request = client.build_request(method, url, **kwargs)
        exchange = Exchange(method, str(request.url), _headers(request.headers),
                            _body(request.content, request.headers.get("content-type", "")),
                            datetime.now(UTC).isoformat(timespec="milliseconds"))
        self.evidence.append(exchange)
        started = time.perf_counter()
        try:
            response = await client.send(request)
        except httpx.HTTPError as exc:
            exchange.duration_ms = (time.perf_counter() - started) * 1000
            exchange.error = f"{type(exc).__name__}: {exc}"
            raise CaseFailed(f"{method} {url} could not be made: {exchange.error}") from None
        exchange.duration_ms = (time.perf_counter() - started) * 1000
        exchange.status = response.status_code
        exchange.response_headers = _headers(response.headers)
        exchange.response_body = _body(response.content, response.headers.get("content-type", ""))
        return response

    def actor_url(self, actor: str, path: str = "") -> str:
        """The URL of ``path`` on one of the sandbox's actors (``dds``, ``nsp``, ``eoj``, ``lps``, ``plsp``,
        ``view``, ``eds``, ``sandbox``): in process unless the sandbox is configured with that actor's URL."""
        return f"{self.sandbox.peers.url(actor)}{path}"

    async def actor(self, actor: str, method: str, path: str, *, operator: bool = False,
                    **kwargs: Any) -> httpx.Response:
        """``method`` ``path`` on one of the sandbox's actors, kept as evidence; ``operator=True`` sends the
        operator's token (``NSP_SANDBOX_ADMIN_TOKEN``) when one is set, for the operator endpoints."""
        if operator and self.sandbox.settings.admin_token:
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("Authorization", f"Bearer {self.sandbox.settings.admin_token}")
            kwargs["headers"] = headers
        return await self.request(method, self.actor_url(actor, path), **kwargs)

    # ---- verdicts ---------------------------------------------------------------------------------
    def fail(self, message: str) -> None:
        raise CaseFailed(message)

    def check(self, condition: object, message: str) -> None:
        """Fail with ``message`` unless ``condition`` holds."""
        if not condition:
            raise CaseFailed(message)

    def skip(self, reason: str) -> None:
        raise CaseSkipped(reason)

    def note(self, text: str) -> None:
        """A remark kept with the case's result (what was seen, not a verdict)."""
        self.notes.append(text)

    def instruct(self, text: str) -> None:
        """What the participant must do now (shown at once in the CLI, the run's JSON and the report)."""
        self.instructions.append(text)
        if self.on_instruction is not None:
            self.on_instruction(text)

    async def wait_for(self, probe: Callable[[], Awaitable[T | None]], *, what: str,
                       timeout: float | None = None, interval: float = 0.5) -> T:
        """Ask ``probe`` every ``interval`` seconds until it answers something other than ``None``; fail
        naming ``what`` after ``timeout`` seconds (the run's ``timeout_seconds`` option, else 300)."""
        limit = timeout if timeout is not None else float(self.options.get("timeout_seconds", 300))
        deadline = time.monotonic() + limit
        while True:
            found = await probe()
            if found is not None:
                return found
            if time.monotonic() >= deadline:
                raise CaseFailed(f"Waited {limit:g} s for {what}; it did not come")
            await asyncio.sleep(interval)


@dataclass
class CaseResult:
    name: str
    title: str
    reference: str
    status: Status
    message: str
    started: str
    duration_ms: float
    evidence: list[Exchange]
    instructions: list[str]
    notes: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "reference": self.reference, "status": self.status,
                "message": self.message, "started": self.started, "duration_ms": round(self.duration_ms, 1),
                "instructions": self.instructions, "notes": self.notes,
                "evidence": [e.to_json() for e in self.evidence]}


async def run_case(ctx: CaseContext) -> CaseResult:
    """Run one case; its verdict and everything it kept. An unexpected error in the case fails it and says so."""
    started = datetime.now(UTC).isoformat(timespec="milliseconds")
    clock = time.perf_counter()
    status: Status = "passed"
    message = ""
    try:
        await ctx.case.run(ctx)
    except CaseFailed as exc:
        status, message = "failed", str(exc)
    except CaseSkipped as exc:
        status, message = "skipped", str(exc)
    except Exception as exc:  # a case's own error is that case's failure, never the run's end
        status, message = "failed", f"the case could not be completed: {type(exc).__name__}: {exc}"
    return CaseResult(ctx.case.name, ctx.case.title, ctx.case.reference, status, message, started,
                      (time.perf_counter() - clock) * 1000, ctx.evidence, ctx.instructions, ctx.notes)


async def run_suite(sandbox: SandboxContext, suite: Suite, target: str, options: dict[str, Any] | None = None, *,
                    on_result: Callable[[CaseResult], None] | None = None,
                    on_instruction: Callable[[str, str], None] | None = None,
                    only: set[str] | None = None) -> list[CaseResult]:
    """Run ``suite``'s cases (or those named in ``only``) in order against ``target``. ``on_result`` hears of
    each case's result as it is known, ``on_instruction`` of each instruction (case name, text). A failing
    ``setup`` fails every case with its message."""
    options = dict(options or {})
    shared: dict[str, Any] = {}
    results: list[CaseResult] = []

    def context(case: Case) -> CaseContext:
        hear = None if on_instruction is None else (lambda text, name=case.name: on_instruction(name, text))
        return CaseContext(sandbox, suite, case, target, options, shared, hear)

    setup_failure: CaseResult | None = None
    if suite.setup is not None and suite.cases:
        setup_case = Case("setup", f"{suite.title}: setup", suite.setup)
        setup_failure = await run_case(context(setup_case))
        if setup_failure.status == "passed":
            shared.setdefault("setup_evidence", setup_failure.evidence)
            setup_failure = None
    for case in suite.cases:
        if only is not None and case.name not in only:
            continue
        if setup_failure is not None:
            result = CaseResult(case.name, case.title, case.reference, "failed",
                                f"the suite's setup failed: {setup_failure.message}", setup_failure.started, 0.0,
                                setup_failure.evidence if not results else [], [], [])
        else:
            result = await run_case(context(case))
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
