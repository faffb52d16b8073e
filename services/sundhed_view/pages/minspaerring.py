"""Min Spærring, the citizen's consent items at NSP (dds-nsp.md §2.1): ``GET /minspaerring`` lists
them with the form, ``POST /minspaerring`` adds one — a block (negative) or a consent (positive,
with an end date), for everyone or one professional, on all data or on data from a treatment place
(optionally with its sub-units), optionally for a data period — and ``POST
/minspaerring/{id}/tilbagekald`` revokes one. A professional is sent home."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from nsp_sandbox import openapi_description as oa
from services.sundhed_view.dds import Refused
from services.sundhed_view.session import Session
from services.sundhed_view.site import Pages, citizen_only, read_form


async def blocks_page(pages: Pages, request: Request, session: Session, status: int = 200,
                      error: str | None = None, form: Any = None) -> Response:
    """The consent items of the citizen the session acts for (NSP names whom they concern, which
    treatment place's data and who registered them) and the form to add one (refilled with
    ``form`` after an error)."""
    cpr = session.acting or session.cpr or ""
    try:
        blocks = await pages.nsp.blocks(session.token, cpr)
    except Refused as refused:
        return await pages.refused(request, session, cpr, refused)
    personas = await pages.nsp.personas()
    professionals = [p for p in personas if p["kind"] == "professional"]
    organisations = sorted({(p["organisation"], p["organisation_name"]) for p in professionals
                            if p.get("organisation")}, key=lambda o: o[1])
    return await pages.render(request, "blocks.html", session, status=status, cpr=cpr, blocks=blocks,
                              professionals=professionals, organisations=organisations, error=error, form=form or {},
                              citizen=(await pages.names()).get(cpr), section="minspaerring")


def block_request(session: Session, form: dict[str, str]) -> dict[str, Any]:
    """The NSP consent item the add form asks for (NSP judges it: 400/403/422 with the reason)."""
    who_type = str(form.get("who_type", ""))
    body: dict[str, Any] = {"cpr": session.acting or session.cpr, "kind": str(form.get("kind") or "negative"),
                            "who": {"type": who_type}}
    if who_type == "professional":
        body["who"]["id"] = str(form.get("professional", ""))
    if form.get("what_type") == "organisation":
        body["what"] = {"type": "organisation",
                        "id": str(form.get("organisation_sor") or form.get("organisation") or "").strip(),
                        "include_sub_units": form.get("include_sub_units") == "ja"}
    for name in ("valid_from", "valid_to", "data_from", "data_to"):
        if form.get(name):
            body[name] = str(form.get(name))
    return body


MINSPAERRING_FORM = oa.form_body("csrf", "kind", "who_type", "professional", "what_type", "organisation",
                                 "organisation_sor", "include_sub_units")

def router(pages: Pages) -> APIRouter:
    web = APIRouter()

    @web.get("/minspaerring", response_class=HTMLResponse)
    async def blocks(request: Request) -> Response:
        session = await pages.session(request)
        if session.is_professional:
            return pages.redirect(request, "/hjem")
        return await blocks_page(pages, request, session)

    @web.post("/minspaerring", response_class=HTMLResponse, openapi_extra=MINSPAERRING_FORM)
    async def add_block(request: Request) -> Response:
        session = await pages.session(request)
        citizen_only(session)
        form = await read_form(request)
        pages.check_csrf(session, form)
        body = block_request(session, form)
        try:
            await pages.nsp.add_block(session.token, body)
        except Refused as refused:
            if refused.status in (400, 422):
                return await blocks_page(pages, request, session, 400,
                                         f"Spærringen blev ikke oprettet: {refused.text}", form)
            return await pages.refused(request, session, str(body["cpr"]), refused)
        return pages.redirect(request, "/minspaerring?oprettet=1")

    @web.post("/minspaerring/{block_id}/tilbagekald", response_class=HTMLResponse, openapi_extra=oa.form_body("csrf"))
    async def revoke_block(block_id: str, request: Request) -> Response:
        session = await pages.session(request)
        citizen_only(session)
        form = await read_form(request)
        pages.check_csrf(session, form)
        try:
            await pages.nsp.revoke_block(session.token, block_id)
        except Refused as refused:
            return await pages.refused(request, session, session.acting or "", refused)
        return pages.redirect(request, "/minspaerring?tilbagekaldt=1")

    return web
