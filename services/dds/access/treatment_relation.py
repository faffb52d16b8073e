"""A health professional reads a citizen's documents only with a treatment relation (BRS,
sundhedsloven §42a), asked of NSP at the time of the look-up. Without one: 403 naming it."""

from __future__ import annotations

from nsp_sandbox.nsp_client import NspClient
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.tokens import Principal

SOURCE = "sundhedsloven §42a; NSP BRS; DDS data retrieval IFS v1.5 (internal_error_treatmentrelation)"


async def require_relation(nsp: NspClient, principal: Principal, cpr: str) -> None:
    """The relation is the professional's; an assistant's is that of the professional they act for."""
    authorisation = principal.judged_authorisation
    if not authorisation:
        raise FhirError(403, Issue("error", "forbidden", "The token carries no authorisation id, so no treatment "
                                   "relation can be established", rule="dds-treatment-relation", source=SOURCE))
    if not await nsp.relations(authorisation, cpr):
        who = f"{principal.responsible_name} (for whom {principal.name} acts)" if principal.responsible \
            else principal.name
        raise FhirError(403, Issue(
            "error", "forbidden",
            f"No treatment relation between {who} (authorisation {authorisation}, "
            f"{principal.organisation_name or 'no organisation'}) and the citizen with CPR {cpr}",
            rule="dds-treatment-relation", source=SOURCE))
