"""LPS — the GP system emulator, mounted at ``/lps``:

* ``POST /ehmi``              the EHMI inbox: an HCO message in — bare FHIR JSON, or wrapped in an SBDH
                              envelope (XML) addressed ``0088:<GLN>`` of one of its practices — and a
                              MedCom Acknowledgement out (to the message's ``source.endpoint``, the same
                              way the message came); the HTTP answer says what happened
* ``GET  /inbox?cpr=``        what the GP sees: newest versions, corrections marked R, cancellations
* ``GET  /received``          every received transmission with its acknowledgement (for testers)
* ``GET|PUT /switches``       behaviour: mode normal/ok/fatal/transient, withhold, twice, delay_minutes
* ``POST /outbox/deliver``    refuse held corrections whose original did not come in time, and send
                              the delayed acknowledgements that are due (sandbox clock)
* ``GET  /practices``         the GP practices this system receives for
* ``PUT  /return-addresses``  ``{"sor", "url"}``: where acks for a SOR-addressed sender go
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fhir_http import install_error_handlers, read_body, read_fhir_json, read_json_object
from nsp_sandbox.hco_sbdh import EnvelopeError, consistency, is_sbdh, unwrap
from nsp_sandbox.outcome import FhirError, Issue
from services.lps.gp_view import inbox as gp_inbox
from services.lps.inbox import Inbox
from services.lps.models import EnvelopeRow, LpsBase, ReceivedRow, SettingRow
from services.lps.switches import Switches

MAX_SETTING = 16 * 1024


def create_app(context: SandboxContext) -> FastAPI:
    context.database.create_tables(LpsBase.metadata)
    switches = Switches(context.database)
    inbox = Inbox(context, switches)

    app = FastAPI(title="LPS — GP system (HomeCareObservation inbox)", docs_url="/docs", openapi_url="/openapi.json")
    install_error_handlers(app)

    @app.get("/")
    def index() -> dict[str, Any]:
        return {"actor": "LPS", "faces": ["/ehmi", "/inbox?cpr=", "/received", "/switches", "/outbox/deliver",
                                          "/practices", "/return-addresses"]}

    @app.post("/ehmi")
    async def ehmi(request: Request) -> JSONResponse:
        envelope = None
        if is_sbdh(request.headers.get("content-type", "")):
            try:
                envelope = unwrap(await read_body(request, context.settings.max_body_bytes))
            except EnvelopeError as exc:
                raise FhirError(400, exc.issues) from None
            mine = {p["gln"] for p in inbox.practices()}
            if envelope.receiver_gln not in mine:
                raise FhirError(400, Issue("error", "not-found", f"The envelope is addressed to 0088:"
                                           f"{envelope.receiver_gln}, which is not a practice of this GP system "
                                           "(GET /lps/practices)", expression="StandardBusinessDocument/"
                                           "StandardBusinessDocumentHeader/Receiver/Identifier",
                                           rule="ehmi-sbdh-receiver", source="EHMI SBDH profile (dk-ehmi-sbdh)"))
            problems = consistency(envelope)
            if problems:
                raise FhirError(400, problems)
            bundle = envelope.bundle
        else:
            bundle, _ = await read_fhir_json(request, context.settings.max_body_bytes)
        try:
            received = await inbox.receive(bundle, envelope)
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
            raise unreadable(exc) from None
        if received.ack_code is None and received.verdict != "held":  # nothing to acknowledge: say why
            raise FhirError(422, Issue("error", "processing", f"Not processed ({received.verdict}); acknowledgement: "
                                       f"{received.delivery}", expression="Bundle.entry[0].resource",
                                       rule=f"ehmi-{received.verdict}", source="MedCom governance 043"))
        return JSONResponse(received.to_json(), status_code=202)

    @app.get("/inbox")
    def gp_view(cpr: str) -> list[dict[str, Any]]:
        return gp_inbox(context.database, cpr)

    @app.get("/received")
    def received(header_id: str | None = None) -> list[dict[str, Any]]:
        with context.database.session() as s:
            query = select(ReceivedRow).order_by(ReceivedRow.pk)
            if header_id:
                query = query.where(ReceivedRow.header_id == header_id)
            rows = list(s.scalars(query))
            ids = [r.bundle_id for r in rows] + [str(r.ack.get("id")) for r in rows]
            wrapped = set(s.scalars(select(EnvelopeRow.bundle_id).where(EnvelopeRow.bundle_id.in_(ids)))) if rows \
                else set()
            return [{"bundle_id": r.bundle_id, "header_id": r.header_id, "activity": r.activity, "cpr": r.cpr,
                     "envelope": "sbdh" if r.bundle_id in wrapped else "none",
                     "verdict": r.verdict, "ack_code": r.ack_code, "issues": r.issues, "ack": r.ack,
                     "ack_envelope": "sbdh" if str(r.ack.get("id")) in wrapped else "none"}
                    for r in rows]

    @app.get("/switches")
    def get_switches() -> dict[str, Any]:
        return switches.get()

    @app.put("/switches")
    async def put_switches(request: Request) -> dict[str, Any]:
        return switches.set(await read_json_object(request, MAX_SETTING))

    @app.post("/outbox/deliver")
    async def deliver() -> dict[str, Any]:
        released = await inbox.release_expired()
        return {"released": released, "delivered": await inbox.deliver_due()}

    @app.get("/practices")
    def practices() -> list[dict[str, str]]:
        return inbox.practices()

    @app.put("/return-addresses")
    async def return_address(request: Request) -> dict[str, Any]:
        body = await read_json_object(request, MAX_SETTING)
        sor, url = body.get("sor"), body.get("url")
        if not (isinstance(sor, str) and sor.isdigit() and isinstance(url, str)
                and url.startswith(("http://", "https://"))):
            raise FhirError(422, Issue("error", "value", "Send {\"sor\": \"<SOR code>\", \"url\": \"http(s)://…\"}",
                                       rule="lps-return-address"))
        with context.database.session() as s:
            row = s.get(SettingRow, f"return-address:{sor}")
            if row is None:
                s.add(SettingRow(key=f"return-address:{sor}", value={"url": url}))
            else:
                row.value = {"url": url}
        return {"sor": sor, "url": url}

    return app


def unreadable(exc: Exception) -> FhirError:
    """A message whose shape is too broken to read who sent it: answered here, not acknowledged."""
    return FhirError(422, Issue("error", "structure", f"The message cannot be read far enough to acknowledge it "
                                f"({type(exc).__name__}); validate it against the HCO profile first",
                                expression="Bundle", rule="ehmi-readable", source="MedCom governance 043"))
