"""XDS identifiers: ``uniqueId`` (DocumentReference.masterIdentifier) and ``entryUUID`` (``identifier``).

uniqueId is the document's globally unique id (in DK from CDA ``ClinicalDocument/id`` as
``root^extension``; for FHIR documents usually a ``urn:uuid:``). IHE MHD writes it in
masterIdentifier as ``urn:oid:…`` / ``urn:uuid:…``, or as root OID in ``system`` (``urn:oid:``) with
the extension in ``value``. Whether it is unique in the registry is the registry's check, not
these rules'. entryUUID is the registry entry's id: a version 4 or 5 UUID (``urn:uuid:``).
"""

from __future__ import annotations

import re

from services.dds.metadata.fhir import JsonObject, text
from services.dds.metadata.findings import HCO_PROFILE, MD096, Findings, RuleGroup

_OID = r"[0-2](?:\.(?:0|[1-9][0-9]*))+"
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_OID_ONLY = re.compile(f"^{_OID}$")
# urn:oid:<OID> | urn:uuid:<UUID> | <OID> | <OID>^<extension>
_UNIQUE_ID_VALUE = re.compile(f"^(?:urn:oid:{_OID}|urn:uuid:{_UUID}|{_OID}(?:\\^[^\\s^]+)?)$")
_EXTENSION = re.compile(r"^[^\s^]+\Z")
# UUID version 4 or 5 in the RFC 4122 variant (MD096 entryUUID; HCO profile invariant medcom-uuid).
_ENTRY_UUID = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[45][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z",
                         re.IGNORECASE)


def check_unique_id(findings: Findings, dr: JsonObject) -> None:
    """masterIdentifier is present and has a form XDS uniqueId can hold."""
    if not findings.active(RuleGroup.METADATA):
        return
    master = dr.get("masterIdentifier")
    master = master if isinstance(master, dict) else {}
    value = text(master.get("value"))
    if value is None:
        findings.violation(RuleGroup.METADATA, rule="dk-xds-unique-id", code="required",
                           expression="masterIdentifier",
                           diagnostics="masterIdentifier (XDS uniqueId) is missing: every document needs its "
                                       "globally unique id, e.g. urn:uuid:<uuid> or root^extension",
                           source=f"{MD096}: uniqueId")
        return
    system = master.get("system")
    root = system.removeprefix("urn:oid:") if isinstance(system, str) and system.startswith("urn:oid:") else None
    if _UNIQUE_ID_VALUE.match(value) or (root is not None and _OID_ONLY.match(root) and _EXTENSION.match(value)):
        return
    findings.violation(RuleGroup.METADATA, rule="dk-xds-unique-id", code="value",
                       expression="masterIdentifier.value",
                       diagnostics=f"masterIdentifier {system or ''}|{value} cannot be an XDS uniqueId: give "
                                   "urn:oid:<OID>, urn:uuid:<UUID>, <OID>^<extension>, or system "
                                   "urn:oid:<root OID> with the extension as value",
                       source=f"{MD096}: uniqueId; IHE MHD masterIdentifier ↔ uniqueId")


def check_entry_uuid(findings: Findings, resource: JsonObject) -> None:
    """Every ``identifier`` that is a ``urn:uuid:`` (the entryUUID) is a version 4 or 5 UUID."""
    if not findings.active(RuleGroup.METADATA):
        return
    identifiers = resource.get("identifier")
    for i, ident in enumerate(identifiers if isinstance(identifiers, list) else []):
        value = ident.get("value") if isinstance(ident, dict) else None
        if isinstance(value, str) and value.lower().startswith("urn:uuid:") and not _ENTRY_UUID.match(value):
            findings.violation(RuleGroup.METADATA, rule="dk-xds-entry-uuid", code="value",
                               expression=f"identifier[{i}].value",
                               diagnostics=f"identifier {value} is not a valid entryUUID: it must be "
                                           "urn:uuid: followed by a version 4 or 5 UUID",
                               source=f"{MD096}: entryUUID; {HCO_PROFILE} invariant medcom-uuid")
