"""``nsp-sandbox xds find`` and ``xds retrieve`` as a vendor would run them, against a real sandbox server
(``nsp-sandbox up``): a document provided over MHD is found over ITI-18 and retrieved over ITI-43 — by the
sandbox's CLI, and by zeep, an independent SOAP stack (``zeep_consumer``)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx2 as httpx
import pytest
from servers import TLS, free_port, wait_healthy
from sts_client import auth
from zeep_consumer import Professional, entries, external_id, find_documents, retrieve, session_for, slot

from nsp_sandbox.mhd_source import Coding, DocumentMetadata, Organisation, PatientInfo, provide_bundle

UNIQUE_ID_SCHEME = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"  # XDSDocumentEntry.uniqueId
GRETHE = "0602631234"  # listed at Skødstrup Lægepraksis: gp-skodstrup has a treatment relation


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fhir_packages_dir: Path) -> Iterator[str]:
    port = free_port()
    data = tmp_path_factory.mktemp("xds-up")
    env = {**os.environ, "NSP_SANDBOX_FHIR_PACKAGES": str(fhir_packages_dir),
           "FHIR_PACKAGE_CACHE": str(data / "cache")}
    env.pop("NSP_SANDBOX_DATABASE_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "sandbox.cli", "up", "--port", str(port), "--data-dir",
                             str(data)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        why = wait_healthy(base, 120, proc)
        if why is not None:
            pytest.fail(f"the sandbox did not get ready: {why}")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _provide(base: str, content: bytes, unique_id: str = "urn:uuid:5b0e6f0a-3c1d-4e2f-8a9b-0c1d2e3f4a5b") -> str:
    meta = DocumentMetadata(
        patient=PatientInfo(GRETHE, "KGBTest", ("Grethe",), "female", "1963-02-06"),
        author=Organisation("937961000016000", "Aarhus Kommune", "5790000123117"),
        unique_id=unique_id, title="Kommunale prøvesvar",
        type=Coding("urn:oid:1.2.208.184.100.1", "HCOM"),
        category=Coding("http://medcomfhir.dk/ig/document/CodeSystem/MedCom-ihe-classcode-CS-TEMP", "001"),
        format=Coding("http://medcomfhir.dk/ig/xdsdocuments/CodeSystem/MedComHCOFormatCodeCS",
                      "urn:ad:dk:medcom:msg:hco-v1.2:full"),
        facility_type=Coding("http://snomed.info/sct", "550621000005101"),
        practice_setting=Coding("http://snomed.info/sct", "658161000005107"),
        creation=datetime.now(UTC), content_type="text/xml")
    bundle = provide_bundle([(meta, content)], source_id="urn:oid:1.2.208.176.43210.8.10.99",
                            submitted=datetime.now(UTC))
    with httpx.Client(verify=TLS, base_url=base, timeout=30) as http:
        answer = http.post("/dds/fhir", json=bundle, headers={"Content-Type": "application/fhir+json",
                                                                **auth(http, "system-eoj-aarhus")})
    assert answer.status_code == 200, answer.text
    return meta.unique_id


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sandbox.cli", "xds", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ})


def test_find_and_retrieve_over_xds_from_the_command_line(server: str, tmp_path: Path) -> None:
    content = b"<pr\xc3\xb8vesvar>Grethe</pr\xc3\xb8vesvar>\x00"
    unique_id = _provide(server, content)
    found = _cli("find", "--cpr", GRETHE, "--persona", "gp-skodstrup", "--url", server)
    assert found.returncode == 0, found.stdout + found.stderr
    assert "wsa:Action  urn:ihe:iti:2007:RegistryStoredQuery" in found.stdout
    assert "HSUID  UserType=nsi:HealthcareProfessional" in found.stdout
    assert "ITI-18: Success" in found.stdout and unique_id in found.stdout
    out = tmp_path / "document.xml"
    retrieved = _cli("retrieve", "--document-id", unique_id, "--persona", "gp-skodstrup", "--url", server,
                     "--out", str(out))
    assert retrieved.returncode == 0, retrieved.stdout + retrieved.stderr
    assert "ITI-43: Success" in retrieved.stdout and "attachment <" in retrieved.stdout
    assert out.read_bytes() == content


def test_zeep_over_http_finds_and_retrieves_through_dgws(server: str) -> None:
    """An independent SOAP stack (zeep, ``zeep_consumer``) against the running sandbox over HTTP."""
    content = b"<pr\xc3\xb8vesvar>zeep</pr\xc3\xb8vesvar>"
    unique_id = _provide(server, content, "urn:uuid:6c1f7a1b-4d2e-4f30-9bac-1d2e3f4a5b6c")
    session = session_for(None)
    card = session.post(f"{server}/nsp/sts/idcard", json={"persona": "gp-skodstrup"}, timeout=30).content
    who = Professional("1203701235", "SK7T1", "52581000016005", GRETHE)
    answer = find_documents(server, session, card, who)
    assert answer.status == "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"
    [entry] = [e for e in entries(answer) if external_id(e, UNIQUE_ID_SCHEME) == unique_id]
    retrieved = retrieve(server, session, card, who, slot(entry, "repositoryUniqueId")[0], unique_id)
    assert [d.Document for d in retrieved.DocumentResponse] == [content]
