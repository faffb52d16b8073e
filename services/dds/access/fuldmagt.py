"""A fuldmagt opens what its scope names, not more (Digital Fuldmagt: each fuldmagt covers one
self-service, dds-nsp.md §2.4). ``sundhedsjournal`` opens every document of the grantor;
``prøvesvar`` (test results) opens only test-result documents: the municipal HomeCareObservation
("Kommunale Prøvesvar", MedCom ``HCOM``) and laboratory reports (LOINC 11502-2) — not, say, the
diagnosis card (ConditionList, LOINC 11450-4). A scope the sandbox does not know opens nothing.

Custody of a child under 15 is not a fuldmagt: a parent sees all of the child's documents. The
token names the scope of each fuldmagt (``fuldmagt_scopes``); NSP lets a fuldmagt lapse when its
period ends or its grantor dies, so such a token no longer names the grantor at all.
"""

from __future__ import annotations

from nsp_sandbox.tokens import Principal
from services.dds.queries import Withholding

SOURCE = "Digital Fuldmagt (borger.dk): a fuldmagt covers one self-service; NSP IDWS token (nspop 121380647)"

TEST_RESULTS = (("urn:oid:1.2.208.184.100.1", "HCOM"), ("http://loinc.org", "11502-2"))
#: scope → the document types it opens (None: all).
SCOPES: dict[str, tuple[tuple[str, str], ...] | None] = {"sundhedsjournal": None, "prøvesvar": TEST_RESULTS}


def withholding(principal: Principal, cpr: str) -> Withholding | None:
    """What a fuldmagt holder may not see of ``cpr``'s documents (None: all is open to them)."""
    if principal.relation_to(cpr) != "fuldmagt":
        return None
    scope = principal.fuldmagt_scope(cpr)
    if scope is not None and scope in SCOPES:
        opened = SCOPES[scope]
        return None if opened is None else Withholding(cpr, only_types=opened)
    return Withholding(cpr)  # a scope without documents in DDS: nothing is opened
