"""The seeder of ``bench/dds_scale.py`` writes what a registration writes: ITI-67 finds exactly the
seeded entries, with their statuses, versions and replacements, and the rows are shaped as those of
entries provided and replaced over ITI-65."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mhd_client import CPR_SYSTEM, Mhd
from sqlalchemy import select
from sts_client import READER, add_relation

from nsp_sandbox.context import SandboxContext
from services.dds.models import AssociationRow, DocumentEntryRow, EntryCodeRow, StatusChangeRow, SubmissionMemberRow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_dds_scale", ROOT / "bench" / "dds_scale.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _search(mhd: Mhd, cpr: str) -> list[dict[str, Any]]:
    response = mhd.search(**{"patient.identifier": f"{CPR_SYSTEM}|{cpr}",
                             "status": "current,superseded,entered-in-error", "_count": "100"})
    assert response.status_code == 200, response.text
    return [e["resource"] for e in response.json()["entry"] if e["search"]["mode"] == "match"]


def _filled(row: Any) -> set[str]:
    """The columns a row has values in (``period_end`` aside: the seeded entries have an end of
    service, the official example provided here has none)."""
    return {c.name for c in row.__table__.columns if getattr(row, c.key) is not None} - {"period_end"}


def test_iti67_finds_exactly_the_seeded_entries(client: TestClient, context: SandboxContext, mhd: Mhd,
                                                examples: Any, bench: ModuleType) -> None:
    plan, seeder, _ = bench.seed(context.settings.database_url, 50, 6, examples.document_reference, examples.hco,
                                 batch=20, workers=1, progress=False)
    statuses = {0: "current", 1: "superseded", 2: "entered-in-error"}
    assert set(plan.status) == {0, 1, 2} and plan.replaces  # the spread has every status and a replacement
    for patient in range(plan.patients):
        cpr = bench.cpr_of(patient)
        add_relation(client, READER, cpr)
        found = {r["id"]: r for r in _search(mhd, cpr)}
        positions = [p for p in range(plan.entries) if plan.patient[p] == patient]
        assert set(found) == {plan.entry_id(p) for p in positions}, cpr
        for position in positions:
            resource = found[plan.entry_id(position)]
            assert resource["status"] == statuses[plan.status[position]]
            assert resource["meta"]["versionId"] == ("1" if plan.status[position] == 0 else "2")
            assert resource["date"] == bench._instant(plan.registered(position))
            patient_resource = next(c for c in resource["contained"] if c["resourceType"] == "Patient")
            assert patient_resource["identifier"][0]["value"] == cpr
            assert resource["content"][0]["attachment"]["url"].endswith(plan.entry_id(position))
            if position in plan.replaces:
                assert resource["relatesTo"] == [{"code": "replaces", "target": {
                    "reference": f"DocumentReference/{plan.entry_id(plan.replaces[position])}"}}]
    current = mhd.search(**{"patient.identifier": f"{CPR_SYSTEM}|{bench.cpr_of(1)}", "status": "current"})
    assert {e["resource"]["id"] for e in current.json()["entry"]} == {
        plan.entry_id(p) for p in range(plan.entries) if plan.patient[p] == 1 and plan.status[p] == 0}

    # The rows are those ITI-65 writes: provide an entry and replace it, then compare row by row.
    provided = mhd.provide_hco(cpr=bench.cpr_of(1))
    replacing_dr = mhd.document_reference(cpr=bench.cpr_of(1))
    replacing_dr["relatesTo"] = [{"code": "replaces", "target": {"reference": f"DocumentReference/{provided}"}}]
    replacing = mhd.provide((replacing_dr, mhd.examples.hco), cpr=bench.cpr_of(1))[0]
    seeded_by = next(iter(plan.replaces))
    seeded_pair = {"replacing": seeder.pks[seeded_by], "replaced": seeder.pks[plan.replaces[seeded_by]]}
    with context.database.session() as session:
        def entry(**where: Any) -> Any:
            return session.scalars(select(DocumentEntryRow).filter_by(**where)).one()

        real = {"replacing": entry(id=replacing), "replaced": entry(id=provided)}
        seeded = {name: entry(pk=pk) for name, pk in seeded_pair.items()}
        for name in real:
            assert _filled(seeded[name]) == _filled(real[name]), name
            assert (seeded[name].status, seeded[name].version, seeded[name].submitter) == \
                (real[name].status, real[name].version, real[name].submitter), name
            assert json.loads(seeded[name].resource).keys() == json.loads(real[name].resource).keys(), name

            def params(pk: int) -> list[str]:
                return sorted(session.scalars(select(EntryCodeRow.param).where(EntryCodeRow.entry_pk == pk)))

            assert params(seeded[name].pk) == params(real[name].pk), name
            assert session.scalars(select(SubmissionMemberRow).where(
                SubmissionMemberRow.entry_pk == seeded[name].pk)).one().submission_set_pk == \
                seeded[name].submission_set_pk

        def association(source: int) -> tuple[str, int]:
            row = session.scalars(select(AssociationRow).where(AssociationRow.source_entry_pk == source)).one()
            return row.kind, row.target_entry_pk

        def change(target: Any) -> tuple[str, str, str]:
            row = session.scalars(select(StatusChangeRow).where(StatusChangeRow.entry_pk == target.pk)).one()
            return row.from_status, row.to_status, row.reason

        assert association(real["replacing"].pk) == ("RPLC", real["replaced"].pk)
        assert association(seeded["replacing"].pk) == ("RPLC", seeded["replaced"].pk)
        assert change(real["replaced"]) == ("current", "superseded", f"replaced by DocumentReference/{replacing}")
        assert change(seeded["replaced"]) == ("current", "superseded",
                                              f"replaced by DocumentReference/{seeded['replacing'].id}")
