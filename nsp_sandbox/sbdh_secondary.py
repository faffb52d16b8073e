"""EHMI's secondary delivery of a MedCom message to the national XDS (DDS): the same SBDH envelope as the
primary delivery, addressed to DDS, with the scope ``XDS_METADATA`` carrying the DocumentReference that
describes the message (CDATA), as in ``dk-ehmi-sbdh``'s HomeCareObservation_XDS sample (hco.md §4.5, §5).

The sandbox's EOJ provides the same message and DocumentReference to DDS by ITI-65 (or ITI-41); this is
the envelope that delivery stands for in EHMI, shown with each shared message.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from lxml import etree

from nsp_sandbox.hco_sbdh import RECEIPT_MS, SBDH_NS, SCOPE_ID, wrap

DDS_GLN = "5790000201389"  # the national XDS's GLN in EHMI's sample of the secondary delivery


def secondary_envelope(bundle: dict[str, Any], document_reference: dict[str, Any], now: datetime, *,
                       receipt_ms: int = RECEIPT_MS) -> tuple[bytes, str]:
    """The SBDH of the DDS copy of ``bundle`` and its InstanceIdentifier."""
    raw, instance = wrap(bundle, now, receipt_ms=receipt_ms)
    root = etree.fromstring(raw)
    ns = {"s": SBDH_NS}
    receiver = root.find("s:StandardBusinessDocumentHeader/s:Receiver/s:Identifier", ns)
    assert receiver is not None
    receiver.text = f"0088:{DDS_GLN}"
    scopes = root.find("s:StandardBusinessDocumentHeader/s:BusinessScope", ns)
    assert scopes is not None
    scope = etree.Element(f"{{{SBDH_NS}}}Scope")
    etree.SubElement(scope, f"{{{SBDH_NS}}}Type").text = "XDS_METADATA"
    etree.SubElement(scope, f"{{{SBDH_NS}}}InstanceIdentifier").text = etree.CDATA(
        json.dumps(document_reference, ensure_ascii=False))
    etree.SubElement(scope, f"{{{SBDH_NS}}}Identifier").text = SCOPE_ID
    statistical = next((s for s in scopes if s.findtext("s:Type", namespaces=ns) == "StatisticalInformation"), None)
    if statistical is not None:
        statistical.addprevious(scope)
    else:
        scopes.append(scope)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8"), instance
