"""What the ``eoj`` suite checks in one HomeCareObservation message the vendor's EOJ sent (hco.md §1, §3,
§7.1): each check answers a list of problems, each naming the element, what was seen and what was wanted,
so a case can fail with all of them at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from nsp_sandbox import fhir_shape as shape
from nsp_sandbox.cpr import PATIENT_ID_SYSTEMS
from nsp_sandbox.hco_terms import (
    CONFIDENTIALITY_SYSTEM,
    DATA_ABSENT_EXT,
    GLN_SYSTEM,
    HCO_EVENT,
    PRODUCENT_SYSTEM,
    SOR_SYSTEM,
    YDERNUMMER_SYSTEM,
)
from sandbox.runs.suites.eoj.inbox import Practice

DEFINITION = "http://medcomfhir.dk/ig/messagedefinitions/MessageDefinition/MedComHomeCareObservationMessageDefinition|1."
SAMPLED_NOW = timedelta(hours=12)  # "sampled now": within this of the sandbox clock or the wall clock


@dataclass(frozen=True)
class Result:
    """One result the participant is asked to send: its code, value, unit, comparator and analysis comment."""

    code: str
    value: float | str
    unit: str | None = None
    comparator: str | None = None
    comment: str | None = None
    name: str = ""  # what the participant knows it as: "CRP"

    def said(self) -> str:
        shown = f"{self.comparator or ''}{self.value}{' ' + self.unit if self.unit else ''}"
        return (f"{self.name} ({self.code}) {shown}" + (f" with the analysis comment {self.comment!r}"
                                                         if self.comment else ""))


@dataclass(frozen=True)
class Message:
    """One received HCO message, read: its resources by reference and the ones the checks look at."""

    bundle: dict[str, Any]

    @property
    def resources(self) -> list[dict[str, Any]]:
        return shape.resources(self.bundle)

    @property
    def header(self) -> dict[str, Any]:
        return self.resources[0] if self.resources else {}

    def ref(self, value: Any) -> dict[str, Any]:
        wanted = shape.reference(value)
        return next((r for r in self.resources if f"{r.get('resourceType')}/{r.get('id')}" == wanted
                     or wanted.endswith(f"/{r.get('resourceType')}/{r.get('id')}")), {})

    def first(self, kind: str) -> dict[str, Any]:
        return next((r for r in self.resources if r.get("resourceType") == kind), {})

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r.get("resourceType") == kind]

    @property
    def producer(self) -> dict[str, Any]:
        return self.ref(self.header.get("sender"))

    @property
    def requester(self) -> dict[str, Any]:
        destinations = shape.arr(self.header.get("destination"))
        return self.ref(shape.obj(destinations[0]).get("receiver")) if destinations else {}

    @property
    def provenance(self) -> dict[str, Any]:
        return shape.own_provenance(self.resources, shape.text(self.header.get("id")))

    def cpr(self) -> str:
        ids = shape.identifiers(self.first("Patient"))
        return next((ids[s] for s in PATIENT_ID_SYSTEMS if s in ids), "")


def _code(concept: Any) -> str:
    codings = shape.arr(shape.obj(concept).get("coding"))
    return shape.text(shape.obj(codings[0]).get("code")) if codings else ""


def _when(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(shape.text(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def envelope_problems(m: Message, cpr: str, sender: str, practice: Practice) -> list[str]:
    """Patient, sender, receiver and MessageHeader: who it is about, from whom, to whom (hco.md §1.2, §1.6, §1.7)."""
    problems = []
    if m.cpr() != cpr:
        problems.append(f"Patient.identifier (CPR) is {m.cpr() or 'missing'!r}; expected {cpr}")
    header = m.header
    if _code({"coding": [header.get("eventCoding")]}) != HCO_EVENT:
        problems.append(f"MessageHeader.eventCoding.code is {shape.obj(header.get('eventCoding')).get('code')!r}; "
                        f"expected {HCO_EVENT!r}")
    if not shape.text(header.get("definition")).startswith(DEFINITION):
        problems.append(f"MessageHeader.definition is {header.get('definition')!r}; expected {DEFINITION}<n>")
    producer = shape.identifiers(m.producer)
    if sender not in (producer.get(SOR_SYSTEM), producer.get(GLN_SYSTEM)):
        problems.append(f"the sender organisation (MessageHeader.sender) has SOR {producer.get(SOR_SYSTEM)!r} and "
                        f"GLN {producer.get(GLN_SYSTEM)!r}; expected the EOJ under test, {sender}")
    if producer.get(PRODUCENT_SYSTEM) != "KAF":
        problems.append(f"the sender organisation's ProducentID ({PRODUCENT_SYSTEM}) is "
                        f"{producer.get(PRODUCENT_SYSTEM)!r}; expected 'KAF'")
    requester = shape.identifiers(m.requester)
    for label, system, wanted in (("SOR", SOR_SYSTEM, practice.sor), ("GLN", GLN_SYSTEM, practice.gln),
                                  ("ydernummer", YDERNUMMER_SYSTEM, practice.ydernummer)):
        if requester.get(system) != wanted:
            problems.append(f"the receiver organisation (MessageHeader.destination[0].receiver) has {label} "
                            f"{requester.get(system)!r}; expected {wanted} ({practice.name})")
    return problems


def initials_problems(m: Message, initials: str | None) -> list[str]:
    """The requesting GP's initials in ``Organization.contact.name.given``, or data-absent-reason ``unknown``."""
    contact = shape.obj((shape.arr(m.requester.get("contact")) or [{}])[0])
    given = [shape.text(g) for g in shape.arr(shape.obj(contact.get("name")).get("given"))]
    absent = [shape.obj(e).get("valueCode") for e in shape.arr(contact.get("extension"))
              if shape.obj(e).get("url") == DATA_ABSENT_EXT]
    if initials is not None and initials not in given:
        return [f"the receiver organisation's contact.name.given is {given}; expected the GP's initials {initials!r}"]
    if initials is None and (given or absent != ["unknown"]):
        return [f"the receiver organisation's contact has name.given {given} and data-absent-reason {absent}; "
                f"expected no initials and the data-absent-reason extension with valueCode 'unknown'"]
    return []


def report_problems(m: Message, activity: str, clinical_comment: str | None, refused: bool = False) -> list[str]:
    """The DiagnosticReport, the own Provenance and the timestamps (hco.md §1.3, §1.4, §1.10)."""
    problems = []
    report = m.first("DiagnosticReport")
    if report.get("status") != "final":
        problems.append(f"DiagnosticReport.status is {report.get('status')!r}; expected 'final'")
    if clinical_comment is not None and report.get("conclusion") != clinical_comment:
        problems.append(f"DiagnosticReport.conclusion is {report.get('conclusion')!r}; expected {clinical_comment!r}")
    labels = [(shape.obj(s).get("system"), shape.obj(s).get("code"))
              for s in shape.arr(shape.obj(report.get("meta")).get("security"))]
    if refused and (CONFIDENTIALITY_SYSTEM, "R") not in labels:
        problems.append(f"DiagnosticReport.meta.security is {labels}; expected {CONFIDENTIALITY_SYSTEM}#R "
                        "(the citizen refused sharing)")
    if not refused and labels:
        problems.append(f"DiagnosticReport.meta.security is {labels}; expected none (the citizen did not refuse)")
    seen = shape.activity_of(m.provenance) if m.provenance else "no Provenance targeting this MessageHeader"
    if seen != activity:
        problems.append(f"the message's own Provenance.activity is {seen!r}; expected {activity!r}")
    for where, value in (("Bundle.timestamp", m.bundle.get("timestamp")), ("DiagnosticReport.issued",
                         report.get("issued")), ("Provenance.occurredDateTime", m.provenance.get("occurredDateTime")),
                         ("Provenance.recorded", m.provenance.get("recorded"))):
        if _when(value) is None:
            problems.append(f"{where} is {value!r}; expected an instant with date, time and time zone")
    return problems


def _value_problems(code: str, obs: dict[str, Any], wanted: Result) -> list[str]:
    problems = []
    quantity = shape.obj(obs.get("valueQuantity"))
    if isinstance(wanted.value, str):
        if obs.get("valueString") != wanted.value:
            problems.append(f"Observation {code}.valueString is {obs.get('valueString')!r}; expected {wanted.value!r}")
        return problems
    value = quantity.get("value")
    if not isinstance(value, int | float) or abs(float(value) - float(wanted.value)) > 1e-9:
        problems.append(f"Observation {code}.valueQuantity.value is {value!r}; expected {wanted.value}")
    if wanted.unit and wanted.unit not in (quantity.get("unit"), quantity.get("code")):
        problems.append(f"Observation {code}.valueQuantity unit/code is {quantity.get('unit')!r}/"
                        f"{quantity.get('code')!r}; expected {wanted.unit!r}")
    if quantity.get("comparator") != wanted.comparator:
        problems.append(f"Observation {code}.valueQuantity.comparator is {quantity.get('comparator')!r}; "
                        f"expected {wanted.comparator!r}")
    return problems


def result_problems(m: Message, wanted: list[Result], now: datetime) -> list[str]:
    """Each asked result: its value, unit, comparator, comment, status final, NI, a sampling time of now."""
    problems = []
    report = m.first("DiagnosticReport")
    listed = {shape.reference(r) for r in shape.arr(report.get("result"))}
    by_code = {_code(o.get("code")): o for o in m.all("Observation")}
    for result in wanted:
        obs = by_code.get(result.code)
        if obs is None:
            problems.append(f"no Observation with code {result.code}; expected {result.said()} "
                            f"(codes seen: {sorted(by_code)})")
            continue
        if not any(ref.endswith(f"Observation/{obs.get('id')}") for ref in listed):
            problems.append(f"Observation {result.code} is not among DiagnosticReport.result")
        problems += _value_problems(result.code, obs, result)
        notes = " ".join(shape.text(shape.obj(n).get("text")) for n in shape.arr(obs.get("note")))
        if result.comment and result.comment not in notes:
            problems.append(f"Observation {result.code}.note is {notes!r}; expected the analysis comment "
                            f"{result.comment!r}")
        if obs.get("status") != "final":
            problems.append(f"Observation {result.code}.status is {obs.get('status')!r}; expected 'final'")
        if _code((shape.arr(obs.get("interpretation")) or [{}])[0]) != "NI":
            problems.append(f"Observation {result.code}.interpretation is {obs.get('interpretation')!r}; "
                            "expected the code 'NI' (not interpreted)")
        sampled = _when(obs.get("effectiveDateTime"))
        if sampled is None:
            problems.append(f"Observation {result.code}.effectiveDateTime is {obs.get('effectiveDateTime')!r}; "
                            "expected the sampling time with a time zone")
        elif min(abs(sampled - now), abs(sampled - datetime.now(UTC))) > SAMPLED_NOW:
            problems.append(f"Observation {result.code}.effectiveDateTime is {sampled.isoformat()}; expected "
                            f"the sampling time 'now' (the sandbox clock says {now.isoformat(timespec='seconds')})")
    return problems


def chain_problems(m: Message, earlier: list[str], role: str, sender_sor: str, cpr: str) -> list[str]:
    """A modification or retraction: a new MessageHeader.id whose own Provenance names an earlier one of the
    chain (``entity.what``) with ``role``, from the same sender, about the same CPR (hco.md §3)."""
    problems = []
    header_id = shape.text(m.header.get("id"))
    if header_id in earlier:
        problems.append(f"MessageHeader.id {header_id} is that of an earlier message; expected a new one")
    entities = [shape.obj(e) for e in shape.arr(m.provenance.get("entity"))]
    whats = [shape.reference(e.get("what")) for e in entities]
    wanted = " or ".join(f"MessageHeader/{h}" for h in earlier)
    if not any(w in {f"MessageHeader/{h}" for h in earlier} for w in whats):
        problems.append(f"the own Provenance's entity.what.reference is {whats or 'missing'}; expected {wanted} "
                        "(the MessageHeader.id of the message it changes)")
    roles = [shape.text(shape.obj(e.get("role")).get("code") or e.get("role")) for e in entities]
    if role not in roles:
        problems.append(f"the own Provenance's entity.role is {roles}; expected {role!r}")
    producer_sor = shape.identifiers(m.producer).get(SOR_SYSTEM, "")
    if producer_sor != sender_sor:
        problems.append(f"the sender's SOR is {producer_sor!r}; expected the original's sender {sender_sor}")
    if m.cpr() != cpr:
        problems.append(f"Patient.identifier (CPR) is {m.cpr()!r}; a correction keeps the original's {cpr}")
    return problems
