"""Journal notes: ``POST /patients/{cpr}/notes`` (a new note), ``GET|PUT /notes/{key}`` (its status, a new
version) and ``POST /notes/{key}/do-not-share`` | ``/share`` | ``/cancel``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request
from starlette.concurrency import run_in_threadpool

from services.plsp_hub.interface import NoteIn, NoteOut, NoteUpdate
from services.plsp_hub.notes import Notes
from services.plsp_hub.nsp import HubNsp
from services.plsp_hub.routes.common import ERRORS, LPS_TAG, ClinicOf


def router(notes: Notes, nsp: HubNsp, clinic_of: ClinicOf) -> APIRouter:
    api = APIRouter()

    @api.post("/patients/{cpr}/notes", response_model=NoteOut, status_code=201, tags=LPS_TAG, responses=ERRORS,
              summary="Create a journal note")
    async def create_note(cpr: str, request: Request, note: NoteIn = Body(...)) -> dict[str, Any]:
        """One note per document. Blank notes are refused (422); HTML is reduced to p, br, b, i, em, u, tt (the
        answer's issues say what was removed); ``do_not_share`` keeps the note from DDS."""
        clinic = await clinic_of(request)
        patient = await nsp.patient(cpr)
        return await notes.create_note(clinic, patient, note)

    @api.get("/notes/{key}", response_model=NoteOut, tags=LPS_TAG, responses=ERRORS, summary="A note's status")
    async def get_note(key: str, request: Request) -> dict[str, Any]:
        clinic = await clinic_of(request)
        return await run_in_threadpool(notes.note_status, clinic.sor, key)

    @api.put("/notes/{key}", response_model=NoteOut, tags=LPS_TAG, responses=ERRORS,
             summary="A new version of a note (a correction)")
    async def update_note(key: str, request: Request, update: NoteUpdate = Body(...)) -> dict[str, Any]:
        """The creation time never changes (sending a different one → 422); the update time must be later than
        the creation and the previous version (→ 422). Only the newest version is served."""
        clinic = await clinic_of(request)
        return await notes.update_note(clinic, key, update)

    @api.post("/notes/{key}/do-not-share", response_model=NoteOut, tags=LPS_TAG, responses=ERRORS,
              summary="Mark a note 'do not share': not served from the next retrieval on")
    async def do_not_share(key: str, request: Request) -> dict[str, Any]:
        clinic = await clinic_of(request)
        return await notes.set_do_not_share(clinic.sor, key, True)

    @api.post("/notes/{key}/share", response_model=NoteOut, tags=LPS_TAG, responses=ERRORS,
              summary="Remove 'do not share': the note is shared again")
    async def share(key: str, request: Request) -> dict[str, Any]:
        clinic = await clinic_of(request)
        return await notes.set_do_not_share(clinic.sor, key, False)

    @api.post("/notes/{key}/cancel", response_model=NoteOut, tags=LPS_TAG, responses=ERRORS,
              summary="Cancel a note: no longer served at once; its content is deleted within 24 hours")
    async def cancel(key: str, request: Request) -> dict[str, Any]:
        clinic = await clinic_of(request)
        return await notes.cancel_note(clinic.sor, key)

    return api
