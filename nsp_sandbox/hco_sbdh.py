"""The EHMI SBDH envelope around a MedCom FHIR message (``dk-ehmi-sbdh``: the PEPPOL-profiled GS1
Standard Business Document Header), as both HCO emulators write and read it.

A ``StandardBusinessDocument`` (XML, namespace ``…/StandardBusinessDocumentHeader``) holds the
``StandardBusinessDocumentHeader`` and the message as base64 ``BinaryContent`` (``mimeType``
``application/fhir+json`` or ``application/fhir+xml``):

* ``Sender`` / ``Receiver``: ``Identifier Authority="iso6523-actorid-upis"`` = ``0088:<GLN>`` of the
  MessageHeader's sender and primary receiver organisations;
* ``DocumentIdentification``: ``Standard`` = the event code, ``TypeVersion`` = for HCO the IG version
  the message follows (``1.1`` / ``1.2``, given by the sender), else the MessageDefinition version
  (after ``|`` in ``MessageHeader.definition``), ``InstanceIdentifier`` = a new UUID per
  envelope, ``Type`` = ``Bundle``, ``MultipleType`` = false, ``CreationDateAndTime``;
* ``BusinessScope``: ``Scope`` entries (``Identifier`` ``dk-medcom-messaging``) DOCUMENTID,
  PROCESSID (``urn:ehmi:sdn-emergence``), PATIENTID (CPR), SENDERID / RECEIVERID (SOR),
  MESSAGEIDENTIFIER (MessageHeader.id), MESSAGEENVELOPEIDENTIFIER (Bundle.id),
  StatisticalInformation (``MCM:<event>``) and EHMI-ReceiptAcknowledgement ``Request``.

:func:`unwrap` reads an envelope and refuses a malformed one with issues naming the SBDH element;
:func:`consistency` checks it against the message it carries.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lxml import etree

from nsp_sandbox import base64_data
from nsp_sandbox import fhir_shape as shape
from nsp_sandbox.conformance import strict_json
from nsp_sandbox.cpr import CPR_SYSTEM, ECPR_SYSTEM
from nsp_sandbox.hco_terms import SOR_SYSTEM, valid_gln
from nsp_sandbox.outcome import FhirError, Issue

SBDH_NS = "http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader"
AUTHORITY = "iso6523-actorid-upis"
SCOPE_ID = "dk-medcom-messaging"
PROCESS_ID = "urn:ehmi:sdn-emergence"
XML_TYPES = frozenset({"application/xml", "text/xml"})
CONTENT_TYPE = "application/xml"
FHIR_JSON = "application/fhir+json"
FHIR_XML = "application/fhir+xml"
GLN_SYSTEMS = ("https://www.gs1.org/gln", "http://www.gs1.org/gln")
RECEIPT_MS = 600_000  # EHMI: the envelope receipt is expected within 10 minutes
SOURCE = "EHMI SBDH profile (dk-ehmi-sbdh)"
ROOT = "StandardBusinessDocument"
HEADER = f"{ROOT}/StandardBusinessDocumentHeader"
_PARTY = re.compile(r"^0088:(\d{13})\Z", re.ASCII)


class EnvelopeError(Exception):
    """An SBDH envelope that cannot be accepted; ``issues`` say where and why."""

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("; ".join(i.diagnostics for i in issues))
        self.issues = issues


@dataclass(frozen=True)
class Envelope:
    """What an SBDH envelope says, and the FHIR message Bundle it carries."""

    sender_gln: str
    receiver_gln: str
    instance_identifier: str
    standard: str
    type_version: str
    created: str
    bundle: dict[str, Any]
    scopes: dict[str, str] = field(default_factory=dict)
    content_type: str = FHIR_JSON  # BinaryContent/@mimeType: application/fhir+json or application/fhir+xml

    def to_json(self) -> dict[str, Any]:
        return {"sender": f"0088:{self.sender_gln}", "receiver": f"0088:{self.receiver_gln}",
                "instance_identifier": self.instance_identifier, "standard": self.standard,
                "type_version": self.type_version, "created": self.created, "scopes": self.scopes}


def is_sbdh(content_type: str) -> bool:
    """Whether a request's ``Content-Type`` announces an XML envelope rather than bare FHIR JSON."""
    return content_type.split(";")[0].strip().lower() in XML_TYPES


def _gln_of(organisation: dict[str, Any]) -> str:
    ids = shape.identifiers(organisation)
    return next((ids[s] for s in GLN_SYSTEMS if ids.get(s)), "")


def message_parties(bundle: dict[str, Any]) -> dict[str, str]:
    """The facts of a message Bundle an envelope repeats: GLN and SOR of sender and primary receiver,
    event code, definition version, MessageHeader.id, Bundle.id and the patient's CPR."""
    resources = shape.resources(bundle)
    header = resources[0] if resources else {}
    by_ref = {f"{r.get('resourceType')}/{r.get('id')}": r for r in resources}
    sender = by_ref.get(shape.reference(header.get("sender")), {})
    destination = shape.obj((shape.arr(header.get("destination")) or [{}])[0])
    receiver = by_ref.get(shape.reference(destination.get("receiver")), {})
    patient = next((r for r in resources if r.get("resourceType") == "Patient"), {})
    patient_ids = shape.identifiers(patient)
    definition = shape.text(header.get("definition"))
    return {
        "sender_gln": _gln_of(sender), "receiver_gln": _gln_of(receiver),
        "sender_sor": shape.identifiers(sender).get(SOR_SYSTEM, ""),
        "receiver_sor": shape.identifiers(receiver).get(SOR_SYSTEM, ""),
        "event": shape.text(shape.obj(header.get("eventCoding")).get("code")),
        "version": definition.rpartition("|")[2] if "|" in definition else "",
        "header_id": shape.text(header.get("id")), "bundle_id": shape.text(bundle.get("id")),
        "patient": patient_ids.get(CPR_SYSTEM) or patient_ids.get(ECPR_SYSTEM) or "",
    }


def sbdh_element(parent: Any, name: str, text: str | None = None, ns: str = SBDH_NS, **attributes: str) -> Any:
    """A child element ``name`` (in ``ns``, the SBDH namespace by default) with ``text`` and ``attributes``."""
    element = etree.SubElement(parent, f"{{{ns}}}{name}", attributes)
    if text is not None:
        element.text = text
    return element


def new_envelope(sender_gln: str, receiver_gln: str) -> tuple[Any, Any]:
    """A new SBDH root and its header, started: HeaderVersion, Sender and Receiver (``0088:<GLN>``)."""
    root = etree.Element(f"{{{SBDH_NS}}}{ROOT}", nsmap={None: SBDH_NS})
    header = sbdh_element(root, "StandardBusinessDocumentHeader")
    sbdh_element(header, "HeaderVersion", "1.0")
    for party, gln in (("Sender", sender_gln), ("Receiver", receiver_gln)):
        sbdh_element(sbdh_element(header, party), "Identifier", f"0088:{gln}", Authority=AUTHORITY)
    return root, header


def wrap(bundle: dict[str, Any], now: datetime, *, content: bytes | None = None, content_type: str = FHIR_JSON,
         type_version: str | None = None, receipt_ms: int = RECEIPT_MS) -> tuple[bytes, str]:
    """The SBDH envelope of ``bundle`` and its InstanceIdentifier; ``ValueError`` when the message names
    no GLN for its sender or receiver (an envelope is addressed by GLN).

    ``content``: the message as serialised (``content_type``: FHIR JSON or FHIR XML), else FHIR JSON;
    ``type_version``: the DocumentIdentification/TypeVersion (for HCO the IG version the message
    follows), else the MessageDefinition version after ``|`` in ``MessageHeader.definition``."""
    facts = message_parties(bundle)
    if type_version:
        facts["version"] = type_version
    for who in ("sender", "receiver"):
        if not valid_gln(facts[f"{who}_gln"]):
            raise ValueError(f"the message's {who} organisation has no valid GLN to address the SBDH envelope by")
    instance = str(uuid.uuid4())
    stamp = now.isoformat(timespec="seconds")

    sub = sbdh_element
    root, header = new_envelope(facts["sender_gln"], facts["receiver_gln"])
    identification = sub(header, "DocumentIdentification")
    version = facts["version"] or "1.0"
    for name, text in (("Standard", facts["event"]), ("TypeVersion", version), ("InstanceIdentifier", instance),
                       ("Type", "Bundle"), ("MultipleType", "false"), ("CreationDateAndTime", stamp)):
        sub(identification, name, text)
    scope = sub(header, "BusinessScope")
    document_id = (f"urn:dk:healthcare:medcom:messaging:fhir:structuredefinition::{facts['event']}"
                   f"##urn:dk:medcom:fhir:{facts['event']}::{version}")
    for kind, value in (("DOCUMENTID", document_id), ("PROCESSID", PROCESS_ID), ("PATIENTID", facts["patient"]),
                        ("SENDERID", facts["sender_sor"]), ("RECEIVERID", facts["receiver_sor"]),
                        ("MESSAGEIDENTIFIER", facts["header_id"]),
                        ("MESSAGEENVELOPEIDENTIFIER", facts["bundle_id"]),
                        ("StatisticalInformation", f"MCM:{facts['event']}")):
        if value:
            entry = sub(scope, "Scope")
            sub(entry, "Type", kind)
            sub(entry, "InstanceIdentifier", value)
            sub(entry, "Identifier", SCOPE_ID)
    receipt = sub(scope, "Scope")
    sub(receipt, "Type", "EHMI-ReceiptAcknowledgement")
    sub(receipt, "InstanceIdentifier", "Request")
    sub(receipt, "Identifier", SCOPE_ID)
    correlation = sub(receipt, "CorrelationInformation")
    sub(correlation, "RequestingDocumentCreationDateTime", stamp)
    sub(correlation, "RequestingDocumentInstanceIdentifier", instance)
    sub(correlation, "ExpectedResponseDateTime",
        (now + timedelta(milliseconds=receipt_ms)).isoformat(timespec="seconds"))
    service = sub(receipt, "BusinessService")
    sub(service, "BusinessServiceName", "EHMI-ReceiptAcknowledgement-Request")
    sub(service, "ServiceTransaction", TypeOfServiceTransaction="RequestingServiceTransaction",
        TimeToAcknowledgeReceipt=str(receipt_ms))
    if content is None:
        content, content_type = json.dumps(bundle, ensure_ascii=False).encode("utf-8"), FHIR_JSON
    sub(root, "BinaryContent", base64.b64encode(content).decode("ascii"), mimeType=content_type, encoding="UTF-8")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8"), instance


def _issue(code: str, text: str, where: str, rule: str) -> Issue:
    return Issue("error", code, text, expression=where, rule=rule, source=SOURCE)  # type: ignore[arg-type]


def unwrap(raw: bytes, read_xml: Callable[[bytes], dict[str, Any]] | None = None) -> Envelope:
    """Read an SBDH envelope; ``EnvelopeError`` names every problem with its SBDH element.

    ``read_xml`` reads content of type ``application/fhir+xml`` (FHIR XML to FHIR JSON; a
    :class:`~nsp_sandbox.outcome.FhirError` it raises is reported at the BinaryContent); without it
    only FHIR JSON content is read."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                             remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise EnvelopeError([_issue("structure", f"The envelope is not well-formed XML: {exc}", ROOT,
                                    "ehmi-sbdh-xml")]) from None
    if root.tag != f"{{{SBDH_NS}}}{ROOT}":
        raise EnvelopeError([_issue("structure", f"The root element is {root.tag}, not {ROOT} in namespace "
                                    f"{SBDH_NS}", ROOT, "ehmi-sbdh-root")])
    issues: list[Issue] = []

    def child(parent: Any, path: str, name: str, *, required: bool = True) -> Any:
        found = parent.find(f"{{{SBDH_NS}}}{name}") if parent is not None else None
        if found is None and required and parent is not None:
            issues.append(_issue("required", f"{path}/{name} is missing", f"{path}/{name}", "ehmi-sbdh-element"))
        return found

    def text(parent: Any, path: str, name: str) -> str:
        found = child(parent, path, name)
        value = (found.text or "").strip() if found is not None else ""
        if found is not None and not value:
            issues.append(_issue("required", f"{path}/{name} is empty", f"{path}/{name}", "ehmi-sbdh-element"))
        return value

    header = child(root, ROOT, "StandardBusinessDocumentHeader")
    glns = {}
    for party in ("Sender", "Receiver"):
        where = f"{HEADER}/{party}/Identifier"
        identifier = child(child(header, HEADER, party), f"{HEADER}/{party}", "Identifier")
        if identifier is None:
            glns[party] = ""
            continue
        if identifier.get("Authority") != AUTHORITY:
            issues.append(_issue("value", f"{where}/@Authority is '{identifier.get('Authority')}', not {AUTHORITY}",
                                 f"{where}/@Authority", "ehmi-sbdh-authority"))
        value = (identifier.text or "").strip()
        match = _PARTY.match(value)
        if match is None or not valid_gln(match.group(1)):
            issues.append(_issue("value", f"{where} is '{value[:40]}', not 0088:<GLN> (13 digits with the GS1 "
                                 "check digit)", where, "ehmi-sbdh-party"))
        glns[party] = match.group(1) if match else ""
    where = f"{HEADER}/DocumentIdentification"
    identification = child(header, HEADER, "DocumentIdentification")
    values = {name: text(identification, where, name) if identification is not None else ""
              for name in ("Standard", "TypeVersion", "InstanceIdentifier", "Type", "CreationDateAndTime")}
    if values["Type"] and values["Type"] != "Bundle":
        issues.append(_issue("value", f"{where}/Type is '{values['Type'][:40]}'; a FHIR message travels as Bundle",
                             f"{where}/Type", "ehmi-sbdh-type"))
    scopes: dict[str, str] = {}
    scope_root = child(header, HEADER, "BusinessScope")
    for n, scope in enumerate(scope_root.findall(f"{{{SBDH_NS}}}Scope") if scope_root is not None else []):
        kind = scope.find(f"{{{SBDH_NS}}}Type")
        value = scope.find(f"{{{SBDH_NS}}}InstanceIdentifier")
        if kind is None or value is None:
            issues.append(_issue("required", "A Scope has a Type and an InstanceIdentifier",
                                 f"{HEADER}/BusinessScope/Scope[{n + 1}]", "ehmi-sbdh-scope"))
            continue
        scopes[(kind.text or "").strip()] = (value.text or "").strip()
    for needed in ("MESSAGEIDENTIFIER", "MESSAGEENVELOPEIDENTIFIER"):
        if scope_root is not None and needed not in scopes:
            issues.append(_issue("required", f"The BusinessScope has no {needed} scope",
                                 f"{HEADER}/BusinessScope", "ehmi-sbdh-scope"))
    binary = child(root, ROOT, "BinaryContent")
    bundle = _content(binary, issues, read_xml)
    if issues:
        raise EnvelopeError(issues)
    assert bundle is not None and binary is not None
    mime = binary.get("mimeType", "").split(";")[0].strip().lower()
    return Envelope(glns["Sender"], glns["Receiver"], values["InstanceIdentifier"], values["Standard"],
                    values["TypeVersion"], values["CreationDateAndTime"], bundle, scopes,
                    FHIR_XML if mime == FHIR_XML else FHIR_JSON)


def _content(element: Any, issues: list[Issue], read_xml: Callable[[bytes], dict[str, Any]] | None,
             ) -> dict[str, Any] | None:
    where = f"{ROOT}/BinaryContent"
    if element is None:
        return None
    mime = element.get("mimeType", "").split(";")[0].strip().lower()
    readable = (FHIR_JSON, "application/json") + ((FHIR_XML,) if read_xml is not None else ())
    if mime not in readable:
        issues.append(_issue("not-supported", f"{where}/@mimeType is '{mime[:60]}'; this system reads "
                             f"{' or '.join(readable)}", f"{where}/@mimeType", "ehmi-sbdh-content-type"))
        return None
    try:
        decoded = base64_data.decode((element.text or "").strip())
        if mime == FHIR_XML and read_xml is not None:
            try:
                content: Any = read_xml(decoded)
            except FhirError as exc:
                issues.extend(_issue("structure", f"{where} (FHIR XML): {i.diagnostics}", where, i.rule or
                                     "ehmi-sbdh-content") for i in exc.issues)
                return None
        else:
            content = strict_json.loads(decoded)
    except strict_json.JsonRefused as exc:  # as every face reads FHIR JSON: no duplicate keys, JSON's own numbers
        issues.append(_issue("structure", f"{where} is not acceptable JSON: {exc}", where, exc.rule))
        return None
    except (binascii.Error, ValueError, RecursionError) as exc:
        issues.append(_issue("structure", f"{where} is not base64 of a JSON document: {type(exc).__name__}", where,
                             "ehmi-sbdh-content"))
        return None
    if not isinstance(content, dict) or content.get("resourceType") != "Bundle":
        issues.append(_issue("structure", f"{where} does not carry a FHIR Bundle", where, "ehmi-sbdh-content"))
        return None
    return content


def consistency(envelope: Envelope) -> list[Issue]:
    """Where the envelope contradicts the message it carries (EHMI: the envelope repeats the message's
    addressing and identifiers)."""
    facts = message_parties(envelope.bundle)
    out = []
    checks = (
        (envelope.sender_gln, facts["sender_gln"], f"{HEADER}/Sender/Identifier", "the MessageHeader's sender GLN"),
        (envelope.receiver_gln, facts["receiver_gln"], f"{HEADER}/Receiver/Identifier",
         "the MessageHeader's primary receiver GLN"),
        (envelope.standard, facts["event"], f"{HEADER}/DocumentIdentification/Standard",
         "the MessageHeader's event code"),
        (envelope.scopes.get("MESSAGEIDENTIFIER", ""), facts["header_id"],
         f"{HEADER}/BusinessScope/Scope[Type=MESSAGEIDENTIFIER]", "MessageHeader.id"),
        (envelope.scopes.get("MESSAGEENVELOPEIDENTIFIER", ""), facts["bundle_id"],
         f"{HEADER}/BusinessScope/Scope[Type=MESSAGEENVELOPEIDENTIFIER]", "Bundle.id"),
    )
    for said, actual, where, what in checks:
        if said != actual:
            out.append(_issue("invariant", f"{where} says '{said[:64]}' but {what} is '{actual[:64]}'", where,
                              "ehmi-sbdh-consistent"))
    return out
