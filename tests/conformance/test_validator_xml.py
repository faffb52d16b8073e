"""FHIR XML input: converted to FHIR JSON by the definitions, then validated like JSON.

The packages ship no XML examples, so the tests serialise the official JSON examples to FHIR XML
(a small writer below, following the FHIR XML rules) and check the conversion gives the JSON back.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from lxml import etree

from nsp_sandbox.conformance.packages import PackageRegistry
from nsp_sandbox.conformance.validator import Validator
from nsp_sandbox.conformance.xml_json import xml_to_json

FHIR = "http://hl7.org/fhir"


def to_xml(resource: dict[str, Any]) -> bytes:
    root = etree.Element(f"{{{FHIR}}}{resource['resourceType']}", nsmap={None: FHIR})
    _fill(root, resource)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _fill(parent: Any, data: dict[str, Any]) -> None:
    if isinstance(data.get("id"), str) and "resourceType" not in data:
        parent.set("id", data["id"])
    if isinstance(data.get("url"), str) and parent.tag.endswith("extension"):
        parent.set("url", data["url"])
    names = [k for k in data if not k.startswith("_")]
    names += [k[1:] for k in data if k.startswith("_") and k[1:] not in data]
    for name in names:
        if name == "resourceType" or (name == "id" and "resourceType" not in data) or (
                name == "url" and parent.tag.endswith("extension")):
            continue
        value, companion = data.get(name), data.get("_" + name)
        values = value if isinstance(value, list) else [value]
        companions = companion if isinstance(companion, list) else [companion] * len(values)
        for item, extra in zip(values, companions, strict=False):
            if name == "div":
                parent.append(etree.fromstring(item))
                continue
            child = etree.SubElement(parent, f"{{{FHIR}}}{name}")
            if isinstance(item, dict) and "resourceType" in item:
                inner = etree.SubElement(child, f"{{{FHIR}}}{item['resourceType']}")
                _fill(inner, item)
            elif isinstance(item, dict):
                _fill(child, item)
            else:
                if item is not None:
                    child.set("value", "true" if item is True else "false" if item is False else str(item))
                if isinstance(extra, dict):
                    if "id" in extra:
                        child.set("id", extra["id"])
                    for ext in extra.get("extension", []):
                        e = etree.SubElement(child, f"{{{FHIR}}}extension")
                        _fill(e, ext)


def _examples(packages: PackageRegistry) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name in ("medcom.fhir.dk.homecareobservation", "medcom.fhir.dk.conditionlist", "medcom.fhir.dk.notes",
                 "medcom.fhir.dk.acknowledgement"):
        package = packages.get(name)
        assert package is not None
        out += [(f"{package.id}/{f}", r) for f, r in package.examples() if r["resourceType"] == "Bundle"]
    return out


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
    return canonical(json.loads(json.dumps(value), parse_float=lambda s: float(s)))


def test_xml_round_trip_of_every_example_bundle(validator: Validator, packages: PackageRegistry) -> None:
    examples = _examples(packages)
    assert len(examples) > 15
    for name, resource in examples:
        converted = xml_to_json(to_xml(resource), validator.structures)
        assert _normalised(converted) == _normalised(resource), name


def test_xml_hco_message_validates_like_json(validator: Validator, packages: PackageRegistry) -> None:
    package = packages.get("medcom.fhir.dk.homecareobservation", "1.2.1")
    assert package is not None
    bundle = dict(package.examples())["Bundle-401cbc36-db1e-4fe0-bf90-6df331dde179.json"]
    assert [i for i in validator.validate_bytes(to_xml(bundle), "application/fhir+xml") if i.is_error] == []
    broken = copy.deepcopy(bundle)
    report = next(e["resource"] for e in broken["entry"] if e["resource"]["resourceType"] == "DiagnosticReport")
    report["status"] = "preliminary"
    issues = validator.validate_bytes(to_xml(broken), "application/fhir+xml")
    assert any(i.rule == "pattern" and i.expression and i.expression.endswith(".resource.status") for i in issues)


def test_repeating_elements_are_arrays_even_when_single(validator: Validator) -> None:
    xml = (b'<Patient xmlns="http://hl7.org/fhir"><name><family value="Elmer"/><given value="Bruno"/></name>'
           b'<active value="true"/><multipleBirthInteger value="2"/></Patient>')
    assert xml_to_json(xml, validator.structures) == {
        "resourceType": "Patient", "name": [{"family": "Elmer", "given": ["Bruno"]}], "active": True,
        "multipleBirthInteger": 2}


@pytest.mark.parametrize("raw", [
    b"<Patient xmlns='http://hl7.org/fhir'><name>",
    b"<Patient><active value='true'/></Patient>",
    b"not xml at all <",
])
def test_malformed_xml_is_a_fatal_issue(validator: Validator, raw: bytes) -> None:
    issues = validator.validate_bytes(raw, "application/fhir+xml")
    assert len(issues) == 1 and issues[0].severity == "fatal" and issues[0].rule == "xml-syntax"


def test_xml_entities_are_not_expanded(validator: Validator, tmp_path: Any) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do-not-read")
    xml = (f'<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file://{secret}">]>'
           '<Patient xmlns="http://hl7.org/fhir"><gender value="&x;"/></Patient>').encode()
    resource, _problems = validator.parse(xml, "application/fhir+xml")
    assert "do-not-read" not in json.dumps(resource)


def test_unknown_xml_elements_are_reported(validator: Validator) -> None:
    xml = b'<Patient xmlns="http://hl7.org/fhir"><colour value="red"/></Patient>'
    issues = validator.validate_bytes(xml, "application/fhir+xml")
    assert any(i.rule == "unknown-element" and i.expression == "Patient.colour" for i in issues)
