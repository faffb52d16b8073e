"""Conformance runs over HTTP (``/sandbox/suites``, ``/sandbox/runs``): a run is accepted at once, goes on in
the background, is kept in the database as it goes, and reads back as JSON, JUnit XML and HTML."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from xml.etree import ElementTree as ET

from face_access import admin_token, assert_needs_token, stranger
from fastapi.testclient import TestClient
from runs_support import NOT_INTERACTIVE, SUITE, TARGET, finished, self_test_suite
from sqlalchemy import event, update
from sqlalchemy.orm import Session

from nsp_sandbox.context import SandboxContext
from sandbox.runs import store as run_store
from sandbox.runs.store import NewRun, RunRow, RunStore

__all__ = ["self_test_suite"]
CASE_FIELDS = {"name", "title", "reference", "status", "message", "started", "duration_ms", "instructions",
               "notes", "evidence"}


def _start(client: TestClient, **body: Any) -> str:
    answer = client.post("/sandbox/runs", json={"suite": SUITE.name, "target": TARGET, **body})
    assert answer.status_code == 201, answer.text
    assert answer.headers["location"] == f"/sandbox/runs/{answer.json()['id']}"
    return str(answer.json()["id"])


def test_suites_are_listed_with_their_cases_and_options(client: TestClient) -> None:
    listed = client.get("/sandbox/suites")
    assert listed.status_code == 200
    [suite] = listed.json()
    assert {k: suite[k] for k in ("name", "title", "target_kind")} == SUITE.summary()
    assert [c["name"] for c in suite["cases"]] == [c.name for c in SUITE.cases]
    assert set(suite["options"]) == {"flavour", "timeout_seconds"}


def test_a_run_with_a_failure_reads_back_as_json_junit_and_html(client: TestClient) -> None:
    run_id = _start(client, cases=NOT_INTERACTIVE)
    run = finished(client.get, run_id)

    assert run["status"] == "failed" and run["message"] == "Failed: search-without-token"
    assert [(c["name"], c["status"]) for c in run["cases"]] == [
        ("personas-listed", "passed"), ("search-without-token", "failed"), ("flavour-given", "skipped")]
    assert all(set(c) == CASE_FIELDS for c in run["cases"])
    assert run["counts"] == {"total": 3, "passed": 1, "failed": 1, "skipped": 1, "pending": 0}
    assert run["pending"] == [] and run["next_instruction"] is None and run["finished"]
    failed = run["cases"][1]
    assert failed["message"] == "ITI-67 without a token answered HTTP 401, not 200"
    [exchange] = failed["evidence"]
    assert exchange["method"] == "GET" and exchange["url"].startswith(f"{TARGET}/fhir/DocumentReference?")
    assert exchange["response"]["status"] == 401
    assert '"resourceType":"OperationOutcome"' in exchange["response"]["body"].replace(" ", "")
    assert run["cases"][2]["message"] == "no flavour option in this run"
    assert run["cases"][0]["notes"][0].endswith("personas")
    light = client.get(f"/sandbox/runs/{run_id}", params={"evidence": "false"}).json()
    assert [(c["evidence"], c["evidence_count"]) for c in light["cases"]] == [([], 1), ([], 1), ([], 0)]

    junit = client.get(f"/sandbox/runs/{run_id}/junit.xml")
    assert junit.status_code == 200 and junit.headers["content-type"].startswith("application/xml")
    suite = ET.fromstring(junit.content).find("testsuite")
    assert suite is not None
    assert [suite.get(k) for k in ("tests", "failures", "skipped", "errors")] == ["3", "1", "1", "0"]
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert list(cases) == NOT_INTERACTIVE
    failure = cases["search-without-token"].find("failure")
    assert failure is not None and failure.get("message") == failed["message"]
    assert "→ HTTP 401" in (cases["search-without-token"].findtext("system-out") or "")
    assert cases["flavour-given"].find("skipped") is not None and cases["personas-listed"].find("failure") is None

    page = client.get(f"/sandbox/runs/{run_id}/report.html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "style-src 'sha256-" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    for name in NOT_INTERACTIVE:
        assert f'id="case-{name}"' in page.text
    assert "&quot;resourceType&quot;" in page.text  # the evidence's body, escaped


def test_a_run_of_passing_cases_passes_and_takes_options(client: TestClient) -> None:
    run_id = _start(client, cases=["flavour-given", "personas-listed"], options={"flavour": "<b>vanilla</b>"})
    run = finished(client.get, run_id)
    assert run["status"] == "passed" and run["message"] == ""
    assert [c["name"] for c in run["cases"]] == ["personas-listed", "flavour-given"]  # the suite's order
    assert run["cases"][1]["notes"] == ["flavour <b>vanilla</b>"] and run["options"] == {"flavour": "<b>vanilla</b>"}
    assert "flavour &lt;b&gt;vanilla&lt;/b&gt;" in client.get(f"/sandbox/runs/{run_id}/report.html").text
    listed = client.get("/sandbox/runs").json()
    assert listed[0]["id"] == run_id and listed[0]["counts"]["passed"] == 2 and "cases" not in listed[0]


def test_while_a_case_waits_the_instruction_and_pending_cases_show(client: TestClient) -> None:
    run_id = _start(client, cases=["clock-frozen", "personas-listed"])
    deadline = time.monotonic() + 30
    while not (run := client.get(f"/sandbox/runs/{run_id}").json())["next_instruction"]:
        assert time.monotonic() < deadline and run["status"] == "running", run
        time.sleep(0.05)
    assert run["status"] == "running" and run["running"] == "clock-frozen"
    assert [c["name"] for c in run["cases"]] == ["personas-listed"]  # the suite's order
    assert run["pending"] == [{"name": "clock-frozen", "title": "The participant freezes the clock"}]
    assert run["next_instruction"]["case"] == "clock-frozen"
    assert run["next_instruction"]["text"].startswith("Freeze the sandbox clock")
    going = client.get(f"/sandbox/runs/{run_id}/report.html").text
    assert "Now: Freeze the sandbox clock" in going and '<meta http-equiv="refresh" content="5">' in going

    assert client.put("/sandbox/clock", json={"frozen": True}).status_code == 200  # the participant acts
    run = finished(client.get, run_id)
    assert run["status"] == "passed" and run["next_instruction"] is None
    assert 'http-equiv="refresh"' not in client.get(f"/sandbox/runs/{run_id}/report.html").text
    assert run["cases"][1]["instructions"] == [run["instructions"][0]["text"]]
    client.delete("/sandbox/clock")


def test_a_waiting_case_fails_when_its_time_runs_out(client: TestClient) -> None:
    run = finished(client.get, _start(client, cases=["clock-frozen"], options={"timeout_seconds": 0.3}))
    assert run["status"] == "failed"
    assert run["cases"][0]["message"] == "Waited 0.3 s for the sandbox clock to be frozen; it did not come"


def test_a_run_nobody_carries_any_more_is_failed_saying_why(client: TestClient, context: SandboxContext) -> None:
    store = RunStore(context.database)
    orphan = store.create(NewRun(SUITE.name, SUITE.title, "dds", TARGET, {}, [("personas-listed", "t")]))
    run = client.get(f"/sandbox/runs/{orphan}").json()
    assert run["status"] == "failed" and run["finished"]
    assert run["message"] == "The run stopped unfinished: the sandbox process that ran it no longer carries it."
    assert run["pending"] == [{"name": "personas-listed", "title": "t"}]
    junit = ET.fromstring(client.get(f"/sandbox/runs/{orphan}/junit.xml").content)
    skipped = junit.find("testsuite/testcase/skipped")
    assert skipped is not None and skipped.get("message", "").startswith("not run: The run stopped unfinished")

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    died = store.create(NewRun(SUITE.name, SUITE.title, "dds", TARGET, {}, []))
    with context.database.session() as session:
        session.execute(update(RunRow).where(RunRow.id == died).values(owner_pid=int(ended.stdout)))
    assert client.get(f"/sandbox/runs/{died}").json()["message"] == (
        f"The run stopped unfinished: the sandbox process that ran it (pid {int(ended.stdout)} on "
        f"{run_store.HOST}) has stopped.")

    elsewhere = store.create(NewRun(SUITE.name, SUITE.title, "dds", TARGET, {}, []))
    with context.database.session() as session:
        session.execute(update(RunRow).where(RunRow.id == elsewhere).values(
            owner_host="another-host", heartbeat=time.time() - run_store.STALE_SECONDS - 5))
    message = client.get(f"/sandbox/runs/{elsewhere}").json()["message"]
    assert message.startswith("The run stopped unfinished: the sandbox process that ran it (pid ")
    assert "on another-host) has given no sign of life for 6" in message


def test_a_run_read_the_moment_it_is_written_is_not_taken_for_gone(client: TestClient) -> None:
    """Another page lists the runs just as a new one's row is committed, before the request that started it
    has gone on: the run is carried by then, so it is not failed as gone."""
    readings: list[list[str]] = []

    def read_at_once(session: Session) -> None:
        if any(isinstance(row, RunRow) for row in session.info.pop("new_runs", ())):
            other_page = threading.Thread(target=lambda: readings.append(
                [run["status"] for run in client.get("/sandbox/runs").json()]))
            other_page.start()
            other_page.join()

    def note_new(session: Session, _flush: object) -> None:
        session.info.setdefault("new_runs", []).extend(session.new)

    event.listen(Session, "after_flush", note_new)
    event.listen(Session, "after_commit", read_at_once)
    try:
        run_id = _start(client, cases=["personas-listed"])
    finally:
        event.remove(Session, "after_commit", read_at_once)
        event.remove(Session, "after_flush", note_new)
    assert readings and readings[0][0] == "running"
    run = finished(client.get, run_id)
    assert run["status"] == "passed", run["message"]


def test_runs_survive_a_reset(client: TestClient) -> None:
    run_id = _start(client, cases=["personas-listed"])
    finished(client.get, run_id)
    assert client.post("/sandbox/reset").status_code == 200
    assert client.get(f"/sandbox/runs/{run_id}").json()["status"] == "passed"


def test_what_a_run_refuses(client: TestClient) -> None:
    def refused(body: dict[str, Any], where: str) -> str:
        answer = client.post("/sandbox/runs", json=body)
        assert answer.status_code == 422, answer.text
        [issue] = answer.json()["issue"]
        assert issue["expression"] == [where], issue
        return str(issue["diagnostics"])

    base = {"suite": SUITE.name, "target": TARGET}
    assert "known: self-test" in refused({**base, "suite": "no-such-suite"}, "suite")
    assert "Unknown field(s) colour" in refused({**base, "colour": "red"}, "colour")
    refused({"suite": SUITE.name}, "target")
    refused({**base, "options": {"flavor": "x"}}, "options.flavor")
    refused({**base, "options": {"timeout_seconds": "soon"}}, "options.timeout_seconds")
    refused({**base, "options": ["flavour"]}, "options")
    refused({**base, "cases": ["personas-listed", "no-such-case"]}, "cases[1]")
    refused({**base, "cases": []}, "cases")
    assert client.get("/sandbox/runs/no-such-run").status_code == 404
    assert client.get("/sandbox/runs/no-such-run/report.html").json()["resourceType"] == "OperationOutcome"


def test_only_the_operator_may_run_suites(client: TestClient, context: SandboxContext) -> None:
    other = stranger(client)
    assert other.get("/sandbox/suites").status_code == 403
    assert other.post("/sandbox/runs", json={"suite": SUITE.name, "target": TARGET}).status_code == 403
    with admin_token(context, client, "operator-secret") as local:
        assert_needs_token(local.get("/sandbox/runs"))
        assert local.get("/sandbox/runs", headers={"Authorization": "Bearer operator-secret"}).status_code == 200


def test_of_verdicts_given_at_once_the_first_is_kept(context: SandboxContext) -> None:
    """The owner's verdict and another page's (or worker's) finding that the run is gone, at the same moment:
    one is kept, and never overwritten by the other."""
    store = RunStore(context.database)
    run_id = store.create(NewRun(SUITE.name, SUITE.title, "dds", TARGET, {}, []))
    verdicts = [("passed", ""), ("failed", "The run stopped unfinished: gone"), ("failed", "Failed: x")] * 3
    barrier = threading.Barrier(len(verdicts))

    def give(verdict: tuple[str, str]) -> bool:
        barrier.wait()
        return store.finish(run_id, *verdict)

    with ThreadPoolExecutor(len(verdicts)) as pool:
        taken = list(pool.map(give, verdicts))
    assert taken.count(True) == 1, taken
    kept = store.get(run_id)
    assert kept is not None and (kept.status, kept.message) == verdicts[taken.index(True)]
    assert not store.finish(run_id, "passed", "later")
    again = store.get(run_id)
    assert again is not None and (again.status, again.message) == (kept.status, kept.message)
