"""The words of the MedCom HomeCareObservation (HCO) standard both emulators use: systems, codes and
the national analysis repertoire, read from the loaded ``medcom.fhir.dk.terminology`` package."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nsp_sandbox.digits import all_digits

if TYPE_CHECKING:
    from nsp_sandbox.conformance.packages import PackageRegistry

TERMINOLOGY = "http://medcomfhir.dk/ig/terminology/CodeSystem/"
HCO_IG = "http://medcomfhir.dk/ig/homecareobservation/StructureDefinition/"
MESSAGING_IG = "http://medcomfhir.dk/ig/messaging/StructureDefinition/"
CORE_IG = "http://medcomfhir.dk/ig/core/StructureDefinition/"

NPU_SYSTEM = "urn:oid:1.2.208.176.2.1"  # NPU: the international lab terminology (Danish release)
MCS_SYSTEM = TERMINOLOGY + "medcom-observation-codes"  # MedCom's own observation codes
REPERTOIRE_SYSTEMS = (NPU_SYSTEM, MCS_SYSTEM)
SOR_SYSTEM = "urn:oid:1.2.208.176.1.1"
GLN_SYSTEM = "https://www.gs1.org/gln"
YDERNUMMER_SYSTEM = "urn:oid:1.2.208.176.1.4"  # ydernummer: the GP practice's contract number
PRODUCENT_SYSTEM = TERMINOLOGY + "MedComProducentID"
EVENT_SYSTEM = TERMINOLOGY + "medcom-messaging-eventCodes"
ACTIVITY_SYSTEM = TERMINOLOGY + "medcom-messaging-activityCodes"
DESTINATION_USE_EXT = MESSAGING_IG + "medcom-messaging-destinationUseExtension"
DESTINATION_USE_SYSTEM = TERMINOLOGY + "medcom-messaging-destinationUse"
INTERPRETATION_SYSTEM = TERMINOLOGY + "medcom-core-interpretation-codes"
REPORT_CODE_SYSTEM = TERMINOLOGY + "MedComDiagnosticReportCodes"
ROLE_SYSTEM = TERMINOLOGY + "medcom-core-PractitionerRolesSKSadministrativ"
CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
DATA_ABSENT_EXT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"

HCO_PACKAGE = "medcom.fhir.dk.homecareobservation"
TERMINOLOGY_PACKAGE = "medcom.fhir.dk.terminology"
ACK_PACKAGE = "medcom.fhir.dk.acknowledgement"
HCO_EVENT = "homecareobservation-message"
ACK_EVENT = "acknowledgement-message"
HCO_DEFINITION = ("http://medcomfhir.dk/ig/messagedefinitions/MessageDefinition/"
                  "MedComHomeCareObservationMessageDefinition|1.1")
ACTIVITIES = ("new-message", "modified-message", "retract-message")
MAX_RESULT_CHARS = 12  # Sundhedsfaglig dokumentation 1.0.1: a result is at most 12 characters
MAX_COMMENT_CHARS = 1_048_576  # clinical and analysis comments: at most 1 MB each


def repertoire(packages: PackageRegistry) -> dict[tuple[str, str], str]:
    """The national analysis repertoire: (system, code) → display, from the terminology package."""
    out: dict[tuple[str, str], str] = {}
    hco = packages.get(HCO_PACKAGE)  # the HCO IG's pinned terminology version decides the repertoire
    pinned = (hco.dependencies if hco else {}).get(TERMINOLOGY_PACKAGE)
    terminology = packages.get(TERMINOLOGY_PACKAGE, pinned) or packages.get(TERMINOLOGY_PACKAGE)
    for system in REPERTOIRE_SYSTEMS:
        cs: dict[str, Any] | None = packages.code_system(f"{system}", terminology)
        if cs is not None and terminology is not None and packages.package_of(cs) is not terminology:
            cs = None  # only MedCom's release is the national repertoire (dk-core holds a fragment)
        for concept in (cs or {}).get("concept", []):
            out[(system, concept["code"])] = concept.get("display", "")
    return out


def unit_of(display: str) -> str | None:
    """The unit an NPU/MCS display names after ``= ?`` (e.g. ``mmol/L``), if any."""
    _, sep, tail = display.partition("= ?")
    unit = tail.strip().replace("×", "").strip() if sep else ""
    return unit or None


def gln_check_digit(first12: str) -> str:
    """The GS1 mod-10 check digit of a 12-digit GLN prefix."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return str((10 - total % 10) % 10)


def valid_gln(gln: str) -> bool:
    return len(gln) == 13 and all_digits(gln) and gln_check_digit(gln[:12]) == gln[12]
