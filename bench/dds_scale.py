"""ITI-67 Find Document References at 1,000,000 registry entries, access control on (issue 16).

1. Seeds ``--entries`` DocumentEntries for ``--patients`` patients straight into the registry's
   tables, in batches of one transaction each: the rows a registration writes, made by the
   registry's own code — each DocumentReference mapped by the MHD face (``to_entry``), each
   SubmissionSet List by ``to_submission_set``, the rows by ``services.dds.storage``'s row builders
   (entry, codes, submission set and member, RPLC association, status change). Every entry comes
   in its own submission set, as a source's provide brings it. The spread: a few heavy patients
   with about 200 entries (the first of them the seeded citizen ``2509479989``), the rest about
   ``entries / patients`` each, interleaved in registration order over 2019–2026; typeCodes HCOM,
   ConditionList (LOINC 11450-4) and Notes (SNOMED CT 866144008); about 10 % of the entries
   replaced by a later one of the same patient (superseded, with the RPLC association and the
   status change) and 3 % marked entered-in-error (ITI-92, with its status change).
2. Starts the whole sandbox under uvicorn (one worker) on loopback over that database.
3. Times ITI-67, one request at a time, ``--queries`` per query kind: random light and heavy
   patients as a GP with a treatment relation (BRS), with ``status`` alone, with ``type``, with a
   ``date`` range, and the heavy citizen asking for their own entries with their own token. Every
   request goes through DDS's access checks with NSP and its Min Log write.
4. Reports p50 / p95 / p99, the CPU time the server spent per request (with PostgreSQL's backends
   for its database: a figure other work on the machine does not inflate as it does the latency),
   the server's RSS (``VmRSS`` and ``VmHWM``), the database's size and the seeding time.

    .venv/bin/python bench/dds_scale.py --entries 1000000 --patients 100000 --database sqlite --keep /tmp/dds-scale
    .venv/bin/python bench/dds_scale.py --entries 1000000 --patients 100000 --database postgres --keep /tmp/dds-scale

With ``--keep DIR`` the seeded database is kept (SQLite: a file in DIR; PostgreSQL: a database named
after the entry count, noted in DIR) and used again by the next run with the same figures, without
seeding; without it the database is made in a temporary directory (SQLite) or as a throwaway
database (PostgreSQL) and removed afterwards.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nsp_sandbox.cpr import CPR_SYSTEM  # noqa: E402
from nsp_sandbox.database import Database  # noqa: E402
from services.dds import storage  # noqa: E402
from services.dds.domain import AssociationKind, AvailabilityStatus, Document, PatientId  # noqa: E402
from services.dds.mhd.document_reference import to_entry  # noqa: E402
from services.dds.mhd.submission_set import to_submission_set  # noqa: E402
from services.dds.models import (  # noqa: E402
    AssociationRow,
    DdsBase,
    DocumentEntryRow,
    EntryCodeRow,
    StatusChangeRow,
    SubmissionMemberRow,
    SubmissionSetRow,
)
from services.dds.registry import Registry  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_dds", ROOT / "bench" / "dds.py")
assert _spec and _spec.loader
dds = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dds)

CITIZEN_CPR = "2509479989"  # a seeded citizen (Bruno Elmer): the first heavy patient
SUBMITTER = dds.SOURCE_SYSTEM  # the persona of the token the entries were provided with
REPLACED_REASON = "replaced by DocumentReference/{}"  # services.dds.registry: what an RPLC records
ITI92_REASON = "status update (ITI-92)"  # services.dds.mhd.rmu: what an ITI-92 status update records
HEAVY_ENTRIES = 200
FIRST = datetime(2019, 1, 1, tzinfo=UTC)
LAST = datetime(2026, 11, 30, tzinfo=UTC)

#: typeCode, formatCode and share of the entries: HomeCareObservation, ConditionList, Notes.
TYPES: tuple[tuple[dict[str, str], dict[str, str], float], ...] = (
    ({"system": "urn:oid:1.2.208.184.100.1", "code": "HCOM", "display": "HomeCareObservation message"},
     {"system": "urn:oid:1.2.208.184.100.10", "code": "urn:ad:dk:medcom:hcom:v1.0"}, 0.5),
    ({"system": "http://loinc.org", "code": "11450-4", "display": "Problem list - Reported"},
     {"system": "urn:oid:1.2.208.184.100.10", "code": "urn:ad:dk:medcom:plr-v1.0:full"}, 0.2),
    ({"system": "http://snomed.info/sct", "code": "866144008", "display": "Encounter note"},
     {"system": "urn:ietf:rfc:3986", "code": "http://medcomfhir.dk/ig/notes/StructureDefinition/medcom-notes-"
      "composition|1.0"}, 0.3),
)
CURRENT, SUPERSEDED, ENTERED_IN_ERROR = 0, 1, 2
STATUS = (AvailabilityStatus.CURRENT, AvailabilityStatus.SUPERSEDED, AvailabilityStatus.ENTERED_IN_ERROR)


def cpr_of(patient: int) -> str:
    """The CPR number of seeded patient ``patient`` (0 is the seeded citizen)."""
    return CITIZEN_CPR if patient == 0 else dds._cpr(patient)


def heavy_count(patients: int) -> int:
    """How many heavy patients (about 200 entries each) a registry of ``patients`` has."""
    return max(1, patients // 5000)


@dataclass
class Plan:
    """What is seeded, decided before the first row is written: per position in registration order
    its patient, its final status and, for a replacement, the position of the entry it replaces."""

    entries: int
    patients: int
    run: int  # distinguishes the ids of one seeding from another's
    patient: list[int] = field(default_factory=list)
    status: list[int] = field(default_factory=list)
    replaces: dict[int, int] = field(default_factory=dict)  # replacing position → replaced position
    changed_by: dict[int, int] = field(default_factory=dict)  # superseded position → replacing position

    def entry_id(self, position: int) -> str:
        return f"{self.run:08x}-5eed-4000-8000-{position:012x}"

    def registered(self, position: int) -> datetime:
        return FIRST + (LAST - FIRST) * (position / max(self.entries, 1))

    def status_changed(self, position: int) -> datetime:
        """When the entry at ``position`` got its final status."""
        if position in self.changed_by:
            return self.registered(self.changed_by[position])
        return self.registered(position) + timedelta(days=1)


def plan(entries: int, patients: int, seed: int = 16) -> Plan:
    """The patients, statuses and replacements of ``entries`` entries over ``patients`` patients."""
    rng = random.Random(seed)
    heavy = min(heavy_count(patients), patients)
    per_heavy = min(HEAVY_ENTRIES, entries // (2 * heavy)) if patients > heavy else entries // heavy
    counts = [per_heavy] * heavy
    light = patients - heavy
    rest = entries - per_heavy * heavy
    if light:
        base, extra = divmod(rest, light)
        light_counts = [base + (1 if i < extra else 0) for i in range(light)]
        for i in range(0, light - 1, 2):  # spread: pairs of patients trade entries, sums unchanged
            shift = rng.randrange(light_counts[i + 1]) if light_counts[i + 1] > 1 else 0
            light_counts[i] += shift
            light_counts[i + 1] -= shift
        counts += light_counts
    else:
        counts[0] += rest
    order = [p for p, n in enumerate(counts) for _ in range(n)]
    rng.shuffle(order)
    result = Plan(entries, patients, rng.getrandbits(32), order, [CURRENT] * entries)
    latest: dict[int, int] = {}
    for position, patient in enumerate(order):
        draw = rng.random()
        if draw < 0.10 and patient in latest:
            target = latest[patient]
            result.replaces[position] = target
            result.changed_by[target] = position
            result.status[target] = SUPERSEDED
        elif draw < 0.13:
            result.status[position] = ENTERED_IN_ERROR
            continue
        latest[patient] = position
    return result


class Seeder:
    """Writes a :class:`Plan` into a registry database in batches, one transaction each."""

    def __init__(self, database: Database, the_plan: Plan, model: dict[str, Any], document: bytes) -> None:
        self.database = database
        self.plan = the_plan
        self.template = json.dumps(model)
        self.document = Document.of(document)
        self.pks: list[int] = [0] * the_plan.entries

    def document_reference(self, position: int) -> dict[str, Any]:
        """The DocumentReference a source would provide for the entry at ``position``."""
        plan_ = self.plan
        cpr = cpr_of(plan_.patient[position])
        entry_id = plan_.entry_id(position)
        dr: dict[str, Any] = json.loads(self.template)
        dr["id"] = entry_id
        dr["masterIdentifier"]["value"] = f"urn:uuid:{plan_.run:08x}-5eed-4000-9000-{position:012x}"
        dr["identifier"][0]["value"] = f"urn:uuid:{entry_id}"
        for contained in dr["contained"]:
            if contained["resourceType"] == "Patient":
                contained["identifier"][0]["value"] = cpr
        dr["context"]["sourcePatientInfo"]["identifier"]["value"] = cpr
        mix = (position * 2654435761 % 1000) / 1000  # spread evenly, not in runs
        chosen = TYPES[0] if mix < TYPES[0][2] else TYPES[1] if mix < TYPES[0][2] + TYPES[1][2] else TYPES[2]
        dr["type"] = {"coding": [dict(chosen[0])]}
        dr["content"][0]["format"] = dict(chosen[1])
        dr["content"][0]["attachment"]["contentType"] = "application/fhir+json"
        registered = plan_.registered(position)
        created = registered - timedelta(hours=1 + position % 72)
        dr["date"] = _instant(registered)
        dr["content"][0]["attachment"]["creation"] = _instant(created)
        dr["context"]["facilityType"]["coding"][0]["code"] = dds.FACILITIES[position % len(dds.FACILITIES)]
        dr["context"]["practiceSetting"]["coding"][0]["code"] = dds.SETTINGS_CODES[position % 4]
        dr["context"]["period"] = {"start": _instant(created - timedelta(days=position % 30)), "end": _instant(created)}
        if position in plan_.replaces:
            target = plan_.entry_id(plan_.replaces[position])
            dr["relatesTo"] = [{"code": "replaces", "target": {"reference": f"DocumentReference/{target}"}}]
        return dr

    def submission_list(self, position: int) -> dict[str, Any]:
        """The SubmissionSet List that brought the entry at ``position``."""
        return {
            "resourceType": "List", "status": "current", "mode": "working",
            "code": {"coding": [{"system": dds.LIST_TYPES, "code": "submissionset"}]},
            "subject": {"identifier": {"system": CPR_SYSTEM, "value": cpr_of(self.plan.patient[position])}},
            "date": _instant(self.plan.registered(position)),
            "identifier": [
                {"use": "official", "system": "urn:ietf:rfc:3986",
                 "value": f"urn:uuid:{self.plan.run:08x}-5eed-4000-a000-{position:012x}"},
                {"use": "usual", "system": "urn:ietf:rfc:3986",
                 "value": f"urn:uuid:{self.plan.run:08x}-5eed-4000-b000-{position:012x}"}],
            "entry": [{"item": {"reference": f"DocumentReference/{self.plan.entry_id(position)}"}}],
        }

    def build(self, start: int, stop: int) -> Built:
        """The rows of the entries at positions [start, stop), before they have primary keys: what
        the MHD face maps a provide to, and the registry's storage layer makes rows of. Pure: it
        runs in worker processes."""
        plan_ = self.plan
        built = Built(start, stop)
        for position in range(start, stop):
            registered = plan_.registered(position)
            entry, issues = to_entry(self.document_reference(position), "DocumentReference", self.document,
                                     "application/fhir+json", registered)
            assert entry is not None, issues
            sset, problems = to_submission_set(self.submission_list(position), "List",
                                               PatientId(CPR_SYSTEM, entry.patient.value), [entry.id], registered)
            assert not problems, problems
            built.sets.append(storage.submission_set_values(sset, _naive(registered)))
            row = storage.entry_values(entry, 0, _naive(registered), SUBMITTER)
            if plan_.status[position] != CURRENT:  # storage.set_status, done when the status changed
                row.update(status=STATUS[plan_.status[position]].value, version=2,
                           updated_at=_naive(plan_.status_changed(position)))
            built.entries.append(row)
            built.codes.append(storage.code_rows(entry, 0))
        return built

    def write(self, built: Built) -> None:
        """Register ``built`` in one transaction: every row a registration of those entries writes.

        On PostgreSQL the rows go in with ``COPY``, their primary keys drawn beforehand from the
        tables' own sequences (as the column defaults would draw them); on SQLite by executemany."""
        plan_ = self.plan
        positions = range(built.start, built.stop)
        with self.database.session() as session:
            storage.store_documents(session, [self.document])
            copy = session.get_bind().dialect.name == "postgresql"
            sset_pks = _insert(session, SubmissionSetRow, built.sets, copy)
            for row, sset_pk in zip(built.entries, sset_pks, strict=True):
                row["submission_set_pk"] = sset_pk
            pks = _insert(session, DocumentEntryRow, built.entries, copy)
            for position, pk in zip(positions, pks, strict=True):
                self.pks[position] = pk
            codes = []
            for entry_codes, pk in zip(built.codes, pks, strict=True):
                for code in entry_codes:
                    code["entry_pk"] = pk
                    codes.append(code)
            _insert(session, EntryCodeRow, codes, copy)
            _insert(session, SubmissionMemberRow, [
                {"submission_set_pk": s, "entry_pk": e} for s, e in zip(sset_pks, pks, strict=True)], copy)
            associations, changes = [], []
            for row, sset_pk, pk, position in zip(built.entries, sset_pks, pks, positions, strict=True):
                now = _naive(plan_.registered(position))
                if position in plan_.replaces:
                    target = self.pks[plan_.replaces[position]]
                    associations.append(storage.association_values(AssociationKind.RPLC.name, pk, target, sset_pk,
                                                                   now))
                    changes.append(storage.status_change_values(
                        target, AvailabilityStatus.CURRENT, AvailabilityStatus.SUPERSEDED,
                        REPLACED_REASON.format(row["id"]), now))
                if plan_.status[position] == ENTERED_IN_ERROR:
                    changes.append(storage.status_change_values(
                        pk, AvailabilityStatus.CURRENT, AvailabilityStatus.ENTERED_IN_ERROR, ITI92_REASON,
                        _naive(plan_.status_changed(position))))
            _insert(session, AssociationRow, associations, copy)
            _insert(session, StatusChangeRow, changes, copy)


def _insert(session: Session, model: type[DdsBase], rows: list[dict[str, Any]], copy: bool) -> list[int]:
    """Insert ``rows`` into ``model``'s table; answer their generated primary keys in order (none
    for a table without a generated key)."""
    table = model.__table__
    generated = "pk" in table.c and table.c.pk.autoincrement is not False and "pk" not in (rows[0] if rows else {})
    if not rows:
        return []
    if not copy:
        if not generated:
            session.execute(table.insert(), rows)
            return []
        return list(session.execute(table.insert().returning(table.c.pk, sort_by_parameter_order=True),
                                    rows).scalars())
    cursor = session.connection().connection.driver_connection.cursor()
    pks: list[int] = []
    if generated:
        pks = [r[0] for r in cursor.execute(
            f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'pk')) FROM generate_series(1, %s)",
            (len(rows),))]
    columns = list(rows[0])
    with cursor.copy(f"COPY {table.name} ({', '.join((['pk'] if generated else []) + columns)}) FROM STDIN") as out:
        for n, row in enumerate(rows):
            values = [row[c] for c in columns]
            out.write_row([pks[n], *values] if generated else values)
    return pks


@dataclass
class Built:
    """The rows of the entries at positions [start, stop), made by :meth:`Seeder.build`."""

    start: int
    stop: int
    sets: list[dict[str, Any]] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    codes: list[list[dict[str, Any]]] = field(default_factory=list)


_WORKER_SEEDER: Seeder | None = None  # the seeder a forked build worker inherits


def _build(bounds: tuple[int, int]) -> Built:
    assert _WORKER_SEEDER is not None
    return _WORKER_SEEDER.build(*bounds)


def _instant(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _built_in_order(pool: Any, bounds: list[tuple[int, int]], ahead: int) -> Iterator[Built]:
    """The batches built by ``pool`` (or here, without one), in order, at most ``ahead`` waiting."""
    if pool is None:
        yield from map(_build, bounds)
        return
    pending: deque[Any] = deque()
    for bound in bounds:
        pending.append(pool.apply_async(_build, (bound,)))
        if len(pending) > ahead:
            yield pending.popleft().get()
    while pending:
        yield pending.popleft().get()


def seed(url: str, entries: int, patients: int, model: dict[str, Any], document: bytes, *,
         batch: int = 5000, workers: int = 2, progress: bool = True) -> tuple[Plan, Seeder, float]:
    """Seed the registry at ``url``: (the plan, the seeder with the entries' pks, seconds taken).
    ``workers`` processes build the rows, this one writes them, batch after batch in order."""
    global _WORKER_SEEDER
    database = Database.from_url(url)
    Registry(database).create_tables()
    started = time.perf_counter()
    the_plan = plan(entries, patients)
    seeder = Seeder(database, the_plan, model, document)
    bounds = [(start, min(start + batch, entries)) for start in range(0, entries, batch)]
    _WORKER_SEEDER = seeder
    pool = multiprocessing.get_context("fork").Pool(workers) if workers > 1 else None
    batches = _built_in_order(pool, bounds, ahead=2 * workers)
    try:
        for built in batches:
            seeder.write(built)
            if progress:
                took = time.perf_counter() - started
                left = (entries - built.stop) * took / built.stop
                print(f"\r  seeding {built.stop:>9,}/{entries:,} entries ({built.stop / took:,.0f}/s, "
                      f"{left / 60:.0f} min left)", end="", flush=True)
    finally:
        _WORKER_SEEDER = None
        if pool is not None:
            pool.close()
            pool.join()
    took = time.perf_counter() - started
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if database.engine.dialect.name == "postgresql":  # what autovacuum does in time after a bulk load
            conn.exec_driver_sql("VACUUM ANALYZE " + ", ".join(t.name for t in DdsBase.metadata.sorted_tables))
        else:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # no ANALYZE: the sandbox runs none
    database.engine.dispose()
    if progress:
        print(f"\r  seeded {entries:,} entries for {patients:,} patients in {took:.0f} s" + " " * 30)
    return the_plan, seeder, took


# ---- the server and the queries ------------------------------------------------------------------


def memory(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` (peak) of process ``pid``, in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0])
    return out


@dataclass(frozen=True)
class QueryKind:
    """One kind of ITI-67 request: who asks, about which patients, with which parameters."""

    name: str
    heavy: bool  # a heavy patient (else a light one)
    params: Callable[[str], list[tuple[str, str]]]
    citizen: bool = False  # the citizen asks for their own entries (else the GP)


def _patient(cpr: str, status: str = "current") -> list[tuple[str, str]]:
    return [("patient.identifier", f"{CPR_SYSTEM}|{cpr}"), ("status", status)]


KINDS = (
    QueryKind("light patient, status=current", False, _patient),
    QueryKind("heavy patient, status=current", True, _patient),
    QueryKind("light patient, status=current, type=HCOM", False,
              lambda cpr: [*_patient(cpr), ("type", "urn:oid:1.2.208.184.100.1|HCOM")]),
    QueryKind("heavy patient, status=current, type=HCOM", True,
              lambda cpr: [*_patient(cpr), ("type", "urn:oid:1.2.208.184.100.1|HCOM")]),
    QueryKind("heavy patient, status=current,superseded, date in 2024", True,
              lambda cpr: [*_patient(cpr, "current,superseded"), ("date", "ge2024-01-01"), ("date", "lt2025-01-01")]),
    QueryKind("light patient, all statuses, period from 2023", False,
              lambda cpr: [*_patient(cpr, "current,superseded,entered-in-error"), ("period", "ge2023-01-01")]),
    QueryKind("citizen (heavy) own entries, status=current", True, _patient, citizen=True),
)


@dataclass
class Timing:
    p50: float
    p95: float
    p99: float
    per_response: float
    total: float  # mean Bundle.total
    cpu: float  # CPU ms per request of the server process and its database's server processes


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes ``pids`` have used (all their threads)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def database_pids(url: str) -> list[int]:
    """The PostgreSQL server processes serving ``url``'s database (none for SQLite: in process)."""
    if url.startswith("sqlite"):
        return []
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                           "AND pid <> pg_backend_pid()")]


def measure(base: str, the_plan: Plan, kinds: tuple[QueryKind, ...], count: int, seed: int = 7,
            server_pid: int | None = None, url: str = "") -> dict[str, Timing]:
    """``count`` ITI-67 requests of each kind, 20 warm-up requests first, one at a time; with
    ``server_pid`` also the CPU time the server (and a PostgreSQL database's backends) spent."""
    rng = random.Random(seed)
    heavy = min(heavy_count(the_plan.patients), the_plan.patients)
    light = range(heavy, the_plan.patients) if the_plan.patients > heavy else range(heavy)
    chosen = {k.name: [CITIZEN_CPR if k.citizen else cpr_of(rng.randrange(heavy) if k.heavy else rng.choice(light))
                       for _ in range(count + 20)] for k in kinds}
    out: dict[str, Timing] = {}
    with httpx.Client(base_url=base, timeout=60) as client:
        print("  treatment relations for the GP ...", flush=True)
        dds.relate(client, [c for k in kinds if not k.citizen for c in chosen[k.name]])
        gp = dds.bearer(client, dds.READER)
        citizen = dds.bearer(client, f"citizen-{CITIZEN_CPR}")
        for kind in kinds:
            headers = citizen if kind.citizen else gp
            latencies: list[float] = []
            found = totals = 0
            pids: list[int] = []
            used = 0.0
            for i, cpr in enumerate(chosen[kind.name]):
                pairs = kind.params(cpr)
                started = time.perf_counter()
                response = client.get("/dds/fhir/DocumentReference", params=pairs, headers=headers)
                elapsed = (time.perf_counter() - started) * 1000
                assert response.status_code == 200, response.text[:500]
                if i == 19 and server_pid is not None:
                    pids = [server_pid, *database_pids(url)]
                    used = cpu_seconds(pids)
                if i >= 20:
                    body = response.json()
                    latencies.append(elapsed)
                    found += sum(1 for e in body.get("entry", []) if e["search"]["mode"] == "match")
                    totals += body.get("total", 0)
                if (i + 1) % 50 == 0:
                    print(f"\r  {kind.name:<58} {i + 1:>5}/{count + 20}", end="", flush=True)
            cpu = (cpu_seconds(pids) - used) * 1000 / count if pids else 0.0
            cuts = statistics.quantiles(latencies, n=100)
            out[kind.name] = Timing(statistics.median(latencies), cuts[94], cuts[98], found / count, totals / count,
                                    cpu)
            t = out[kind.name]
            print(f"\r  {kind.name:<58} p50 {t.p50:6.2f}  p95 {t.p95:6.2f}  p99 {t.p99:6.2f} ms  "
                  f"CPU {t.cpu:5.2f} ms/request ({t.per_response:.1f} shown, total {t.total:.1f})", flush=True)
    return out


def named_pids(url: str, name: str) -> list[int]:
    """The PostgreSQL server processes of ``url``'s database whose client gave ``application_name`` ``name``."""
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                           "AND application_name = %s", (name,))]


def measure_pair(servers: list[tuple[str, str, int]], the_plan: Plan, kinds: tuple[QueryKind, ...], count: int,
                 url: str, seed: int = 7) -> dict[str, dict[str, Timing]]:
    """:func:`measure` for two servers (name, base URL, pid) on one database at once: each request is sent to
    both, in turn (which first alternates), so other work on the machine weighs on both alike. A server's CPU
    is its process's and, on PostgreSQL, that of the backends its connections name (``application_name``)."""
    rng = random.Random(seed)
    heavy = min(heavy_count(the_plan.patients), the_plan.patients)
    light = range(heavy, the_plan.patients) if the_plan.patients > heavy else range(heavy)
    chosen = {k.name: [CITIZEN_CPR if k.citizen else cpr_of(rng.randrange(heavy) if k.heavy else rng.choice(light))
                       for _ in range(count + 20)] for k in kinds}
    out: dict[str, dict[str, Timing]] = {name: {} for name, _, _ in servers}
    clients = [httpx.Client(base_url=base, timeout=60) for _, base, _ in servers]
    try:
        print("  treatment relations for the GP ...", flush=True)
        dds.relate(clients[0], [c for k in kinds if not k.citizen for c in chosen[k.name]])
        tokens = [(dds.bearer(c, dds.READER), dds.bearer(c, f"citizen-{CITIZEN_CPR}")) for c in clients]
        for kind in kinds:
            latencies: list[list[float]] = [[], []]
            found, totals, used = [0, 0], [0, 0], [0.0, 0.0]
            pids: list[list[int]] = [[], []]
            for i, cpr in enumerate(chosen[kind.name]):
                for n in ((0, 1) if i % 2 == 0 else (1, 0)):
                    gp, citizen = tokens[n]
                    started = time.perf_counter()
                    response = clients[n].get("/dds/fhir/DocumentReference", params=kind.params(cpr),
                                              headers=citizen if kind.citizen else gp)
                    elapsed = (time.perf_counter() - started) * 1000
                    assert response.status_code == 200, response.text[:500]
                    if i >= 20:
                        body = response.json()
                        latencies[n].append(elapsed)
                        found[n] += sum(1 for e in body.get("entry", []) if e["search"]["mode"] == "match")
                        totals[n] += body.get("total", 0)
                if i == 19:
                    for n, (name, _, pid) in enumerate(servers):
                        pids[n] = [pid, *([] if url.startswith("sqlite") else named_pids(url, name))]
                        used[n] = cpu_seconds(pids[n])
            for n, (name, _, _) in enumerate(servers):
                cuts = statistics.quantiles(latencies[n], n=100)
                t = out[name][kind.name] = Timing(statistics.median(latencies[n]), cuts[94], cuts[98],
                                                  found[n] / count, totals[n] / count,
                                                  (cpu_seconds(pids[n]) - used[n]) * 1000 / count)
                print(f"  {name:<7} {kind.name:<58} p50 {t.p50:6.2f}  p95 {t.p95:6.2f}  p99 {t.p99:6.2f} ms  "
                      f"CPU {t.cpu:5.2f} ms/request ({t.per_response:.1f} shown, total {t.total:.1f})", flush=True)
    finally:
        for client in clients:
            client.close()
    return out


# ---- sizes, databases, the run -------------------------------------------------------------------


def database_size(url: str) -> dict[str, int]:
    """Bytes: SQLite the file with its WAL and shared memory; PostgreSQL the database and each
    ``dds_`` table with its indexes and TOAST."""
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        return {"file": sum(p.stat().st_size for p in path.parent.glob(path.name + "*") if p.is_file())}
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        sizes = {"database": conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]}
        for name, size in conn.execute(
                "SELECT relname, pg_total_relation_size(oid) FROM pg_class WHERE relkind = 'r' "
                "AND relname LIKE 'dds\\_%' ORDER BY 2 DESC"):
            sizes[name] = size
    return sizes


def _gb(size: int) -> str:
    return f"{size / 1e9:.2f} GB" if size >= 1e8 else f"{size / 1e6:.1f} MB"


@contextmanager
def database(args: argparse.Namespace) -> Iterator[tuple[str, Path | None]]:
    """The database URL to seed and serve, and the marker that says it was seeded (with ``--keep``)."""
    name = f"{args.entries}-{args.patients}"
    keep = Path(args.keep) if args.keep else None
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
    if args.database == "sqlite":
        folder = keep or Path(tempfile.mkdtemp(prefix="nsp-dds-scale-"))
        try:
            yield f"sqlite:///{folder / f'sqlite-{name}.db'}", (keep / f"sqlite-{name}.seeded") if keep else None
        finally:
            if keep is None:
                shutil.rmtree(folder, ignore_errors=True)
        return
    import psycopg

    admin = args.postgres_url.replace("postgresql+psycopg://", "postgresql://")
    db = f"nsp_dds_scale_{args.entries}_{args.patients}" if keep else f"nsp_dds_scale_{uuid.uuid4().hex[:8]}"
    marker = keep / f"postgres-{name}.seeded" if keep else None
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone()
        if exists and (marker is None or not marker.exists()):
            conn.execute(f'DROP DATABASE "{db}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{db}"')
    try:
        yield f"{admin.rpartition('/')[0]}/{db}", marker
    finally:
        if keep is None:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=500, help="requests per query kind")
    parser.add_argument("--workers", type=int, default=2, help="processes building the seed's rows")
    parser.add_argument("--keep", help="keep the seeded database (SQLite: in this folder) and use it again")
    parser.add_argument("--against", help="another source tree (e.g. the version before a change): run it too, on "
                        "the same database, and send each request to both in turn")
    parser.add_argument("--seed-only", action="store_true", help="seed (with --keep, to use later) and stop")
    parser.add_argument("--postgres-url", default=os.environ.get("NSP_SANDBOX_BENCH_POSTGRES_URL")
                        or os.environ.get("NSP_SANDBOX_TEST_POSTGRES_URL")
                        or "postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    print(f"== {args.database}, {args.entries:,} entries, {args.patients:,} patients; "
          f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}", flush=True)
    with database(args) as (url, marker), tempfile.TemporaryDirectory(prefix="nsp-dds-scale-data-") as data:
        if marker is not None and marker.exists():
            seconds = json.loads(marker.read_text())["seconds"]
            the_plan = plan(args.entries, args.patients)
            print(f"  seeded before, in {seconds:.0f} s (--keep)")
        else:
            model, document = dds._examples()
            the_plan, _, seconds = seed(url, args.entries, args.patients, model, document, workers=args.workers)
            if marker is not None:
                marker.write_text(json.dumps({"seconds": seconds}))
        if args.seed_only:
            return
        if args.against:
            compare(url, Path(data), Path(args.against), the_plan, args.queries)
            return
        with dds.server_process(url, Path(data), {}, seconds=60) as (base, pid):
            print(f"  server RSS after start-up: {memory(pid)['VmRSS'] / 1024:.0f} MiB", flush=True)
            timings = measure(base, the_plan, KINDS, args.queries, server_pid=pid, url=url)
            rss = memory(pid)
        sizes = database_size(url)
    print(f"  load average at the end {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    print(f"  server RSS {rss['VmRSS'] / 1024:.0f} MiB (peak {rss['VmHWM'] / 1024:.0f} MiB)")
    print("  database size: " + ", ".join(f"{k} {_gb(v)}" for k, v in sizes.items()))
    print(f"  seeding {seconds:.0f} s")
    print("\n| query | p50 | p95 | p99 | server CPU per request | entries shown / total |\n|---|---|---|---|---|---|")
    for name, t in timings.items():
        print(f"| {name} | {t.p50:.1f} ms | {t.p95:.1f} ms | {t.p99:.1f} ms | {t.cpu:.1f} ms | "
              f"{t.per_response:.1f} / {t.total:.1f} |")


def compare(url: str, data: Path, against: Path, the_plan: Plan, queries: int) -> None:
    """This tree's server and ``against``'s on one database, each request to both in turn; both tables."""
    def named(name: str) -> str:
        return url if url.startswith("sqlite") else f"{url}?application_name={name}"

    (data / "this").mkdir()
    (data / "against").mkdir()
    with dds.server_process(named("this"), data / "this", {}, seconds=60) as (base, pid), \
            dds.server_process(named("against"), data / "against", {"PYTHONPATH": str(against)}, seconds=60,
                               root=against) as (other_base, other_pid):
        timings = measure_pair([("against", other_base, other_pid), ("this", base, pid)], the_plan, KINDS,
                               queries, url)
    print(f"  load average at the end {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    print(f"\n| query | p50 {against} → this | p95 | server CPU per request |\n|---|---|---|---|")
    for kind in KINDS:
        a, t = timings["against"][kind.name], timings["this"][kind.name]
        print(f"| {kind.name} | {a.p50:.1f} → {t.p50:.1f} ms | {a.p95:.1f} → {t.p95:.1f} ms | "
              f"{a.cpu:.1f} → {t.cpu:.1f} ms |")


if __name__ == "__main__":
    main()
