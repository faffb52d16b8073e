"""The FHIR XML ⇄ JSON converter (:mod:`nsp_sandbox.conformance.xml_json`): every official example
round-trips JSON → XML → JSON unchanged; MedCom's own XML renderings read to exactly the packages' JSON
and are written back element for element; the strict read refuses what FHIR does not define, naming
its path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from nsp_sandbox.conformance.json_bounds import MAX_DEPTH
from nsp_sandbox.conformance.packages import PackageRegistry
from nsp_sandbox.conformance.validator import Validator
from nsp_sandbox.conformance.xml_json import XmlError, json_to_xml, xml_to_json
from nsp_sandbox.hco_terms import HCO_PACKAGE


def _normalised(value: Any) -> Any:
    """Numbers as floats; narrative XHTML canonicalised (``<a/>`` and ``<a></a>`` are the same)."""
    def canonical(node: Any, key: str = "") -> Any:
        if isinstance(node, dict):
            return {k: canonical(v, k) for k, v in node.items()}
        if isinstance(node, list):
            return [canonical(v) for v in node]
        if key == "div" and isinstance(node, str):
            return etree.tostring(etree.fromstring(node), method="c14n").decode()
        return node
    return canonical(json.loads(json.dumps(value), parse_float=float))


def _canonical_xml(raw: bytes) -> bytes:
    parser = etree.XMLParser(remove_blank_text=True, remove_comments=True)
    return etree.tostring(etree.fromstring(raw, parser), method="c14n")


@pytest.fixture(scope="module")
def xml_files(fhir_packages_dir: Path) -> list[Path]:
    folder = fhir_packages_dir.parent / "fhir-examples-xml"
    if not folder.is_dir():
        pytest.skip(f"MedCom's XML examples not found at {folder}")
    return sorted(folder.glob("*/Bundle-*.xml"))


def test_every_official_example_round_trips(validator: Validator, packages: PackageRegistry) -> None:
    count = 0
    for package in packages.all_packages():
        for name, resource in package.examples():
            xml = json_to_xml(resource, validator.structures)
            back = xml_to_json(xml, validator.structures, strict=True)
            assert _normalised(back) == _normalised(resource), f"{package.id}/{name}"
            count += 1
    assert count > 500


def test_medcoms_xml_reads_to_the_packages_json_and_is_written_back_alike(
        validator: Validator, packages: PackageRegistry, xml_files: list[Path]) -> None:
    assert len(xml_files) == 14
    for path in xml_files:
        release = path.parent.name.removeprefix("homecareobservation-")
        package = packages.get(HCO_PACKAGE, release)
        assert package is not None
        raw = path.read_bytes()
        resource = xml_to_json(raw, validator.structures, strict=True)
        assert _normalised(resource) == _normalised(dict(package.examples())[path.stem + ".json"]), path.name
        assert _canonical_xml(json_to_xml(resource, validator.structures)) == _canonical_xml(raw), path.name


PATIENT = '<Patient xmlns="http://hl7.org/fhir">{}</Patient>'


@pytest.mark.parametrize(("body", "rule", "path"), [
    ('<colour value="red"/>', "xml-unknown-element", "Patient.colour"),
    ('<name><family value="A"/><nickname value="B"/></name>', "xml-unknown-element", "Patient.name.nickname"),
    ('<gender value="male"/><gender value="female"/>', "xml-repeated-element", "Patient.gender"),
    ('<x:gender xmlns:x="urn:other" value="male"/>', "xml-unknown-element", "Patient.gender"),
    ('<active value="true"><flag value="1"/></active>', "xml-unknown-element", "Patient.active.flag"),
])
def test_the_strict_read_refuses_what_fhir_does_not_define(validator: Validator, body: str, rule: str,
                                                           path: str) -> None:
    raw = PATIENT.format(body).encode()
    with pytest.raises(XmlError) as refused:
        xml_to_json(raw, validator.structures, strict=True)
    assert (refused.value.rule, refused.value.path) == (rule, path)
    assert path in str(refused.value)
    xml_to_json(raw, validator.structures)  # lenient (for the validator, which reports them): read


def test_the_strict_read_bounds_nesting(validator: Validator) -> None:
    deep = "<extension url='urn:x'>" * (MAX_DEPTH + 5) + "</extension>" * (MAX_DEPTH + 5)
    with pytest.raises(XmlError) as refused:
        xml_to_json(PATIENT.format(deep).encode(), validator.structures, strict=True)
    assert refused.value.rule == "xml-depth"


def test_an_unknown_resource_type_is_refused(validator: Validator) -> None:
    with pytest.raises(XmlError) as refused:
        xml_to_json(b'<Patientish xmlns="http://hl7.org/fhir"/>', validator.structures, strict=True)
    assert refused.value.rule == "xml-unknown-element"


def test_writing_refuses_a_property_fhir_does_not_define(validator: Validator) -> None:
    with pytest.raises(XmlError) as refused:
        json_to_xml({"resourceType": "Patient", "name": [{"family": "A", "nick": "B"}]}, validator.structures)
    assert refused.value.path == "Patient.name.nick"


def test_primitives_keep_their_id_and_extensions(validator: Validator) -> None:
    patient = {"resourceType": "Patient", "birthDate": "1947-09-25",
               "_birthDate": {"id": "b", "extension": [{"url": "urn:x", "valueString": "y"}]},
               "name": [{"given": ["Bruno", None], "_given": [None, {"extension": [
                   {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}]}]}],
               "multipleBirthBoolean": False}
    xml = json_to_xml(patient, validator.structures)
    assert b'<birthDate id="b" value="1947-09-25"><extension url="urn:x"><valueString value="y"/>' in xml
    assert b'<multipleBirthBoolean value="false"/>' in xml
    assert xml_to_json(xml, validator.structures, strict=True) == patient


@pytest.mark.parametrize("code, element, text, read", [
    ("decimal", "valueQuantity", "-0.5e3", -500.0), ("decimal", "valueQuantity", "19", 19),
    ("decimal", "valueQuantity", "0.10", 0.1), ("integer", "valueInteger", "-12", -12),
    ("decimal", "valueQuantity", "1_000", None), ("decimal", "valueQuantity", " 12", None),
    ("decimal", "valueQuantity", "+5", None), ("decimal", "valueQuantity", "007", None),
    ("decimal", "valueQuantity", "NaN", None), ("decimal", "valueQuantity", "1e400", None),
    ("decimal", "valueQuantity", "\u0663", None), ("decimal", "valueQuantity", "1" * 5000, None),
    ("integer", "valueInteger", "+5", None), ("integer", "valueInteger", "1_2", None),
    ("integer", "valueInteger", "\u00b2", None), ("integer", "valueInteger", "9" * 5000, None),
])
def test_a_number_is_read_only_from_its_types_own_text(validator: Validator, code: str, element: str, text: str,
                                                      read: object) -> None:
    """Python's int() and float() take more than FHIR's regexes (a sign, underscores, spaces, other scripts'
    digits, NaN, infinity) and int() refuses more than 4,300 digits with a ValueError. Text that is no value
    of its type stays a string, as a boolean's does, and the validator names it; it never raises."""
    inner = f'<value value="{text}"/>' if element == "valueQuantity" else ""
    value = f'<{element}>{inner}</{element}>' if inner else f'<{element} value="{text}"/>'
    raw = ('<Observation xmlns="http://hl7.org/fhir"><status value="final"/><code><text value="x"/></code>'
           f'{value}</Observation>').encode()
    for strict in (False, True):
        observation = xml_to_json(raw, validator.structures, strict=strict)
        got = observation["valueQuantity"]["value"] if element == "valueQuantity" else observation[element]
        assert got == (text if read is None else read) and type(got) is (str if read is None else type(read))
    if read is None:
        findings = validator.validate_bytes(raw, "application/fhir+xml")
        assert any(i.rule == "type" and i.severity == "error" and code in i.diagnostics for i in findings)
