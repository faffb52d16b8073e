"""An HCOM provided as FHIR XML (``application/fhir+xml``) passes the same layers as one in FHIR JSON:
its profile, the document-patient rule and the HCOM consent rules, each finding named at its path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mhd_client import Mhd, issues_of

XML_EXAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "fhir-examples-xml" / "homecareobservation-1.2.1"
NEW_MESSAGE = XML_EXAMPLES / "Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.xml"  # Bruno Elmer, 2509479989
BRUNO = "2509479989"
FHIR_XML = "application/fhir+xml"

pytestmark = pytest.mark.skipif(not XML_EXAMPLES.is_dir(),
                                reason="MedCom's XML renderings (../shared/fhir-examples-xml) missing")


def _errors(response: Any) -> list[dict[str, Any]]:
    return [i for i in issues_of(response) if i["severity"] in ("error", "fatal")]


def _provide(mhd: Mhd, content: bytes, cpr: str = BRUNO) -> Any:
    dr = mhd.document_reference(cpr=cpr, content_type=FHIR_XML)
    return mhd.post(mhd.bundle((dr, content), cpr=cpr, consistent=False))


def test_a_valid_hcom_in_fhir_xml_is_accepted(mhd: Mhd) -> None:
    response = _provide(mhd, NEW_MESSAGE.read_bytes())
    assert response.status_code == 200, response.text


def test_a_profile_error_in_fhir_xml_is_found_at_its_path(mhd: Mhd) -> None:
    text = NEW_MESSAGE.read_text(encoding="utf-8")
    report = text.index("<DiagnosticReport")
    status = text.index('<status value="final"/>', report)
    broken = text[:status] + '<status value="preliminary"/>' + text[status + len('<status value="final"/>'):]
    response = _provide(mhd, broken.encode())
    assert response.status_code == 422, response.text
    paths = [e for i in _errors(response) for e in i.get("expression", [])]
    assert any(p.endswith(".resource.status") and "data" in p for p in paths), paths


def test_an_fhir_xml_document_about_another_patient_is_refused(mhd: Mhd) -> None:
    response = _provide(mhd, NEW_MESSAGE.read_bytes(), cpr="0602631234")
    assert response.status_code == 422, response.text
    rules = {c["code"] for i in _errors(response) for c in i.get("details", {}).get("coding", [])}
    assert "dk-xds-document-patient" in rules, rules


def test_what_is_declared_fhir_xml_but_is_not_is_refused_naming_the_element(mhd: Mhd) -> None:
    response = _provide(mhd, b'<Bundle xmlns="http://hl7.org/fhir"><colour value="blue"/></Bundle>')
    assert response.status_code == 422, response.text
    (issue,) = [i for i in _errors(response) if "not FHIR XML" in i["diagnostics"]]
    assert "colour" in issue["diagnostics"]
