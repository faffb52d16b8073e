"""A run as JUnit XML (``GET /sandbox/runs/{id}/junit.xml``, ``nsp-sandbox check --junit FILE``), for a CI
server's test report: one ``<testsuite>`` (the suite against its target) with a ``<testcase>`` per case, a
``<failure message>`` for a failed one, ``<skipped message>`` for a skipped one (and for a case the run never
came to), and in ``<system-out>`` the case's instructions, notes and a line per HTTP exchange of its evidence
(the bodies are in the JSON and HTML reports). Built from the run's JSON with :mod:`xml.etree`.
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree import ElementTree as ET

INVALID_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: object) -> str:
    """``value`` as text XML 1.0 can hold (a control character in a target's answer becomes U+FFFD)."""
    return INVALID_IN_XML.sub("\ufffd", str(value))


def _evidence_lines(case: dict[str, Any]) -> list[str]:
    lines = [f"instruction: {text}" for text in case.get("instructions", [])]
    lines += [f"note: {text}" for text in case.get("notes", [])]
    for exchange in case.get("evidence", []):
        answer = exchange.get("response")
        outcome = f"HTTP {answer['status']}" if answer else f"no answer ({exchange.get('error')})"
        lines.append(f"{exchange['at']} {exchange['method']} {exchange['url']} → {outcome} "
                     f"in {exchange['duration_ms']} ms")
    return lines


def junit_xml(run: dict[str, Any]) -> bytes:
    """The run (its JSON, :func:`sandbox.runs.report_json.run_json`) as a JUnit XML document."""
    tally = run["counts"]
    seconds = sum(c.get("duration_ms", 0.0) for c in run["cases"]) / 1000
    suites = ET.Element("testsuites", name=f"nsp-sandbox {run['suite']}", tests=str(tally["total"]),
                        failures=str(tally["failed"]), skipped=str(tally["skipped"] + tally["pending"]),
                        errors="0", time=f"{seconds:.3f}")
    suite = ET.SubElement(suites, "testsuite", name=run["suite"], tests=str(tally["total"]),
                          failures=str(tally["failed"]), errors="0",
                          skipped=str(tally["skipped"] + tally["pending"]), time=f"{seconds:.3f}",
                          timestamp=run["started"], hostname=_text(run["target"]))
    properties = ET.SubElement(suite, "properties")
    for name, value in (("run", run["id"]), ("target", run["target"]), ("target_kind", run["target_kind"]),
                        ("status", run["status"]), *((f"option.{k}", str(v)) for k, v in run["options"].items())):
        ET.SubElement(properties, "property", name=name, value=_text(value))
    for case in run["cases"]:
        element = ET.SubElement(suite, "testcase", name=case["name"], classname=f"{run['suite']}.{case['name']}",
                                time=f"{case['duration_ms'] / 1000:.3f}")
        if case["status"] == "failed":
            ET.SubElement(element, "failure", message=_text(case["message"]),
                          type="CaseFailed").text = _text(case["message"])
        elif case["status"] == "skipped":
            ET.SubElement(element, "skipped", message=_text(case["message"]))
        lines = _evidence_lines(case)
        if lines:
            ET.SubElement(element, "system-out").text = _text("\n".join(lines))
    for case in run["pending"]:
        element = ET.SubElement(suite, "testcase", name=case["name"], classname=f"{run['suite']}.{case['name']}",
                                time="0.000")
        why = "still running" if run["status"] == "running" else f"not run: {run['message'] or 'the run ended'}"
        ET.SubElement(element, "skipped", message=_text(why))
    if run["message"]:
        ET.SubElement(suite, "system-err").text = _text(run["message"])
    ET.indent(suites)
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)
