"""Who may use the GP system's faces (``docs/hco.md``, "Who may call the EOJ and the GP system"):

* the EHMI inbox (``POST /ehmi``) is open to senders: a sandbox simplification (real access points
  authenticate their peers with eDelivery certificates);
* reading what came in (``GET /inbox``, ``GET /received``) needs a token from NSP's STS (audience
  ``lps``) of a persona working at one of this system's practices (``GET /practices``): a
  professional there, or the practice's own GP system; anyone else — another clinic's GP, a
  citizen, a municipality — gets 403. The caller sees only its own practice's messages: the
  token's organisation is kept for the request (:func:`caller_practice`);
* changing how it behaves (``PUT /switches``, ``PUT /return-addresses``, ``POST /outbox/deliver``)
  is the sandbox operator's (:mod:`nsp_sandbox.operator_access`); reading the switches and the
  practices stays open.

Both checks are router dependencies (``services/lps/app.py``), not per-endpoint code.
"""

from __future__ import annotations

from fastapi import Request

from nsp_sandbox.bearer import BearerVerifier, route_path
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.operator_access import require_operator
from nsp_sandbox.outcome import FhirError, Issue
from services.lps.inbox import Inbox

SOURCE = "nsp-sandbox GP system (docs/hco.md: who may call the EOJ and the GP system)"
OPEN_TO_SENDERS = frozenset({"/ehmi"})  # the EHMI inbox
READS = frozenset({"GET", "HEAD", "OPTIONS"})


def caller_practice(request: Request) -> str:
    """The SOR code of the practice whose messages the caller reads (set by :meth:`LpsAccess.clinic`)."""
    return str(request.state.practice)


class LpsAccess:
    def __init__(self, context: SandboxContext, inbox: Inbox) -> None:
        self._context = context
        self._inbox = inbox
        self._tokens = BearerVerifier(context.peers, context.clock, "lps", None)

    async def clinic(self, request: Request) -> None:
        """A persona working at one of this system's practices; the EHMI inbox is left open."""
        if route_path(request) in OPEN_TO_SENDERS:
            return
        who = await self._tokens.principal(request)
        practices = {p["sor"]: p.get("name", p["sor"]) for p in self._inbox.practices()}
        if (who.is_professional or who.is_system) and who.organisation_sor in practices:
            request.state.practice = who.organisation_sor
            return
        at = f"works at {who.organisation_name} (SOR {who.organisation_sor})" if who.organisation_sor \
            else "works at no practice"
        raise FhirError(403, Issue("error", "forbidden", f"{who.name} {at}: a GP's inbox is read with the token of "
                                   "a professional or the GP system of one of this system's practices: "
                                   f"{', '.join(f'{n} (SOR {s})' for s, n in sorted(practices.items()))}",
                                   rule="lps-practice-token", source=SOURCE))

    def operator(self, request: Request) -> None:
        """Changes are the sandbox operator's; reading the settings stays open."""
        if request.method in READS:
            return
        require_operator(request, self._context.settings, "The GP system's operator endpoints", SOURCE)
