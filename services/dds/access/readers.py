"""Who may read whose documents in DDS.

* a **citizen** reads their own documents; a **relative** those of the citizens they act for —
  the grantor of a fuldmagt, or a child under 15 of whom they are a custodial parent (both judged
  by NSP when it issued the token: ``acts_for``);
* a **health professional** reads any citizen's documents subject to a treatment relation
  (``treatment_relation``) and the citizen's blocks (``blocking``);
* a **source system** (system ID card) provides documents but reads none, except the metadata of
  one DocumentReference by id, which an ITI-92 status update (deprecation) is built from.
"""

from __future__ import annotations

from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.tokens import Principal

SOURCE = "DDS access rules (nspop 12226648): citizen, representative (fuldmagt, custody), professional"


def require_reader(principal: Principal) -> None:
    """403 for a caller that reads nothing: a system."""
    if principal.is_system:
        raise FhirError(403, Issue("error", "forbidden", f"{principal.name} acts with a system ID card: a source "
                                   "system may provide documents but not read them", rule="dds-system-no-read",
                                   source=SOURCE))
    if not (principal.is_citizen or principal.is_professional):
        raise FhirError(403, Issue("error", "forbidden", "The token names no user type DDS serves",
                                   rule="dds-user-type", source=SOURCE))


def require_citizen_access(principal: Principal, cpr: str) -> None:
    """A citizen user reads only their own documents and those of the citizens they act for."""
    if cpr not in principal.citizens_represented():
        raise FhirError(403, Issue("error", "forbidden", f"{principal.name} neither is nor acts for the citizen "
                                   f"with CPR {cpr} (no fuldmagt, no custody of a child under 15)",
                                   rule="dds-citizen-own-data", source=SOURCE))


def require_provider(principal: Principal) -> None:
    """Documents are provided by systems and professionals, not by citizens."""
    if principal.is_citizen:
        raise FhirError(403, Issue("error", "forbidden", "Citizens do not provide documents to DDS",
                                   rule="dds-provider", source=SOURCE))
