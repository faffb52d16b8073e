"""``/patients/{cpr}/conditionlist``: the clinic's whole current diagnosis card (``PUT``) and its status (``GET``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request
from starlette.concurrency import run_in_threadpool

from services.plsp_hub.cards import Cards
from services.plsp_hub.interface import CardIn, CardOut
from services.plsp_hub.nsp import HubNsp
from services.plsp_hub.routes.common import ERRORS, LPS_TAG, ClinicOf


def router(cards: Cards, nsp: HubNsp, clinic_of: ClinicOf) -> APIRouter:
    api = APIRouter()

    @api.put("/patients/{cpr}/conditionlist", response_model=CardOut, tags=LPS_TAG, responses=ERRORS,
             summary="Submit the clinic's whole current diagnosis card for a patient")
    async def put_card(cpr: str, request: Request, card: CardIn = Body(...)) -> dict[str, Any]:
        """Replaces the clinic's previous card. Only approved cards are shared, only their diagnoses on the card
        and not private, never an internal note; only the patient's most recently updated card (of any clinic)
        is shared; an empty card gives no document. The answer says what is shared and why anything is not."""
        clinic = await clinic_of(request)
        patient = await nsp.patient(cpr)
        return await cards.put_card(clinic, patient, card)

    @api.get("/patients/{cpr}/conditionlist", response_model=CardOut, tags=LPS_TAG, responses=ERRORS,
             summary="The clinic's card for a patient: what is shared, and the DDS entry")
    async def get_card(cpr: str, request: Request) -> dict[str, Any]:
        clinic = await clinic_of(request)
        return await run_in_threadpool(cards.card_status, cpr, clinic.sor)

    return api
