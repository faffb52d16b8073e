"""The operator endpoints the actors serve under their own paths, as ``GET /sandbox`` lists them.

They stay where they are (``PUT /lps/switches`` …); each actor guards them itself with the one
operator rule (:mod:`nsp_sandbox.operator_access`), so they answer only the operator in one process
and in containers of their own alike.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OperatorEndpoint:
    method: str
    path: str  # the full path; a trailing ``/`` matches everything below it
    description: str

    def matches(self, method: str, path: str) -> bool:
        if method != self.method:
            return False
        return path.startswith(self.path) if self.path.endswith("/") else path == self.path


OPERATOR_ENDPOINTS: tuple[OperatorEndpoint, ...] = (
    OperatorEndpoint("PUT", "/lps/switches", "the GP inbox's behaviour switches (mode, withhold, twice, "
                     "delay_minutes); also shown in GET /sandbox/faults"),
    OperatorEndpoint("POST", "/lps/outbox/deliver", "the GP inbox sends its delayed acknowledgements that are due "
                     "and refuses held corrections whose original did not come"),
    OperatorEndpoint("PUT", "/eoj/endpoints", "the endpoint register, as the EOJ takes it (PUT /sandbox/endpoints/"
                     "{GLN or SOR} is the control face's form)"),
    OperatorEndpoint("PUT", "/lps/return-addresses", "where the GP inbox sends acknowledgements for a "
                     "SOR-addressed sender"),
    OperatorEndpoint("POST", "/nsp/sandbox/world", "NSP loads a world file (POST /sandbox/world hands it over)"),
    OperatorEndpoint("GET", "/dds/requests", "what DDS received and answered, request by request (the request log "
                     "the document suites judge; docs/dds.md)"),
    *(OperatorEndpoint("POST", f"/{actor}/sandbox/reset", f"empties the {actor} actor's data (POST /sandbox/reset "
                       "calls every actor's)") for actor in ("dds", "nsp", "plsp", "eoj", "lps", "view")),
)
