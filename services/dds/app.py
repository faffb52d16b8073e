"""DDS — DokumentDelingsServicen: the national document registry and repository, IHE MHD face.

Mounted at ``/dds``; the FHIR R4 base is ``/dds/fhir`` (``application/fhir+json``). One router per
transaction, each in the module named for it under ``services.dds.mhd``:

* ``GET  /fhir/metadata``                      CapabilityStatement (``capability``)
* ``POST /fhir``                               ITI-65 Provide Document Bundle (transaction) (``iti65``)
* ``GET  /fhir/DocumentReference``             ITI-67 Find Document References (also ``POST …/_search``)
* ``GET  /fhir/DocumentReference/{id}``        read (``iti67``)
* ``PUT  /fhir/DocumentReference/{id}``        ITI-92 RMU: status-only update (``rmu``)
* ``GET  /fhir/List``                          ITI-66 Find Document Lists (also ``POST …/_search``)
* ``GET  /fhir/List/{id}``                     read (``iti66``)
* ``GET  /documents/{id}``                     ITI-68 Retrieve Document (the ``attachment.url``); for an
  on-demand entry DDS asks its source to generate the document (``services.dds.on_demand``) (``iti68``)
* ``POST /fhir/Subscription``, ``GET|DELETE /fhir/Subscription/{id}``  IHE DSUBm: DDS as Resource
  Notification Broker (``subscription``; ``services.dds.subscriptions``, ``services.dds.notifier``)
* ``DELETE`` anything else                     405: shared documents are never deleted (``never_deleted``)
* ``GET  /requests``                           the request log: what DDS received and answered, for the
  operator (``request_log``, ``request_log_http``)

The IHE XDS.b SOAP face (DGWS-secured, ``services.dds.xds``) serves the same store:

* ``POST /ddsregistry``                        ITI-18 Registry Stored Query, DGWS + HSUID (``xds.iti18``)
* ``POST /ddsrepository``                      ITI-43 Retrieve Document Set, DGWS + HSUID, MTOM (``xds.iti43``)
* ``POST /drs/proxy``                          ITI-41 Provide and Register Document Set-b, DGWS (``xds.iti41``)
* ``POST /ddsregistry/metadataupdate``         ITI-57 Update Document Set, DGWS (``xds.iti57``)
* ``POST /dros``                               DROS: ITI-41, ITI-57, ITI-61 Register On-Demand, DGWS (``xds.dros``)

Every face but ``metadata`` and ``DELETE`` needs a token from NSP's STS; reads are subject to the
access rules in ``services.dds.access`` (who reads whose documents, treatment relations, blocks,
værdispring, Min Log, name and address protection), all through one guarded read
(``services.dds.access.guard``).
"""

from __future__ import annotations

from fastapi import FastAPI

from nsp_sandbox.actor_reset import reset_router
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fastapi_telemetry import telemetry_options
from nsp_sandbox.fhir_http import install_error_handlers
from services.dds.mhd import capability, iti65, iti66, iti67, iti68, never_deleted, rmu, subscription
from services.dds.mhd.deps import Deps
from services.dds.models import DdsBase
from services.dds.request_log import RequestLog
from services.dds.request_log_http import RequestLogMiddleware
from services.dds.request_log_http import router as request_log_router
from services.dds.xds import dros, iti18, iti41, iti43, iti57


def create_app(context: SandboxContext) -> FastAPI:
    """The DDS actor over ``context`` (its tables are created here if missing)."""
    deps = Deps.build(context)
    app = FastAPI(title="DDS — DokumentDelingsServicen (IHE MHD)", docs_url="/docs", openapi_url="/openapi.json",
                  **telemetry_options())
    install_error_handlers(app)
    app.state.registry = deps.registry
    # The order of the routers is the order routes are matched in: each router tried costs every request after it
    # some microseconds, so the busiest come first (ITI-68's paths are its own, ITI-65's and ITI-67's come before
    # the other methods on them). Of two routers with one path, the first decides the Allow of a 405.
    for router in (iti68.router(deps), iti65.router(deps), iti67.router(deps), capability.router(deps),
                   rmu.router(deps), iti66.router(deps), subscription.router(deps), never_deleted.router()):
        app.include_router(router)
    # The XDS.b SOAP face (services.dds.xds): the same store, rules, guard and Min Log.
    for router in (iti18.router(deps), iti43.router(deps), iti41.router(deps), iti57.router(deps),
                   dros.router(deps)):
        app.include_router(router)
    # What DDS received and answered, for conformance runs (services.dds.request_log); operator only.
    log = RequestLog(context.database, shared=context.workers > 1)
    log.create_table()
    context.stoppers.append(log.close)
    app.include_router(request_log_router(context, log))
    app.add_middleware(RequestLogMiddleware, context=context, log=log)
    # A reset empties the registry but keeps the DSUBm subscriptions: they are the connected systems'
    # registrations (the viewer subscribes once, at its start), not shared data; their queued events go.
    # The requests the log has queued are written first, so the reset empties them too.
    app.include_router(reset_router("dds", context.database, [DdsBase.metadata], context.settings,
                                    keep=("dds_subscription",), before=log.write_queued))
    return app
