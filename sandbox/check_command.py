"""``nsp-sandbox check SUITE --target URL``: run a conformance suite against a vendor's system and say the
verdict (docs/runs.md) — exit 0 when it passed, 1 when it failed, 2 when it could not be run (a usage
error, a run the sandbox refused, a sandbox that cannot be reached).

With ``--sandbox URL`` (or ``NSP_SANDBOX_URL``) the run is started on that running sandbox over its control
face (``POST /sandbox/runs``, with ``NSP_SANDBOX_ADMIN_TOKEN`` when set) and followed there; without it, an
embedded sandbox is built in this process (as ``nsp-sandbox up`` builds one, without demo data) and the
run goes through the same HTTP face in process. Either way a line is printed for each instruction for the
participant as it is given and for each case as it finishes; the JUnit XML and HTML reports are written
from the finished run's JSON when asked.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    import httpx2 as httpx

POLL_SECONDS = 0.3
MARKS = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}
Echo = Callable[[str], None]


class CannotRun(Exception):
    """The check could not be made (exit 2); the message says why."""


def _options(pairs: list[str]) -> dict[str, str]:
    options: dict[str, str] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name.strip():
            raise CannotRun(f"--option takes NAME=VALUE, not '{pair}'")
        options[name.strip()] = value
    return options


def _refusal(answer: httpx.Response) -> str:
    try:
        issues = answer.json().get("issue", [])
    except ValueError:
        return f"HTTP {answer.status_code}: {answer.text[:300]}"
    return f"HTTP {answer.status_code}: " + "; ".join(
        f"{', '.join(i.get('expression', [])) or '-'}: {i.get('diagnostics', '')}" for i in issues)


@asynccontextmanager
async def _sandbox(url: str | None, data_dir: Path | None, echo: Echo) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the control face: of the sandbox at ``url``, or of an embedded one built here."""
    import httpx2 as httpx

    if url:
        token = os.environ.get("NSP_SANDBOX_ADMIN_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, timeout=60) as client:
            yield client
        return
    from nsp_sandbox.config import Settings
    from nsp_sandbox.context import SandboxContext
    from nsp_sandbox.peers import IN_PROCESS_ORIGIN
    from sandbox.app import create_sandbox_app
    from sandbox.package_command import ensure_packages

    settings = Settings(data_dir=data_dir or Path(tempfile.mkdtemp(prefix="nsp-sandbox-check-")))
    where = "NSP_SANDBOX_DATABASE_URL" if settings.database_url else settings.data_dir
    echo(f"Building an embedded sandbox (database: {where}) …")
    context = SandboxContext.from_settings(settings)
    try:
        ensure_packages(settings, context)
    except typer.Exit as exc:
        raise CannotRun("the FHIR packages could not be installed") from exc
    app = create_sandbox_app(context, warm_packages=False)
    headers = {"Authorization": f"Bearer {settings.admin_token}"} if settings.admin_token else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=IN_PROCESS_ORIGIN,
                                 headers=headers, timeout=60) as client:
        yield client


async def _follow(client: httpx.AsyncClient, run_id: str, echo: Echo) -> dict[str, Any]:
    """Poll the run until it is over, printing each new instruction and each newly finished case."""
    import httpx2 as httpx

    told = shown = misses = 0
    while True:
        try:
            answer = await client.get(f"/sandbox/runs/{run_id}", params={"evidence": "false"})
            answer.raise_for_status()
        except httpx.HTTPError as exc:
            misses += 1
            if misses > 20:
                raise CannotRun(f"the run {run_id} could not be followed: {type(exc).__name__}: {exc}") from None
            await asyncio.sleep(POLL_SECONDS * 3)
            continue
        run, misses = answer.json(), 0
        fresh = run["instructions"][told:]
        for case in run["cases"][shown:]:  # a case's instructions, then its verdict; the next case's after
            for instruction in [i for i in fresh if i["case"] in (case["name"], "setup")]:
                echo(f"  >> {instruction['case']}: {instruction['text']}")
                fresh.remove(instruction)
            echo(f"  {MARKS[case['status']]}  {case['name']}  {case['title']}")
            if case["message"]:
                echo(f"        {case['message']}")
        for instruction in fresh:  # the instructions of the case going now
            echo(f"  >> {instruction['case']}: {instruction['text']}")
        told, shown = len(run["instructions"]), len(run["cases"])
        if run["status"] != "running":
            whole = await client.get(f"/sandbox/runs/{run_id}")  # with the evidence, for the reports
            whole.raise_for_status()
            return dict(whole.json())
        await asyncio.sleep(POLL_SECONDS)


async def run_check(body: dict[str, Any], url: str | None, data_dir: Path | None, echo: Echo) -> dict[str, Any]:
    """Start the run ``body`` asks for and follow it to its end; the finished run's JSON."""
    import httpx2 as httpx

    try:
        async with _sandbox(url, data_dir, echo) as client:
            answer = await client.post("/sandbox/runs", json=body)
            if answer.status_code != 201:
                raise CannotRun(f"the sandbox refused the run: {_refusal(answer)}")
            run_id = answer.json()["id"]
            where = f"{url.rstrip('/')}/sandbox/runs/{run_id}" if url else f"run {run_id} (embedded sandbox)"
            echo(f"Running suite {body['suite']} against {body['target']}: {where}")
            return await _follow(client, run_id, echo)
    except httpx.HTTPError as exc:
        raise CannotRun(f"the sandbox at {url} could not be reached: {type(exc).__name__}: {exc}") from None


def _list(url: str | None) -> None:
    if url:
        import httpx2 as httpx

        token = os.environ.get("NSP_SANDBOX_ADMIN_TOKEN")
        try:
            answer = httpx.get(f"{url.rstrip('/')}/sandbox/suites", timeout=30,
                               headers={"Authorization": f"Bearer {token}"} if token else {})
        except httpx.HTTPError as exc:
            raise CannotRun(f"the sandbox at {url} could not be reached: {type(exc).__name__}") from None
        if answer.status_code != 200:
            raise CannotRun(_refusal(answer))
        listed = answer.json()
    else:
        from sandbox.control.runs import suite_json
        from sandbox.runs import suites

        listed = [suite_json(s) for s in suites.all_suites()]
    for suite in listed:
        typer.echo(f"{suite['name']:<22} {suite['target_kind']:<20} {suite['title']}")
    if not listed:
        typer.echo("No suites.")


def _write_reports(run: dict[str, Any], junit: Path | None, html: Path | None) -> None:
    from sandbox.runs.junit import junit_xml
    from sandbox.runs.report_html import report_html

    if junit is not None:
        junit.write_bytes(junit_xml(run))
        typer.echo(f"JUnit XML written to {junit}")
    if html is not None:
        html.write_text(report_html(run), encoding="utf-8")
        typer.echo(f"HTML report written to {html}")


def check(
    suite: Annotated[str | None, typer.Argument(help="the suite to run (see --list)")] = None,
    target: Annotated[str | None, typer.Option(help="the vendor's system: its URL (or what the suite "
                                               "says identifies it)")] = None,
    junit: Annotated[Path | None, typer.Option(help="write the JUnit XML report here", dir_okay=False)] = None,
    html: Annotated[Path | None, typer.Option(help="write the HTML report here", dir_okay=False)] = None,
    option: Annotated[list[str] | None, typer.Option(help="a suite option, NAME=VALUE (repeatable)")] = None,
    case: Annotated[list[str] | None, typer.Option(help="run only this case (repeatable)")] = None,
    sandbox: Annotated[str | None, typer.Option(envvar="NSP_SANDBOX_URL", help="a running sandbox to run on, "
                                                "e.g. http://127.0.0.1:8080; default: an embedded one")] = None,
    list_suites: Annotated[bool, typer.Option("--list", help="list the suites and stop")] = False,
    data_dir: Annotated[Path | None, typer.Option(help="database folder of the embedded sandbox (default: a "
                                                  "fresh temporary one)")] = None,
) -> None:
    """Run a conformance suite against a vendor's system; exit 0 passed, 1 failed, 2 could not run."""
    try:
        if list_suites:
            _list(sandbox)
            return
        if not suite or not target:
            raise CannotRun("give the suite and --target (nsp-sandbox check --list shows the suites)")
        body: dict[str, Any] = {"suite": suite, "target": target}
        if option:
            body["options"] = _options(option)
        if case:
            body["cases"] = case
        run = asyncio.run(run_check(body, sandbox, data_dir, typer.echo))
    except CannotRun as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    _write_reports(run, junit, html)
    tally = run["counts"]
    not_run = f", {tally['pending']} not run" if tally["pending"] else ""
    typer.echo(f"{run['status'].upper()}: {tally['passed']} passed, {tally['failed']} failed, "
               f"{tally['skipped']} skipped{not_run}")
    if run["message"]:
        typer.echo(run["message"])
    raise typer.Exit(0 if run["status"] == "passed" else 1)


def register(app: typer.Typer) -> None:
    app.command(name="check")(check)
