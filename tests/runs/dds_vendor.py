"""Vendors' systems for the DDS suites' self-tests: each answers the run's instructions by talking to the
in-process sandbox as a real client would (tokens from NSP's STS, ITI-65/67/68/92 over HTTP), at once,
while the instruction is being given. ``faults`` names what a misbehaving one gets wrong."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sts_client import auth

from sandbox.runs.suite import CaseResult, Suite, run_suite

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dds"))
from mhd_client import Bundles

FHIR_JSON = {"Content-Type": "application/fhir+json"}
ENTRY = re.compile(r"DocumentReference/([0-9a-f-]{36})")
CPRS = re.compile(r"CPR (\d{10})")


def run(context: Any, suite: Suite, target: str, options: dict[str, Any],
        vendor: Callable[[str, str], None]) -> dict[str, CaseResult]:
    """Run ``suite`` against ``target`` with ``vendor`` answering each instruction; the results by case name."""
    results = asyncio.run(run_suite(context, suite, target, options, on_instruction=vendor))
    return {r.name: r for r in results}


class SourceVendor:
    """A document source (``persona``) answering the ``document-source`` suite's instructions over MHD.
    ``faults``: ``codes`` (a facility code from no SNOMED), ``standalone`` (a correction shared as a new
    document), ``superseded`` (a retraction as superseded), ``resend`` (a refused message sent twice)."""

    def __init__(self, client: TestClient, bundles: Bundles, persona: str, faults: frozenset[str] = frozenset()):
        self.client, self.bundles, self.faults = client, bundles, faults
        self.headers = {**FHIR_JSON, **auth(client, persona)}
        self.sent: list[int] = []

    def __call__(self, case: str, text: str) -> None:
        cpr = next(iter(CPRS.findall(text)), "")
        if case == "provide-accepted":
            dr = self.bundles.document_reference(cpr=cpr)
            if "codes" in self.faults:
                dr["context"]["facilityType"]["coding"][0]["system"] = "urn:oid:1.2.3.4"
            self.post(self.bundles.bundle((dr, self.bundles.examples.hco), cpr=cpr))
        elif case == "replacement-chain":
            dr = self.bundles.document_reference(cpr=cpr)
            if "standalone" not in self.faults:
                old = ENTRY.findall(text)[0]
                dr["relatesTo"] = [{"code": "replaces", "target": {"reference": f"DocumentReference/{old}"}}]
            self.post(self.bundles.bundle((dr, self.bundles.examples.hco), cpr=cpr))
        elif case == "retraction":
            entry_id = ENTRY.findall(text)[0]
            served = self.client.get(f"/dds/fhir/DocumentReference/{entry_id}", headers=self.headers).json()
            served["status"] = "superseded" if "superseded" in self.faults else "entered-in-error"
            self.sent.append(self.client.put(f"/dds/fhir/DocumentReference/{entry_id}", json=served,
                                             headers=self.headers).status_code)
        elif case == "wrong-patient-refused":
            other = CPRS.findall(text)[1]
            wrong = self.bundles.bundle((self.bundles.document_reference(cpr=cpr), self.bundles.examples.hco), cpr=cpr)
            theirs = self.bundles.bundle((self.bundles.document_reference(cpr=other), self.bundles.examples.hco),
                                         cpr=other)
            wrong["entry"][-1] = theirs["entry"][-1]
            wrong["entry"][1]["resource"]["content"][0]["attachment"]["url"] = theirs["entry"][-1]["fullUrl"]
            self.post(wrong)
        elif case == "refused-consent-not-retried":
            bundle = self.bundles.bundle((self.bundles.document_reference(cpr=cpr), refused(self.bundles)), cpr=cpr)
            for _ in range(2 if "resend" in self.faults else 1):
                self.post(bundle)

    def post(self, bundle: dict[str, Any]) -> None:
        self.sent.append(self.client.post("/dds/fhir", json=bundle, headers=self.headers).status_code)


def refused(bundles: Bundles) -> bytes:
    """The HCO example message with the citizen's refusal (``DiagnosticReport.meta.security`` R)."""
    message = json.loads(bundles.examples.hco)
    for entry in message["entry"]:
        if entry["resource"]["resourceType"] == "DiagnosticReport":
            entry["resource"].setdefault("meta", {})["security"] = [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}]
    return json.dumps(message).encode()




class ConsumerVendor:
    """A document consumer acting as ``persona`` (a professional) answering the ``document-consumer`` suite.
    ``faults``: ``patient-form`` (``patient=Patient/<cpr>``), ``no-status`` (no status parameter),
    ``no-reason`` (værdispring without its header), ``no-retrieve`` (lists but opens nothing)."""

    def __init__(self, client: TestClient, persona: str, faults: frozenset[str] = frozenset()):
        self.client, self.faults = client, faults
        self.headers = auth(client, persona)
        self.listed: dict[str, list[str]] = {}

    def find(self, cpr: str, **headers: str) -> None:
        params = {"patient": f"Patient/{cpr}"} if "patient-form" in self.faults else {
            "patient.identifier": f"urn:oid:1.2.208.176.1.2|{cpr}"}
        if "no-status" not in self.faults:
            params["status"] = "current"
        response = self.client.get("/dds/fhir/DocumentReference", params=params, headers={**self.headers, **headers})
        if response.status_code == 200:
            self.listed[cpr] = [e["resource"]["content"][0]["attachment"]["url"] for e in response.json()["entry"]
                                if e["search"]["mode"] == "match"]

    def __call__(self, case: str, text: str) -> None:
        cprs = CPRS.findall(text)
        if case in ("query-patient-identifier", "filtered-with-warning"):
            self.find(cprs[0])
        elif case == "retrieve-listed" and "no-retrieve" not in self.faults:
            for url in self.listed.get(cprs[0], []):
                assert self.client.get(url, headers=self.headers).status_code == 200
        elif case == "blocked-citizen-silent":
            self.find(cprs[0])
            self.find(cprs[1])
        elif case == "consent-override-reason":
            self.find(cprs[0], **({} if "no-reason" in self.faults else {
                "X-Consent-Override": "Akut%20indl%C3%A6ggelse", "X-Consent-Override-Criticality": "h%C3%B8j"}))
