"""The access rules composed for DDS's faces: authenticate, decide, filter, log.

``authenticate`` verifies the token (401); ``grant`` decides a look-up of some citizens' documents
(who may read, treatment relation, blocks, værdispring) and answers a ``ReadGrant`` the face
applies to its query and result; ``log`` writes the Min Log entries of a look-up with a non-empty
result by a professional or an assistant, or by a relative (fuldmagt, custodial parent) on the
data subject's log and on the relative's own. The MHD face and the XDS.b face reach the same
decision through the same ``guarded_read``; only how the caller and the værdispring arrive differ.
With ``settings.dds_access_control`` off, everything is open and nothing is logged.

``guarded_read`` is the one read pipeline every face and transaction goes through:
authenticate → grant → query → warn → log. What differs per transaction (whose documents a
look-up concerns, the query itself, its warnings, what the Min Log entry says) are the
``ReadSteps`` it is given; how the caller authenticates (a bearer token here, a SOAP header on an
XDS.b face) is the ``authenticate`` callable.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.tokens import Principal
from services.dds import request_log
from services.dds.access import address_protection, blocking, fuldmagt, min_log, readers, treatment_relation
from services.dds.access.consent_override import Override, OverrideRequest
from services.dds.access.consent_override import grant as grant_override
from services.dds.access.nsp import dds_nsp_client
from services.dds.access.tokens import TokenVerifier
from services.dds.queries import Withholding

SUBSCRIBE_RIGHT = "dsubm-subscribe"  # NSP's right of a DSUBm Resource Notification Recipient (subscriptions.RIGHT)


@dataclass
class ReadGrant:
    """What one look-up may see: ``withheld`` entries are left out; addresses hidden for ``hide_address``."""

    principal: Principal | None
    override: Override | None = None
    decisions: dict[str, blocking.BlockDecision] = field(default_factory=dict)
    hide_address: set[str] = field(default_factory=set)

    @property
    def withheld(self) -> list[Withholding]:
        return [w for d in self.decisions.values() for w in d.withheld]

    @property
    def fully_blocked(self) -> list[str]:
        return [cpr for cpr, d in self.decisions.items() if d.everything]

    @property
    def partly_blocked(self) -> bool:
        return any(d.partly for d in self.decisions.values())

    def logged(self, cprs: list[str]) -> list[str]:
        """The citizens whose Min Log gets this look-up: all for a professional; for a citizen user,
        those they act for (a citizen's look-up of their own data is not logged)."""
        if self.principal is None:
            return []
        if self.principal.is_professional:
            return cprs
        if self.principal.is_citizen:
            return [c for c in cprs if c != self.principal.acting_cpr]
        return []


T = TypeVar("T")


class ReadSteps(Protocol[T]):
    """What one transaction adds to the guarded read: its subjects, query, warnings and Min Log entry."""

    activity: str  # the Min Log activity, e.g. "ITI-67 Find Document References"
    sources_may_read: bool  # a system caller reads without a grant (ITI-92 reads what it updates)

    async def subjects(self, principal: Principal | None) -> list[str]:
        """The CPRs whose documents the look-up concerns (it may refuse the request: 400, 404)."""
        ...

    async def query(self, grant: ReadGrant) -> T:
        """Run the look-up as ``grant`` allows (withheld entries left out)."""
        ...

    async def warnings(self, grant: ReadGrant, found: T) -> list[Issue]:
        """Warnings for the answer (e.g. that the citizen's blocks hid something)."""
        ...

    def logged(self, found: T) -> tuple[list[str], str]:
        """The CPRs whose documents ``found`` shows, and the Min Log entry's addition."""
        ...


@dataclass
class GuardedAnswer(Generic[T]):
    """What a guarded read found, under which grant, with which warnings."""

    found: T
    grant: ReadGrant
    warnings: list[Issue]


class Guard:
    """The access rules of DDS over one sandbox context."""

    def __init__(self, context: SandboxContext,
                 subscribed: Callable[[str, str], bool] | None = None) -> None:
        self.context = context
        # Whether a system holds a DSUBm subscription covering a patient (services.dds.subscriptions).
        self.subscribed = subscribed
        self.verifier = TokenVerifier(context.peers, context.clock)
        self.nsp = dds_nsp_client(context.peers, context.clock, context.settings.dds_nsp_persona)

    @property
    def enabled(self) -> bool:
        return self.context.settings.dds_access_control

    async def authenticate(self, request: Request) -> Principal | None:
        if not self.enabled:
            return None
        principal = await self.verifier.principal(request.headers.get("authorization"))
        request_log.note(request, caller=principal.persona)
        return principal

    async def provider(self, request: Request) -> Principal | None:
        """The providing (or updating) caller, a source; None with access control off."""
        principal = await self.authenticate(request)
        if principal is not None:
            readers.require_provider(principal)
        return principal

    async def grant(self, principal: Principal | None, asked: OverrideRequest | None, cprs: list[str]) -> ReadGrant:
        """Decide a look-up of ``cprs``' documents (403 for a reader without the right to it);
        ``asked`` is the caller's værdispring as its face carries it (reason, criticality)."""
        if principal is None:
            return ReadGrant(None)
        readers.require_reader(principal)
        override = grant_override(principal, asked)
        grant = ReadGrant(principal, override)
        for cpr in cprs:
            if principal.is_citizen:
                readers.require_citizen_access(principal, cpr)
                person = await self.nsp.person(cpr)
                if address_protection.must_hide(principal, cpr, person):
                    grant.hide_address.add(cpr)
                scope = fuldmagt.withholding(principal, cpr)
                if scope is not None:
                    grant.decisions[cpr] = blocking.BlockDecision((scope,))
                continue
            await treatment_relation.require_relation(self.nsp, principal, cpr)
            decision = blocking.decide(cpr, await self.nsp.blocks(cpr), principal)
            if override is None:
                grant.decisions[cpr] = decision
        return grant

    async def log(self, grant: ReadGrant, cprs: list[str], activity: str, addition: str) -> None:
        """Write the Min Log entries of a look-up that showed ``cprs``' documents."""
        if grant.principal is None:
            return
        for cpr in grant.logged(cprs):
            name = None  # NSP names the citizen on their own log; a relative's own log needs it from here
            if grant.principal.is_citizen:
                person = await self.nsp.person(cpr)
                name = str(person.get("name")) if person and person.get("name") else None
            for entry in min_log.entries(grant.principal, cpr, name, activity, grant.override, addition):
                await self.nsp.write_minlog(entry)

    async def notified_reader(self, principal: Principal, cprs: list[str], steps: ReadSteps[Any]) -> bool:
        """Whether ``principal`` retrieves as a DSUBm Resource Notification Recipient: a system with NSP's
        right ``dsubm-subscribe``, a transaction that allows it (``subscribers_may_read``: ITI-68 only),
        and a subscription of its own that covers every patient concerned."""
        if not (principal.is_system and getattr(steps, "subscribers_may_read", False)
                and SUBSCRIBE_RIGHT in principal.rights and self.subscribed is not None and cprs):
            return False
        return await _covered(self.subscribed, principal.persona, cprs)

    async def guarded_read(self, authenticate: Callable[[], Awaitable[Principal | None]],
                           asked: OverrideRequest | None, steps: ReadSteps[T]) -> GuardedAnswer[T]:
        """One guarded read: authenticate → grant → query → warn → log, with the transaction's ``steps``.

        A system (a source) reading with ``steps.sources_may_read`` gets what it asks without a
        grant (it reads the entries it updates); nothing is logged for it. So does a DSUBm subscriber
        retrieving a document of a patient its subscription covers (:meth:`notified_reader`): that
        is no person's look-up, and Min Log gets none.
        """
        principal = await authenticate()
        cprs = await steps.subjects(principal)
        system_read = principal is not None and principal.is_system and steps.sources_may_read
        if system_read or (principal is not None and await self.notified_reader(principal, cprs, steps)):
            grant = ReadGrant(None)
        else:
            grant = await self.grant(principal, asked, cprs)
        found = await steps.query(grant)
        warnings = await steps.warnings(grant, found)
        shown, addition = steps.logged(found)
        await self.log(grant, shown, steps.activity, addition)
        return GuardedAnswer(found, grant, warnings)


async def _covered(subscribed: Callable[[str, str], bool], persona: str, cprs: list[str]) -> bool:
    return all([await run_in_threadpool(subscribed, persona, cpr) for cpr in cprs])


def patients_named(groups: list[list[Any]]) -> list[str]:
    """The CPRs a search names (``patient`` / ``patient.identifier``); 403 for an open-ended one."""
    cprs: list[str] = []
    for group in groups:
        for token in group:
            if not token.code:
                raise FhirError(403, Issue("error", "forbidden", "A look-up names each patient by identifier "
                                           "value; a search over any patient is not allowed",
                                           expression="patient.identifier", rule="dds-named-patient",
                                           source=readers.SOURCE))
            if token.code not in cprs:
                cprs.append(token.code)
    return cprs
