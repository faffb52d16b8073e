"""The actors the sandbox serves, each mounted under its own path in one process."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI

from nsp_sandbox.context import SandboxContext


@dataclass(frozen=True)
class Actor:
    prefix: str  # mount path, e.g. "/dds"
    module: str  # module with ``create_app(context) -> FastAPI``
    title: str
    summary: str
    entry: str  # the path a person or client starts from, under the prefix

    @property
    def name(self) -> str:
        return self.prefix.strip("/")

    def factory(self) -> Callable[[SandboxContext], FastAPI] | None:
        try:
            module = importlib.import_module(self.module)
        except ModuleNotFoundError as exc:
            if exc.name and self.module.startswith(exc.name):
                return None  # actor not built into this installation
            raise
        return module.create_app


ACTORS: tuple[Actor, ...] = (
    Actor("/dds", "services.dds.app", "DDS — DokumentDelingsServicen",
          "National document registry and repository; IHE MHD (ITI-65/66/67/68, RMU)", "/fhir/metadata"),
    Actor("/nsp", "services.nsp.app", "NSP platform services",
          "STS, consent (Min Spærring), treatment relations, Min Log", "/"),
    Actor("/plsp", "services.plsp_hub.app", "PLSP Health Hub",
          "Diagnosis cards and journal notes from GP systems, shared on demand", "/"),
    Actor("/eoj", "services.eoj_sender.app", "EOJ — municipal EHR",
          "Sends HomeCareObservation messages and shares them to DDS", "/"),
    Actor("/lps", "services.lps.app", "LPS — GP system",
          "EHMI inbox with MedCom acknowledgements", "/"),
    Actor("/eds", "services.eds.app", "EDS — EHMI Delivery Status",
          "Track and trace: the delivery-status AuditEvents of every EHMI station", "/"),
    Actor("/view", "services.sundhed_view.app", "Sundhed.dk",
          "What citizens, relatives and health professionals see", "/"),
    Actor("/conformance", "services.conformance.app", "Conformance engine",
          "FHIR $validate against the loaded MedCom profiles", "/"),
)
