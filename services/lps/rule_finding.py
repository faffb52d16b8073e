"""What an HCO business rule reports: the issue (severity, code, text, element path, rule id) and the
MedCom acknowledgement issue code the GP system answers it with; and what the inbox knows of an
earlier message a modification or retraction refers to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nsp_sandbox.outcome import Issue

HL7_MSG = "http://terminology.hl7.org/CodeSystem/operation-outcome"
MEDCOM_MSG = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-acknowledgement-error-codes"
SOURCE = "MedCom HomeCareObservation 1.2.1 business rules (Sundhedsfaglig dokumentation 1.0.1, test protocols)"


@dataclass(frozen=True)
class Finding:
    issue: Issue
    msg_system: str
    msg_code: str


@dataclass(frozen=True)
class Earlier:
    """What the inbox knows of a previously received message (``bundle``: the message as received)."""

    sender_sor: str
    cpr: str
    activity: str
    bundle: dict[str, Any] = field(default_factory=dict)


def finding(code: str, text: str, expression: str, rule: str, msg: tuple[str, str],
            severity: str = "error") -> Finding:
    return Finding(Issue(severity, code, text, expression=expression, rule=rule, source=SOURCE),  # type: ignore[arg-type]
                   msg[0], msg[1])


@dataclass(frozen=True)
class Message:
    """An HCO message Bundle's resources as the rules read them."""

    resources: list[dict[str, Any]]

    @classmethod
    def of(cls, bundle: dict[str, Any]) -> Message:
        return cls([e.get("resource") or {} for e in bundle.get("entry") or []])

    @property
    def header(self) -> dict[str, Any]:
        return self.resources[0] if self.resources else {}

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r.get("resourceType") == kind]

    def first(self, kind: str) -> dict[str, Any]:
        return next(iter(self.of_type(kind)), {})

    def referenced(self, reference: Any) -> dict[str, Any]:
        by_ref = {f"{r.get('resourceType')}/{r.get('id')}": r for r in self.resources}
        return by_ref.get(str(reference), {})

    def sender(self) -> dict[str, Any]:
        return self.referenced((self.header.get("sender") or {}).get("reference", ""))

    def receiver(self) -> dict[str, Any]:
        destination = (self.header.get("destination") or [{}])[0]
        return self.referenced((destination.get("receiver") or {}).get("reference", ""))

    def where(self, resource: dict[str, Any]) -> str:
        return f"Bundle.entry[{self.resources.index(resource)}].resource"
