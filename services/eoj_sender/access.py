"""Who may use the EOJ's faces (``docs/hco.md``, "Who may call the EOJ and the GP system"):

* the EHMI inbox (``POST /ehmi``, where acknowledgements arrive) is open to senders: a sandbox
  simplification (real access points authenticate their peers with eDelivery certificates);
* ordering and reading orders (``/hco…``, ``POST /messages``, ``/corpus…``) needs a token from NSP's
  STS (audience ``eoj``) of the EOJ itself (its system persona, ``NSP_SANDBOX_EOJ_PERSONA``) or of a
  professional of its municipality (an organisation at or below the EOJ persona's organisation in
  NSP's SOR register); anyone else — a GP, a hospital doctor, another municipality's EOJ, a
  citizen — gets 403: the EOJ shares to DDS under its own identity;
* changing the endpoint register (``PUT /endpoints``) is the sandbox operator's
  (:mod:`nsp_sandbox.operator_access`); reading it stays open.

Both checks are router dependencies (``services/eoj_sender/app.py``), not per-endpoint code.
"""

from __future__ import annotations

from fastapi import Request

from nsp_sandbox.bearer import BearerVerifier, route_path
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.operator_access import require_operator
from nsp_sandbox.outcome import FhirError, Issue

SOURCE = "nsp-sandbox EOJ (docs/hco.md: who may call the EOJ and the GP system)"
OPEN_TO_SENDERS = frozenset({"/ehmi"})  # the EHMI inbox
READS = frozenset({"GET", "HEAD", "OPTIONS"})


class EojAccess:
    def __init__(self, context: SandboxContext) -> None:
        self._context = context
        self._tokens = BearerVerifier(context.peers, context.clock, "eoj", context.settings.eoj_persona)
        self._municipality: dict[str, tuple[str, frozenset[str]]] = {}  # persona → (name, SOR codes)

    async def municipality(self) -> tuple[str, frozenset[str]]:
        """The name of the EOJ persona's organisation and the SOR codes at or below it (NSP's SOR register)."""
        persona = self._context.settings.eoj_persona
        if persona not in self._municipality:
            nsp = self._tokens.nsp
            mine = next((p for p in await nsp.personas("system") if p.get("id") == persona), {})
            top = await nsp.organisation(str(mine.get("organisation"))) if mine.get("organisation") else None
            found = (str(top["name"]), frozenset({str(top["sor"]), *map(str, top.get("sub_units") or [])})) \
                if top else (persona, frozenset())
            self._municipality[persona] = found
        return self._municipality[persona]

    async def staff(self, request: Request) -> None:
        """The EOJ's own system token or a professional of its municipality; the EHMI inbox is left open."""
        if route_path(request) in OPEN_TO_SENDERS:
            return
        who = await self._tokens.principal(request)
        if who.is_system and who.persona == self._context.settings.eoj_persona:
            return
        name, units = await self.municipality()
        if who.is_professional and who.organisation_sor in units:
            return
        raise FhirError(403, Issue("error", "forbidden", f"{who.name} may not order at this EOJ: it takes the "
                                   f"token of its own system ({self._context.settings.eoj_persona}) or of a "
                                   f"professional of {name}", rule="eoj-staff-token", source=SOURCE))

    def operator(self, request: Request) -> None:
        """Changes are the sandbox operator's; reading the register stays open."""
        if request.method in READS:
            return
        require_operator(request, self._context.settings, "The EOJ's endpoint register", SOURCE)
