"""IHE DSUBm on the FHIR face: ``POST /fhir/Subscription``, ``GET`` and ``DELETE /fhir/Subscription/{id}``.

DDS is the Resource Notification Broker (``services.dds.subscriptions``: what is accepted, who may
subscribe; ``services.dds.notifier``: how notifications are sent). Only a system whose token
carries NSP's right ``dsubm-subscribe`` subscribes; it reads and ends only its own subscriptions
(another caller's id answers 404, as an unknown one). ``DELETE`` here ends a subscription, not a
shared document: documents are never deleted (``never_deleted``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from nsp_sandbox import openapi_description as oa
from nsp_sandbox.fhir_http import FhirJSONResponse, read_fhir_json
from nsp_sandbox.outcome import FhirError, Issue
from nsp_sandbox.tokens import Principal
from services.dds import subscriptions
from services.dds.mhd.deps import Deps
from services.dds.models import SubscriptionRow

SUBSCRIPTION = {oa.FHIR_JSON: oa.fhir_resource("Subscription")}


def router(deps: Deps) -> APIRouter:
    """The Subscription routes (before ``never_deleted``, whose ``DELETE`` takes every other path)."""
    fhir = APIRouter(prefix="/fhir", responses=oa.errors(401, 403, 503))
    store = deps.subscriptions

    async def subscriber(request: Request) -> Principal | None:
        principal = await deps.guard.authenticate(request)
        subscriptions.require_subscriber(principal)
        return principal

    def own(row: SubscriptionRow | None, principal: Principal | None, subscription_id: str) -> SubscriptionRow:
        if row is None or (principal is not None and row.owner != principal.persona):
            raise FhirError(404, Issue("error", "not-found", f"Subscription/{subscription_id} is not known",
                                       rule="dds-subscription-exists", source=subscriptions.SOURCE))
        return row

    @fhir.post("/Subscription", response_class=FhirJSONResponse, responses={
        **oa.answer("The subscription (201 created; 200: the caller's same subscription already existed)",
                    SUBSCRIPTION),
        **oa.answer("Created", SUBSCRIPTION, status=201), **oa.errors(400, 413, 415)},
        openapi_extra=oa.fhir_body("Subscription", xml=False,
                                   description="A DSUBm Subscription: rest-hook, application/fhir+json"))
    async def create_subscription(request: Request) -> Response:
        principal = await subscriber(request)
        body, _ = await read_fhir_json(request, deps.max_body_bytes)
        wanted = subscriptions.accepted(body, principal)
        urls = deps.urls(request)
        row, created = await run_in_threadpool(store.create, wanted, principal.persona if principal else "",
                                               urls.actor, deps.context.clock.now())
        location = f"{urls.fhir}/Subscription/{row.id}"
        return FhirJSONResponse(subscriptions.to_fhir(row, urls.fhir), status_code=201 if created else 200,
                                headers={"Location": location})

    @fhir.get("/Subscription/{subscription_id}", response_class=FhirJSONResponse, responses={
        **oa.answer("The subscription, with its status (error: the last notification failed)", SUBSCRIPTION),
        **oa.errors(404)})
    async def read_subscription(subscription_id: str, request: Request) -> Response:
        principal = await subscriber(request)
        row = own(await run_in_threadpool(store.get, subscription_id), principal, subscription_id)
        return FhirJSONResponse(subscriptions.to_fhir(row, deps.urls(request).fhir))

    @fhir.delete("/Subscription/{subscription_id}", response_class=Response, responses={
        204: {"description": "No Content: the subscription ended"}, **oa.errors(404)})
    async def delete_subscription(subscription_id: str, request: Request) -> Response:
        principal = await subscriber(request)
        row = own(await run_in_threadpool(store.get, subscription_id), principal, subscription_id)
        await run_in_threadpool(store.delete, row)
        return Response(status_code=204)

    return fhir
