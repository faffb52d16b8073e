"""The GP system answers in the format a message came in: what travelled as FHIR XML is remembered
(``lps_xml``, by Bundle.id), and its acknowledgement is written as FHIR XML — bare, or as the
content of the SBDH envelope when the message came in one — and as FHIR JSON otherwise. The IG
version a message is judged by is the envelope's TypeVersion, else ``NSP_SANDBOX_HCO_VERSION``."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from nsp_sandbox import hco_versions
from nsp_sandbox.conformance.structure import StructureLibrary
from nsp_sandbox.database import Database
from nsp_sandbox.fhir_format import FHIR_XML, serialise
from nsp_sandbox.hco_sbdh import CONTENT_TYPE as SBDH_CONTENT_TYPE
from nsp_sandbox.hco_sbdh import Envelope, wrap
from nsp_sandbox.hco_terms import HCO_EVENT
from services.lps.models import XmlRow

FHIR_JSON = "application/fhir+json"


def remember_xml(database: Database, bundle_id: str) -> None:
    """Note that the transmission ``bundle_id`` travels as FHIR XML."""
    with database.writing("lps-xml", bundle_id[:200]) as s:  # the same transmission twice at once: one row
        if bundle_id and s.get(XmlRow, bundle_id[:200]) is None:
            s.add(XmlRow(bundle_id=bundle_id[:200]))


def is_xml(database: Database, bundle_id: str) -> bool:
    with database.session() as s:
        return s.get(XmlRow, bundle_id[:200]) is not None


def body_of(ack: dict[str, Any], *, sbdh: bool, xml: bool, library: StructureLibrary,
            now: datetime) -> tuple[bytes, str]:
    """An acknowledgement as sent: its bytes and Content-Type (``ValueError`` when it cannot be
    enveloped: no GLN to address it by)."""
    content = serialise(ack, "xml", library) if xml else None
    if sbdh:
        body, _ = wrap(ack, now, content=content, content_type=FHIR_XML if xml else FHIR_JSON)
        return body, SBDH_CONTENT_TYPE
    if xml:
        assert content is not None
        return content, FHIR_XML
    return json.dumps(ack, ensure_ascii=False).encode("utf-8"), FHIR_JSON


def version_of(envelope: Envelope | None, setting: str) -> str:
    """The HCO IG version a message is judged by: the envelope's TypeVersion when it names one, else
    the setting."""
    said = envelope.type_version if envelope is not None and envelope.standard == HCO_EVENT else None
    try:
        return hco_versions.choose(said, setting)
    except hco_versions.UnknownVersion:
        return hco_versions.choose(setting)
