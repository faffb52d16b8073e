"""The viewer as IHE DSUBm Resource Notification Recipient: new documents are read before anyone looks.

**Subscribing.** At start-up the viewer registers one subscription at DDS (``POST
{dds}/fhir/Subscription``, :meth:`Prefetch.subscribe`) with its own system identity (persona
``view_system_persona``, which NSP grants the right ``dsubm-subscribe``): the DSUBm multi-patient
topic on DocumentReference, channel rest-hook to ``view_dsubm_endpoint`` (by default this viewer's
``/view/dsubm/notify``), payload ``application/fhir+json``, and the backport's ``backport-max-count``
(:data:`MAX_COUNT`): after a burst of provides, DDS may send up to that many events in one notification.
It runs in a thread of its own, trying again with a growing pause while DDS or NSP are not reachable
yet. A DDS that answers 404, 405 or 501 offers no DSUBm (a vendor's DDS): that is logged once and the
viewer reads documents when a page needs them, as without a subscription. Every worker process
registers; DDS answers the same subscription to each.

**Receiving.** ``POST /view/dsubm/notify`` takes DDS's notification Bundle (R4 Subscriptions
Backport, ``history``) only with DDS's own system token (audience ``view``, persona
``dds_nsp_persona``), and prefetches each DocumentReference in it
(:meth:`services.sundhed_view.documents.Documents.prefetch_many`): ITI-68 with the viewer's system token,
validated and read exactly as a page reads it, kept by the SHA-256 of the bytes in the viewer's
tables (``extract_cache``). It answers 200 once they are read: DDS sends its notifications off
its own request path, so no provide waits for this.

**What it changes for whom.** Nothing about who sees what: DDS lets the viewer's system retrieve a
document only for a patient its subscription covers and writes no Min Log entry for it (it is no
person's look-up); the pages still ask DDS with the signed-in person's token which entries they may
see (ITI-67), a professional's and a relative's pages still retrieve every document through DDS (which
logs each), and the patient rule is applied at every use. What is saved is the first view: a
citizen's own page finds every entry's content already read.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.bearer import BearerVerifier
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fhir_http import read_fhir_json
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.peers import IN_PROCESS_ORIGIN
from nsp_sandbox.system_tokens import StsUnavailable, SystemTokens
from nsp_sandbox.thread_names import NamedThread
from services.sundhed_view.dds import Reader
from services.sundhed_view.documents import Documents, Entry

log = logging.getLogger("services.sundhed_view.prefetch")

MULTI_PATIENT_TOPIC = ("https://profiles.ihe.net/ITI/DSUBm/SubscriptionTopic/"
                       "DSUBm-SubscriptionTopic-DocumentReference-MultiPatient")
NO_DSUBM = (404, 405, 501)  # what a DDS without DSUBm answers POST /fhir/Subscription with
PAUSES = (0.05, 0.2, 0.5, 1, 2, 5, 10, 30, 60)  # between attempts to subscribe (seconds, real time)
ATTEMPTS = 30
SOURCE = "IHE ITI DSUBm (Resource Notification Recipient)"
MAX_COUNT = 20  # events DDS may put in one notification (the backport's channel backport-max-count)
MAX_COUNT_EXTENSION = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-max-count"


class Prefetch:
    """The viewer's subscription at DDS and the prefetch of what DDS notifies."""

    def __init__(self, context: SandboxContext, documents: Documents) -> None:
        self.context = context
        self.documents = documents
        self.tokens = SystemTokens(context.peers, context.clock)
        self.subscription_id: str | None = None
        self.unsupported = False  # DDS answered that it offers no DSUBm
        self.settled = threading.Event()  # subscribed, or given up
        self._senders = BearerVerifier(context.peers, context.clock, "view", None)
        self.prefetched = 0
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        context.stoppers.append(self.stop)

    def stop(self) -> None:
        """Stop trying to subscribe (the sandbox shuts down)."""
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(15)

    @property
    def persona(self) -> str:
        return self.context.settings.view_system_persona

    def endpoint(self) -> str | None:
        """Where DDS notifies this viewer (None: not known, so no subscription)."""
        settings = self.context.settings
        if settings.view_dsubm_endpoint:
            return settings.view_dsubm_endpoint
        if settings.public_base_url:
            return f"{settings.public_base_url.rstrip('/')}/view/dsubm/notify"
        if not settings.dds_url:
            return f"{IN_PROCESS_ORIGIN}/view/dsubm/notify"  # DDS is this sandbox: reached in process
        return None

    # -- subscribing -----------------------------------------------------------------------------

    def start(self) -> None:
        """Subscribe in the background (the sandbox's actors are still being built now)."""
        if not self.context.settings.view_dsubm:
            self.settled.set()
            return
        self._thread = NamedThread(target=self._subscribe_until_done, name="view-dsubm-subscribe", daemon=True)
        self._thread.start()

    def _subscribe_until_done(self) -> None:
        try:
            for attempt in range(ATTEMPTS):
                if self._stopping.is_set() or asyncio.run(self.subscribe()):
                    return
                if self._stopping.wait(PAUSES[min(attempt, len(PAUSES) - 1)]):
                    return
            log.warning("the viewer could not subscribe at DDS (DSUBm) after %s attempts: documents are read "
                        "when a page needs them", ATTEMPTS)
        finally:
            self.settled.set()

    async def subscribe(self) -> bool:
        """One attempt to register the subscription; True when settled (subscribed, or DDS has no DSUBm)."""
        endpoint = self.endpoint()
        if endpoint is None:
            log.warning("no URL for DDS to notify the viewer at (set NSP_SANDBOX_VIEW_DSUBM_ENDPOINT or "
                        "NSP_SANDBOX_PUBLIC_BASE_URL): no DSUBm subscription")
            return True
        peers = self.context.peers
        try:
            token = await self.tokens.token(self.persona, "dds")
            response = await peers.client("dds").post(f"{peers.url('dds')}/fhir/Subscription", json={
                "resourceType": "Subscription", "status": "requested",
                "reason": "Sundhed.dk: the documents of every citizen, read as they are shared",
                "criteria": MULTI_PATIENT_TOPIC,
                "channel": {"type": "rest-hook", "endpoint": endpoint, "payload": "application/fhir+json",
                            "extension": [{"url": MAX_COUNT_EXTENSION, "valuePositiveInt": MAX_COUNT}]}},
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json",
                         "Accept": "application/fhir+json"})
        except Exception as exc:  # the STS or DDS not reachable (yet), the sandbox not built yet: try again
            log.debug("DSUBm subscription not yet possible: %s", exc)
            return False
        if response.status_code in (200, 201):
            self.subscription_id = str(response.json().get("id"))
            log.info("subscribed at DDS (DSUBm): Subscription/%s", self.subscription_id)
            return True
        if response.status_code in NO_DSUBM:
            self.unsupported = True
            log.warning("DDS answered HTTP %s to a DSUBm subscription: it offers none; documents are read when "
                        "a page needs them", response.status_code)
            return True
        if response.status_code in (400, 401, 403, 415, 422):
            log.warning("DDS refused the viewer's DSUBm subscription (HTTP %s): %s", response.status_code,
                        response.text[:500])
            return True
        return False  # 5xx: DDS is not ready; try again

    # -- receiving -------------------------------------------------------------------------------

    async def check_sender(self, request: Request) -> None:
        """401 without a valid token; 403 unless it is DDS's own system token."""
        principal = await self._senders.principal(request)
        if not principal.is_system or principal.persona != self.context.settings.dds_nsp_persona:
            raise FhirError(403, Issue("error", "forbidden", "Only DDS notifies the viewer (DSUBm)",
                                       rule="view-dsubm-sender", source=SOURCE))

    async def notified(self, bundle: Any) -> dict[str, int]:
        """Prefetch every DocumentReference of a notification Bundle; how many ended how."""
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle" or bundle.get("type") != "history":
            raise FhirError(400, Issue("error", "invalid", "A DSUBm notification is a Bundle of type history",
                                       expression="Bundle.type", rule="view-dsubm-notification", source=SOURCE))
        references = [e.get("resource") for e in bundle.get("entry") or [] if isinstance(e, dict)]
        references = [r for r in references if isinstance(r, dict) and r.get("resourceType") == "DocumentReference"]
        outcome: dict[str, int] = {}
        if not references:
            return outcome  # a handshake or heartbeat
        try:
            reader = Reader(await self.tokens.token(self.persona, "dds"))
        except StsUnavailable as exc:
            raise FhirError(503, Issue("error", "transient", str(exc), rule="view-dsubm-token")) from None
        # A replaced or deprecated entry's content is the same as before. The others are looked up in the
        # viewer's tables at once (a notification may carry several events).
        entries = [Entry.of(r) for r in references if r.get("status") in ("current", None)]
        for what in await self.documents.prefetch_many(reader, entries):
            outcome[what] = outcome.get(what, 0) + 1
        self.prefetched += outcome.get("read", 0)
        return outcome


def router(prefetch: Prefetch) -> APIRouter:
    """``POST /dsubm/notify``: DDS's DSUBm notifications (rest-hook)."""
    dsubm = APIRouter()

    @dsubm.post("/dsubm/notify", response_class=JSONResponse, responses={
        **oa.answer("Taken: how many of its documents were read now, known already, or not kept "
                    "(by outcome)", {"application/json": {"type": "object"}}),
        **oa.errors(400, 401, 403, 413, 415, 503)},
        openapi_extra=oa.fhir_body("Bundle", xml=False, description="A DSUBm notification: the R4 Subscriptions "
                                   "Backport's history Bundle from DDS"))
    async def notify(request: Request) -> Response:
        await prefetch.check_sender(request)
        body, _ = await read_fhir_json(request, prefetch.context.settings.max_body_bytes)
        return JSONResponse({"documents": await prefetch.notified(body)})

    return dsubm
