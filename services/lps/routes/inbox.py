"""The EHMI inbox and what came in:

* ``POST /ehmi``        an HCO message in — bare FHIR JSON or FHIR XML, or wrapped in an SBDH envelope
                        (XML) addressed ``0088:<GLN>`` of one of the practices
                        (:func:`nsp_sandbox.ehmi.receive_message`) — and a MedCom Acknowledgement out, in
                        the format the message came in; the HTTP answer says what happened;
                        EDS hears ``msg-received`` and, once answered, ``msg-received-and-finalized``; an
                        envelope asking for a receipt gets an SBDH ReceiptAcknowledgement at once
* ``GET  /inbox?cpr=``  what the GP sees: newest versions, corrections marked R, cancellations
* ``GET  /received``    every received transmission with its acknowledgement (for testers; ``?message=true``
                        adds each message as received)

Both read the caller's practice only (``services.lps.gp_view.addressed_to``).
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from nsp_sandbox import fhir_shape as shape
from nsp_sandbox import openapi_description as oa
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.database import Database
from nsp_sandbox.delivery_status import delivery_status, report
from nsp_sandbox.ehmi import receive_message
from nsp_sandbox.fhir_http import BodyTooLarge
from nsp_sandbox.hco_sbdh import CONTENT_TYPE as SBDH_CONTENT_TYPE
from nsp_sandbox.hco_sbdh import Envelope
from nsp_sandbox.hco_terms import SOR_SYSTEM
from nsp_sandbox.message_size import head_message, read_limit
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.sbdh_receipt import ReceiptArrived, build_receipt, requested
from services.lps.access import caller_practice
from services.lps.business_rules import MEDCOM_MSG
from services.lps.gp_view import addressed_to
from services.lps.gp_view import inbox as gp_inbox
from services.lps.inbox import Inbox
from services.lps.message_size import refuse_envelope, too_large
from services.lps.models import EnvelopeRow, ReceivedRow, XmlRow

OBSERVER = "nsp-sandbox LPS (GP system)"
PRACTICES = "a practice of this GP system (GET /lps/practices)"
READ_ERRORS = (AttributeError, TypeError, KeyError, IndexError, ValueError)


def unreadable(exc: Exception) -> FhirError:
    """A message whose shape is too broken to read who sent it: answered here, not acknowledged."""
    return FhirError(422, Issue("error", "structure", f"The message cannot be read far enough to acknowledge it "
                                f"({type(exc).__name__}); validate it against the HCO profile first",
                                expression="Bundle", rule="ehmi-readable", source="MedCom governance 043"))


def received_rows(database: Database, header_id: str | None, practice: str,
                  practices: set[str], with_message: bool = False) -> list[dict[str, Any]]:
    """Every transmission received for ``practice`` (or those of one MessageHeader.id), oldest first, with
    who sent it to whom and when (sandbox clock), its acknowledgement, which of the two travelled in an SBDH
    envelope and in which FHIR format; with ``with_message`` the message itself too (as FHIR JSON), so a
    tester can check what a sender put in it."""
    with database.session() as s:
        query = select(ReceivedRow).where(addressed_to(practice, practices)).order_by(ReceivedRow.pk)
        if header_id:
            query = query.where(ReceivedRow.header_id == header_id)
        rows = list(s.scalars(query))
        # a reused envelope id's receipt is kept as '<id>#reused-<ack id>'; its XML is noted under the id it came as
        sent = {r.bundle_id: r.bundle_id.partition("#reused-")[0] for r in rows}
        ids = [*sent, *sent.values()] + [str(r.ack.get("id")) for r in rows]
        wrapped = set(s.scalars(select(EnvelopeRow.bundle_id).where(EnvelopeRow.bundle_id.in_(ids)))) if rows \
            else set()
        xml = set(s.scalars(select(XmlRow.bundle_id).where(XmlRow.bundle_id.in_(ids)))) if rows else set()
        return [{"bundle_id": r.bundle_id, "header_id": r.header_id, "activity": r.activity, "cpr": r.cpr,
                 "sender_sor": r.sender_sor, "receiver_sor": r.receiver_sor,
                 "received_at": r.received_at.replace(tzinfo=UTC).isoformat(),
                 "envelope": "sbdh" if r.bundle_id in wrapped else "none",
                 "verdict": r.verdict, "ack_code": r.ack_code, "issues": r.issues, "ack": r.ack,
                 "ack_envelope": "sbdh" if str(r.ack.get("id")) in wrapped else "none",
                 "format": "xml" if sent[r.bundle_id] in xml else "json",
                 "ack_format": "xml" if str(r.ack.get("id")) in xml else "json",
                 **({"message": json.loads(r.bundle)} if with_message else {})}
                for r in rows]


async def send_receipt(context: SandboxContext, inbox: Inbox, bundle: dict[str, Any],
                       envelope: Envelope | None) -> str | None:
    """The MSH's envelope receipt, at once, when the envelope asks for one (and the ``receipt`` switch is on),
    to where the acknowledgement goes; what became of it, or None."""
    if envelope is None or not requested(envelope) or not inbox.switches.get()["receipt"]:
        return None
    header = shape.obj((shape.resources(bundle) or [{}])[0])
    by_ref = {f"{r.get('resourceType')}/{r.get('id')}": r for r in shape.resources(bundle)}
    sender_sor = shape.identifiers(by_ref.get(shape.reference(header.get("sender")), {})).get(SOR_SYSTEM, "")
    url = inbox.return_address(shape.text(shape.obj(header.get("source")).get("endpoint")), sender_sor)
    if url is None:
        return None
    body, _ = build_receipt(envelope, context.clock.now(), timeout_ms=context.settings.ehmi_receipt_seconds * 1000)
    try:
        response = await context.peers.client_for_url(url).post(url, content=body,
                                                                headers={"Content-Type": SBDH_CONTENT_TYPE})
    except Exception as exc:  # an unreachable sender must not break the inbox
        return f"receipt to {url} not delivered: {type(exc).__name__}"
    return f"receipt sent to {url}: HTTP {response.status_code}"


async def over_the_limit(context: SandboxContext, inbox: Inbox, exc: BodyTooLarge) -> JSONResponse:
    """A body larger than the inbox reads: a negative acknowledgement to whoever its beginning names, or for
    an SBDH envelope a ReceiptException; only a body that names no one is refused by HTTP alone (413)."""
    limit = context.settings.hco_max_message_bytes
    partial = head_message(exc.head)
    if partial is not None:
        received = await inbox.refuse_unread(partial, too_large(f"over {exc.max_bytes} bytes", limit))
        return JSONResponse(received.to_json(), status_code=202)
    signal = await refuse_envelope(context, exc.head, inbox.return_address)
    issue = too_large(f"over {exc.max_bytes} bytes", limit).issue
    note = f"; {signal}" if signal else "; the beginning names no sender to answer"
    raise FhirError(413, Issue(issue.severity, issue.code, issue.diagnostics + note, "Bundle", issue.source,
                               issue.rule, codings=((MEDCOM_MSG, "MSG_Element_To_Long"),)))


def router(context: SandboxContext, inbox: Inbox) -> APIRouter:
    faces = APIRouter()

    def own_glns() -> set[str]:
        return {p["gln"] for p in inbox.practices()}

    def own_sors() -> set[str]:
        return {p["sor"] for p in inbox.practices()}

    @faces.post("/ehmi", status_code=202, response_class=JSONResponse, responses=oa.errors(413, 415, 422),
                openapi_extra=oa.message_body("An HCO message, bare or in an SBDH envelope"))
    async def ehmi(request: Request) -> JSONResponse:
        try:
            incoming = await receive_message(request, read_limit(context.settings.hco_max_message_bytes),
                                             context.validator.structures, own_glns=own_glns, receivers=PRACTICES)
        except ReceiptArrived as arrived:  # the EOJ's receipt for an acknowledgement's envelope: noted
            return JSONResponse({"verdict": "receipt", "receipt": arrived.receipt.to_json()}, status_code=202)
        except BodyTooLarge as exc:  # answered in the messaging protocol, not with a bare 413
            return await over_the_limit(context, inbox, exc)
        bundle, envelope = incoming.bundle, incoming.envelope
        receipt = await send_receipt(context, inbox, bundle, envelope)
        now, envelope_id = context.clock.now, envelope.instance_identifier if envelope else None
        await report(context.peers, delivery_status("msg-received", bundle, observer=f"{OBSERVER} MSH", now=now(),
                                                    transport_envelope=envelope_id, source_type="MSH"))
        try:
            received = await inbox.receive(incoming.bundle, incoming.envelope, incoming.fhir_format)
        except READ_ERRORS as exc:
            raise unreadable(exc) from None
        if received.ack_code is not None:  # taken in and answered: the GP system is done with it
            await report(context.peers, delivery_status("msg-received-and-finalized", bundle, source_type="EUA",
                                                        observer=f"{OBSERVER} EUA", now=now(),
                                                        transport_envelope=envelope_id))
        if received.ack_code is None and received.verdict != "held":  # nothing to acknowledge: say why
            raise FhirError(422, Issue("error", "processing", f"Not processed ({received.verdict}); acknowledgement: "
                                       f"{received.delivery}", expression="Bundle.entry[0].resource",
                                       rule=f"ehmi-{received.verdict}", source="MedCom governance 043"))
        return JSONResponse({**received.to_json(), **({"receipt": receipt} if receipt else {})}, status_code=202)

    @faces.get("/inbox", responses=oa.errors(401, 403, 503))
    def gp_view(cpr: str, request: Request) -> list[dict[str, Any]]:
        return gp_inbox(context.database, cpr, caller_practice(request), own_sors())

    @faces.get("/received", responses=oa.errors(401, 403, 503))
    def received(request: Request, header_id: str | None = None, message: bool = False) -> list[dict[str, Any]]:
        return received_rows(context.database, header_id, caller_practice(request), own_sors(), message)

    return faces
