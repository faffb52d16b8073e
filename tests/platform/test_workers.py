"""``nsp-sandbox up --workers 2`` on SQLite (WAL) and PostgreSQL: two processes on one port that agree.

One sandbox per database is started as a real command and used over real sockets. Every answer
names its worker (``X-Sandbox-Worker``), and every request here goes on a connection of its own, so
the kernel hands requests to both workers; each test checks that both answered. Checked: the demo
data loaded once; concurrent provides none lost or duplicated; a token issued by one worker accepted
by the other; one move of the clock seen by every worker at once; a fault switch for N calls acting
exactly N times across workers; a world file loaded through one worker served by both; delayed
acknowledgements delivered by both workers at once sent once each; a viewer session made on one
worker valid on the other; every answered request in the request log, whichever worker reads it;
Ctrl-C stops all.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2 as httpx
import pytest
from servers import HTTP, TLS, free_port, wait_healthy
from sts_client import READER, SOURCE_SYSTEM, add_relation, auth

from nsp_sandbox.cpr import CPR_SYSTEM

pytestmark = pytest.mark.slow

WORKERS = 2
START_TIMEOUT = 180.0
HEADER = "x-sandbox-worker"
CPR = "0602631234"  # the patient of the xdsdocuments HCO DocumentReference example
DR_EXAMPLE = ("medcom.fhir.dk.xdsdocuments", "0.1.0-homecareobservation-draft-2",
              "example/DocumentReference-16002002-ac41-45de-ad6b-eb02b098e859.json")
HCO_EXAMPLE = ("medcom.fhir.dk.homecareobservation", "1.2.1",
               "example/Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json")
LIST_TYPES = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes"


@dataclass
class Served:
    base: str
    process: subprocess.Popen[str]
    pids: set[str] = field(default_factory=set)  # every worker heard answering

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request on a connection of its own (so either worker may take it)."""
        headers = {"Connection": "close", **kwargs.pop("headers", {})}
        response = HTTP.request(method, f"{self.base}{path}", headers=headers, timeout=60, **kwargs)
        self.pids.add(response.headers[HEADER])
        return response


def _database_url(kind: str, request: pytest.FixtureRequest, data: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{data / 'sandbox.db'}"
        return
    import psycopg

    db = request.getfixturevalue("postgres_database")
    schema = f"w_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{db}?options={quote(f'-csearch_path={schema}')}"
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           fhir_packages_dir: Path) -> Iterator[Served]:
    data = tmp_path_factory.mktemp(f"workers-{request.param}")
    urls = _database_url(request.param, request, data)
    env = {**os.environ, "NSP_SANDBOX_FHIR_PACKAGES": str(fhir_packages_dir), "FHIR_PACKAGE_CACHE": str(data / "c"),
           "NSP_SANDBOX_DATABASE_URL": next(urls), "NSP_SANDBOX_WORKERS": str(WORKERS)}
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "sandbox.cli", "up", "--port", str(port), "--data-dir",
                                str(data)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sandbox = Served(f"http://127.0.0.1:{port}", process)
    why = wait_healthy(sandbox.base, START_TIMEOUT, process)
    if why is not None:
        assert process.poll() is None, process.communicate(timeout=10)[0]
        process.kill()
        pytest.fail(f"not ready in time ({why}): {process.communicate()[0]}")
    yield sandbox
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()  # the workers follow their supervisor within a second
            process.communicate()
    next(urls, None)


def _spread(sandbox: Served, send: Any, count: int) -> list[httpx.Response]:
    """``count`` calls of ``send(i)``, four at a time; both workers must have answered some."""
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(send, range(count)))
    assert len({a.headers[HEADER] for a in answers}) == WORKERS, "one worker took every request"
    return answers


# ---- the tests, in the order they run on each database (the last one stops the sandbox) ----------


def test_every_worker_is_ready_and_the_demo_data_was_loaded_once(served: Served) -> None:
    answers = _spread(served, lambda _: served.call("GET", "/health"), 20)
    assert {a.json()["status"] for a in answers} == {"ready"}
    with httpx.Client(verify=TLS, base_url=served.base, timeout=60) as http:
        headers = auth(http, "citizen-2509479989")
    found = served.call("GET", "/dds/fhir/DocumentReference", headers=headers, params={
        "patient.identifier": f"{CPR_SYSTEM}|2509479989", "status": "current,superseded,entered-in-error"})
    assert found.status_code == 200, found.text
    # What the demo puts in DDS once: the HCO examples shared (one corrected: superseded, its correction
    # retracted: entered-in-error) and PLSP's three on-demand entries (a diagnosis card and two notes).
    entries = Counter((e["resource"]["type"]["coding"][0]["code"] == "HCOM", e["resource"]["status"])
                      for e in found.json()["entry"] if e["search"]["mode"] == "match")
    assert entries == {(True, "current"): 4, (True, "superseded"): 1, (True, "entered-in-error"): 1,
                       (False, "current"): 3}, entries


def _provide_bundle(packages: Any) -> bytes:
    model = packages.get(*DR_EXAMPLE[:2]).load(DR_EXAMPLE[2])
    document = (packages.get(*HCO_EXAMPLE[:2]).root / HCO_EXAMPLE[2]).read_bytes()
    content = json.loads(document.replace(b'"2509479989"', f'"{CPR}"'.encode()))
    content["id"] = str(uuid.uuid4())  # content of its own
    dr = copy.deepcopy(model)
    entry_uuid = uuid.uuid4()
    dr["id"] = str(entry_uuid)
    dr["masterIdentifier"]["value"] = f"urn:uuid:{uuid.uuid4()}"
    dr["identifier"][0]["value"] = f"urn:uuid:{entry_uuid}"
    binary, reference = f"urn:uuid:{uuid.uuid4()}", f"urn:uuid:{uuid.uuid4()}"
    dr["content"][0]["attachment"].update({"url": binary, "contentType": "application/fhir+json"})
    submission_set = {
        "resourceType": "List",
        "extension": [{"url": "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId",
                       "valueIdentifier": {"value": "urn:oid:1.2.208.176.43210.8.10.99"}}],
        "identifier": [{"use": "usual", "system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"},
                       {"use": "official", "system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"}],
        "status": "current", "mode": "working", "title": "HCO til deling",
        "code": {"coding": [{"system": LIST_TYPES, "code": "submissionset"}]},
        "subject": {"identifier": {"system": CPR_SYSTEM, "value": CPR}},
        "date": "2026-04-28T10:20:00+02:00", "entry": [{"item": {"reference": reference}}]}
    return json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": submission_set,
         "request": {"method": "POST", "url": "List"}},
        {"fullUrl": reference, "resource": dr, "request": {"method": "POST", "url": "DocumentReference"}},
        {"fullUrl": binary, "resource": {"resourceType": "Binary", "contentType": "application/fhir+json",
                                         "data": base64.b64encode(json.dumps(content).encode()).decode()},
         "request": {"method": "POST", "url": "Binary"}}]}).encode()


def test_concurrent_provides_are_each_found_once(served: Served, packages: Any) -> None:
    with httpx.Client(verify=TLS, base_url=served.base, timeout=60) as http:
        add_relation(http, READER, CPR)
        source, reader = auth(http, SOURCE_SYSTEM), auth(http, READER)
    bodies = [_provide_bundle(packages) for _ in range(24)]
    answers = _spread(served, lambda i: served.call("POST", "/dds/fhir", content=bodies[i], headers={
        **source, "Content-Type": "application/fhir+json"}), len(bodies))
    assert [a.status_code for a in answers] == [200] * len(bodies), [a.text[:300] for a in answers if a.is_error]
    provided = [next(e["response"]["location"].split("/")[1] for e in a.json()["entry"]
                     if e["response"]["location"].startswith("DocumentReference/")) for a in answers]
    assert len(set(provided)) == len(bodies)
    found: list[str] = []
    url: str | None = "/dds/fhir/DocumentReference"
    params: dict[str, str] | None = {"patient.identifier": f"{CPR_SYSTEM}|{CPR}", "status": "current",
                                     "_count": "10"}
    while url is not None:  # every page, each from whichever worker takes it
        page = served.call("GET", url.replace(served.base, ""), params=params, headers=reader)
        assert page.status_code == 200, page.text
        found += [e["resource"]["id"] for e in page.json().get("entry", []) if e["search"]["mode"] == "match"]
        url = next((link["url"] for link in page.json().get("link", []) if link["relation"] == "next"), None)
        params = None
    assert sorted(found) == sorted(provided)  # none lost, none twice


def test_a_token_issued_by_one_worker_is_accepted_by_the_other(served: Served) -> None:
    def issue_then_use(_: int) -> tuple[str, str, int]:
        issued = served.call("POST", "/nsp/sts/token", json={"persona": "citizen-2509479989"})
        used = served.call("GET", "/dds/fhir/DocumentReference", params={
            "patient.identifier": f"{CPR_SYSTEM}|2509479989", "status": "current"}, headers={
            "Authorization": f"Bearer {issued.json()['access_token']}"})
        return issued.headers[HEADER], used.headers[HEADER], used.status_code

    with ThreadPoolExecutor(4) as pool:
        pairs = list(pool.map(issue_then_use, range(30)))
    assert {status for _, _, status in pairs} == {200}
    assert any(issuer != user for issuer, user, _ in pairs), pairs


def test_one_move_of_the_clock_is_seen_by_every_worker(served: Served) -> None:
    """At once: each worker re-reads the clock as a request begins (no waiting out the half-second refresh)."""
    for instant in ("2031-05-17T12:00:00Z", "2032-01-02T03:04:05Z", "2033-07-08T09:10:11Z"):
        moved = served.call("PUT", "/sandbox/clock", json={"now": instant, "frozen": True})
        assert moved.status_code == 200, moved.text
        seen = [served.call("GET", "/sandbox/clock") for _ in range(6)]
        assert {a.json()["now"] for a in seen} == {instant}, [(a.headers[HEADER], a.json()["now"]) for a in seen]
    answers = _spread(served, lambda _: served.call("GET", "/sandbox/clock"), 12)
    assert {a.json()["now"] for a in answers} == {"2033-07-08T09:10:11Z"}
    served.call("DELETE", "/sandbox/clock")


def test_a_fault_switch_for_three_calls_acts_exactly_three_times_across_workers(served: Served) -> None:
    switched = served.call("PUT", "/sandbox/faults/nsp/sts-refuse", json={"on": True, "calls": 3})
    assert switched.status_code == 200, switched.text
    first = served.call("POST", "/nsp/sts/token", json={"persona": "gp-skodstrup"})
    assert first.status_code == 503  # whichever worker took it: on at once
    switched = served.call("PUT", "/sandbox/faults/nsp/sts-refuse", json={"on": True, "calls": 3})
    answers = _spread(served, lambda _: served.call("POST", "/nsp/sts/token", json={"persona": "gp-skodstrup"}), 30)
    assert sorted(a.status_code for a in answers) == [200] * 27 + [503] * 3
    state = served.call("GET", "/sandbox/faults").json()
    assert next(s for s in state if (s["actor"], s["name"]) == ("nsp", "sts-refuse"))["state"] == {"on": False}


def test_a_world_file_loaded_through_one_worker_is_served_by_every_worker_at_once(served: Served) -> None:
    world = {"citizens": [{"cpr": "1212821234", "name": "Anna Vendortest", "gp": "52581000016005"}]}
    loaded = served.call("POST", "/sandbox/world", json=world)
    assert loaded.status_code == 200, loaded.text
    answers = _spread(served, lambda _: served.call("POST", "/nsp/sts/token",
                                                    json={"persona": "citizen-1212821234"}), 12)
    assert {a.status_code for a in answers} == {200}, [a.text[:200] for a in answers]


def test_delayed_acknowledgements_delivered_by_both_workers_at_once_are_each_sent_once(served: Served) -> None:
    """Each delayed acknowledgement is claimed (waiting → sending) by one worker: never sent twice."""
    from actor_tokens import ActorTokens
    from hco_flow import order

    delayed = served.call("PUT", "/sandbox/faults/lps/delay", json={"on": True, "calls": 6, "minutes": 5})
    assert delayed.status_code == 200, delayed.text
    with httpx.Client(verify=TLS, base_url=served.base, auth=ActorTokens(), timeout=60) as http:
        sent = [http.post("/eoj/hco", json=order()).json() for _ in range(6)]
        assert {s["ack"] for s in sent} == {"pending"}, sent
        now = datetime.fromisoformat(served.call("GET", "/sandbox/clock").json()["now"].replace("Z", "+00:00"))
        served.call("PUT", "/sandbox/clock", json={"now": (now + timedelta(minutes=10)).isoformat()})
        try:
            answers = _spread(served, lambda _: served.call("POST", "/lps/outbox/deliver"), 8)
            delivered = [d for a in answers for d in a.json()["delivered"] if d.startswith("sent to")]
            assert len(delivered) == 6, [a.json()["delivered"] for a in answers]
            logs = [http.get(f"/eoj/hco/{s['id']}").json()["ack_log"] for s in sent]
        finally:
            served.call("DELETE", "/sandbox/clock")
    assert [[(a["code"], a["verdict"]) for a in log] for log in logs] == [[("ok", "applied")]] * 6


def test_a_viewer_session_made_on_one_worker_is_valid_on_the_other(served: Served) -> None:
    form = served.call("GET", "/view/")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text)
    assert token, form.text[:500]
    signed = served.call("POST", "/view/login", data={"persona": "citizen-2509479989", "csrf": token.group(1)},
                         cookies=dict(form.cookies), follow_redirects=False)
    assert signed.status_code == 303, signed.text
    cookies = dict(signed.cookies)
    made_on = signed.headers[HEADER]
    pages = _spread(served, lambda _: served.call("GET", "/view/hjem", cookies=cookies, follow_redirects=False), 20)
    assert {p.status_code for p in pages} == {200}
    assert any(p.headers[HEADER] != made_on for p in pages)
    assert all("Bruno Elmer" in p.text for p in pages)


def test_every_answered_request_is_in_the_request_log_whichever_worker_reads_it(served: Served) -> None:
    """A reader through one worker cannot write another worker's queue: each answer waits for its row."""
    mark = served.call("GET", "/dds/requests", params={"_count": 0})
    assert mark.status_code == 200, mark.text

    def ask_then_read(n: int) -> tuple[str, str, list[int]]:
        cpr = f"{n + 1:02d}0190{n:04d}"
        asked = served.call("GET", "/dds/fhir/DocumentReference", params={
            "patient.identifier": f"{CPR_SYSTEM}|{cpr}", "status": "current"})
        read = served.call("GET", "/dds/requests", params={"after": mark.json()["last"], "patient": cpr})
        return asked.headers[HEADER], read.headers[HEADER], [r["status"] for r in read.json()["requests"]]

    with ThreadPoolExecutor(4) as pool:
        pairs = list(pool.map(ask_then_read, range(24)))
    assert [kept for _, _, kept in pairs] == [[401]] * 24, pairs  # no token: refused, and kept
    assert any(asker != reader for asker, reader, _ in pairs), pairs


def test_ctrl_c_stops_every_worker(served: Served) -> None:
    workers = {int(pid) for pid in served.pids}
    assert len(workers) == WORKERS
    served.process.send_signal(signal.SIGINT)
    output = served.process.communicate(timeout=60)[0]
    for pid in workers:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert output.count("Demo data: sending") == 1, output  # loaded by one worker, once
    assert re.search(rf"ready in [\d.]+ s \(database: .*; {WORKERS} workers: \d+, \d+; conformance engine: .+\)",
                     output), output
