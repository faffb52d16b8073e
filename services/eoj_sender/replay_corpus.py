"""The replay corpus for testing a GP system (``hco.md`` §7.3), each message with the acknowledgement
the MedCom rules expect (§7.1), re-stamped on every send (new Bundle.id and MessageHeader.id, chains
kept):

* the official HCO example messages (read from the loaded package);
* MedCom's receive-test material: the extra examples 1–4 and the invalid example 5, the project's own
  fixtures in ``corpus/`` written from the FSH instances in the history of
  ``medcomdk/dk_HomeCareObservations``, and the example Bundles of the HCO test-script package (read
  from the loaded package); these are addressed to the GP system under test;
* generated faulty messages."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nsp_sandbox.hco_replay import readdress, restamp
from nsp_sandbox.hco_terms import (
    DESTINATION_USE_EXT,
    DESTINATION_USE_SYSTEM,
    GLN_SYSTEM,
    SOR_SYSTEM,
    gln_check_digit,
)

__all__ = ["FAULTS", "PROTOCOL", "REUSED_BUNDLE_ID", "Case", "Fixture", "protocol_message", "readdress", "restamp",
           "testscript_messages"]
HL7 = "http://terminology.hl7.org/CodeSystem/operation-outcome"
MEDCOM = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-acknowledgement-error-codes"


@dataclass(frozen=True)
class Case:
    name: str
    description: str
    expected_code: str  # ok | fatal-error
    expected_issue: str | None  # the MSG_* code the OperationOutcome must carry
    mutate: Callable[[dict[str, Any]], dict[str, Any]]


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"].get("resourceType") == kind]


def _first_observation(bundle: dict[str, Any]) -> dict[str, Any]:
    return _resources(bundle, "Observation")[0]


def _wrong_event(b: dict[str, Any]) -> dict[str, Any]:
    b["entry"][0]["resource"]["eventCoding"]["code"] = "care-communication-message"
    return b


def _missing_cpr(b: dict[str, Any]) -> dict[str, Any]:
    _resources(b, "Patient")[0]["identifier"] = [{"system": "urn:oid:1.2.208.176.1.99", "value": "local-4711"}]
    return b


def _unknown_npu(b: dict[str, Any]) -> dict[str, Any]:
    _first_observation(b)["code"]["coding"] = [{"system": "urn:oid:1.2.208.176.2.1", "code": "NPU2026",
                                                "display": "P; Invalid Code"}]
    return b


def _missing_value(b: dict[str, Any]) -> dict[str, Any]:
    obs = _first_observation(b)
    obs.pop("valueQuantity", None)
    obs.pop("valueString", None)
    return b


def _role_without_code(b: dict[str, Any]) -> dict[str, Any]:
    _resources(b, "PractitionerRole")[0]["code"] = [{"text": "Oversygeplejerske"}]
    return b


def _result_too_long(b: dict[str, Any]) -> dict[str, Any]:
    obs = _first_observation(b)
    obs.pop("valueQuantity", None)
    obs["valueString"] = "1234567890123"
    return b


def _cc_destination(b: dict[str, Any]) -> dict[str, Any]:
    header = b["entry"][0]["resource"]
    cc = copy.deepcopy(header["destination"][0])
    cc["extension"] = [{"url": DESTINATION_USE_EXT, "valueCoding": {"system": DESTINATION_USE_SYSTEM, "code": "cc"}}]
    header["destination"].append(cc)
    return b


def _unknown_receiver(b: dict[str, Any]) -> dict[str, Any]:
    header = b["entry"][0]["resource"]
    ref = header["destination"][0]["receiver"]["reference"]
    org = next(e["resource"] for e in b["entry"] if f"Organization/{e['resource'].get('id')}" == ref)
    for identifier in org["identifier"]:
        if identifier["system"] == SOR_SYSTEM:
            identifier["value"] = "99999999999999"
        elif identifier["system"] == GLN_SYSTEM:
            identifier["value"] = "579999999999" + gln_check_digit("579999999999")
    return b


def _unknown_original(b: dict[str, Any]) -> dict[str, Any]:
    header_id = b["entry"][0]["resource"]["id"]
    provenance = next(p for p in _resources(b, "Provenance")
                      if p["target"][0]["reference"] == f"MessageHeader/{header_id}")
    provenance["activity"]["coding"][0]["code"] = "modified-message"
    provenance["entity"] = [{"role": "revision", "what": {"reference": f"MessageHeader/{uuid.uuid4()}"}}]
    return b


FAULTS: tuple[Case, ...] = (
    Case("wrong-event-code", "MessageHeader.eventCoding is care-communication-message", "fatal-error",
         "MSG_UNKNOWN_TYPE", _wrong_event),
    Case("missing-cpr", "the patient has neither CPR nor x-eCPR", "fatal-error", "MSG_RESOURCE_REQUIRED",
         _missing_cpr),
    Case("unknown-npu-code", "an Observation coded NPU2026, outside the national repertoire", "fatal-error",
         "MSG_CodeSystem_VALUE_UNKNOWN", _unknown_npu),
    Case("missing-value", "an Observation without a value", "fatal-error", "MSG_Datatype_Wrong", _missing_value),
    Case("role-without-code", "the signing PractitionerRole has only code.text", "fatal-error", "MSG_BAD_FORMAT",
         _role_without_code),
    Case("result-over-12-characters", "a result of 13 characters", "fatal-error", "MSG_Element_To_Long",
         _result_too_long),
    Case("cc-destination", "a carbon-copy destination, forbidden in HCO", "fatal-error", "MSG_BAD_FORMAT",
         _cc_destination),
    Case("unknown-receiver", "the receiver's SOR and GLN belong to no practice", "fatal-error",
         "MSG_Receiver_Identifier_UNKNOWN", _unknown_receiver),
    Case("correction-of-unknown-original", "a modified-message whose original never arrives (a GP system may "
         "hold it a while for the original: the refusal then comes when the hold ends)", "fatal-error",
         "MSG_NO_EXIST", _unknown_original),
)
REUSED_BUNDLE_ID = Case("reused-bundle-id", "a new message under the Bundle.id of an earlier one", "fatal-error",
                        "MSG_DUPLICATE_ID", lambda b: b)


# -- MedCom's receive-test material ---------------------------------------------------------------

CORPUS_DIR = Path(__file__).parent / "corpus"
TESTSCRIPTS_PACKAGE = "medcom.fhir.dk.homecareobservationtestscripts"


@dataclass(frozen=True)
class Fixture:
    """A message of MedCom's receive-test material with the answer a GP system owes it.
    ``expected_warning``: the MSG_* code a GP system following ``hco.md`` adds to its ``ok`` (informative:
    a GP system that does not warn still passes)."""

    name: str
    description: str
    expected_code: str
    expected_issue: str | None
    expected_warning: str | None = None


PROTOCOL: tuple[Fixture, ...] = (
    Fixture("ReceiveTestExampleExtra1", "receive-test extra 1: dated inside the pilot (2026-06-02), MessageHeader."
            "definition |1.2 (not a published MessageDefinition version), Provenance.occurred later than "
            "recorded and issued", "ok", None, "MSG_VERSION_AWARE_URL"),
    Fixture("ReceiveTestExampleExtra2", "receive-test extra 2: the new-year boundary (2025-12-31T23:59+01:00), GP "
            "initials unknown, a monocytes Observation in the Bundle but not among the report's results",
            "ok", None, "MSG_NO_MATCH"),
    Fixture("ReceiveTestExampleExtra3", "receive-test extra 3: an old date (2014-11-27), glucose and CRP with "
            "different sampling times", "ok", None),
    Fixture("ReceiveTestExampleExtra4", "receive-test extra 4: dated 2020-01-02, glucose and CRP", "ok", None),
    Fixture("ReceiveTestExample5", "receive-test example 5 (invalid): a PractitionerRole with only code.text, "
            "glucose coded NPU2026 (not in the repertoire), CRP without a value, DiagnosticReport without status",
            "fatal-error", "MSG_BAD_FORMAT"),
)


def protocol_message(name: str) -> dict[str, Any]:
    """The project's fixture of receive-test message ``name`` (written from MedCom's FSH instances)."""
    bundle: dict[str, Any] = json.loads((CORPUS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return bundle


def testscript_messages(packages: Any) -> list[tuple[Fixture, dict[str, Any]]]:
    """The example Bundles of MedCom's HCO test-script package (read at run time), each expected ``ok``
    with the warning for their legacy ``MessageHeader.definition`` without the pipe."""
    package = packages.get(TESTSCRIPTS_PACKAGE)
    out = []
    for name, bundle in package.examples() if package else []:
        if bundle.get("resourceType") == "Bundle" and bundle.get("type") == "message":
            title = name.removeprefix("Bundle-").removesuffix(".json")
            out.append((Fixture(f"testscript:{title}", f"{TESTSCRIPTS_PACKAGE} example {title} (legacy definition "
                                "without '|')", "ok", None, "MSG_VERSION_AWARE_URL"), bundle))
    return sorted(out, key=lambda f: f[0].name)
