"""The EOJ's endpoint register, shaped like EHMI's EER: per receiving organisation its SOR and GLN,
its ydernummer, the URL messages are posted to, the message types it takes, the envelope messages
travel in (``none``: bare FHIR JSON; ``sbdh``: EHMI's SBDH envelope addressed ``0088:<GLN>``) and the
HomeCareObservation IG version it takes (``hco_version``: ``1.1`` / ``1.2``; null: the setting
``NSP_SANDBOX_HCO_VERSION``).

Seeded with the sandbox's own GP system emulator (Skødstrup Lægepraksis) and with every requesting
GP organisation that occurs in the official HCO examples (read from the loaded package), all at the
GP emulator's inbox, so those examples can be sent as they are. Editable: a vendor registers its own.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from nsp_sandbox import hco_versions
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.digits import all_digits
from nsp_sandbox.hco_examples import REQUESTER_PROFILE, example_organisations
from nsp_sandbox.hco_terms import HCO_EVENT, valid_gln
from nsp_sandbox.outcome import FhirError, Issue
from services.eoj_sender.models import EndpointRow

SOURCE = "EHMI EER (endpoint register)"
ENVELOPES = ("none", "sbdh")
SANDBOX_GP = {"sor": "52581000016005", "gln": "5790001234560", "ydernummer": "012345",
              "name": "Skødstrup Lægepraksis"}


def _hco_version(value: Any) -> bool:
    try:
        return isinstance(value, str) and bool(hco_versions.family(value))
    except hco_versions.UnknownVersion:
        return False


def example_gps(context: SandboxContext) -> list[dict[str, str]]:
    """The requesting GP organisations of the official HCO examples."""
    return [gp for gp in example_organisations(context.packages, REQUESTER_PROFILE) if gp["ydernummer"]]


def _json(row: EndpointRow) -> dict[str, Any]:
    return {"sor": row.sor, "gln": row.gln, "ydernummer": row.ydernummer, "name": row.name, "url": row.url,
            "message_types": row.message_types, "envelope": "sbdh" if row.sbdh else "none",
            "hco_version": row.hco_version}


class EndpointRegister:
    def __init__(self, context: SandboxContext) -> None:
        self._context = context
        self._seeded = False
        self._lock = threading.Lock()

    def _seed(self) -> None:
        with self._lock:
            if self._seeded:
                return
            inbox = f"{self._context.peers.url('lps')}/ehmi"
            for gp in [*example_gps(self._context), SANDBOX_GP]:  # the examples name Skødstrup too
                try:
                    with self._context.database.session() as s:
                        if s.scalar(select(EndpointRow).where(EndpointRow.sor == gp["sor"])) is None:
                            s.add(EndpointRow(url=inbox, message_types=[HCO_EVENT], sbdh=False, **gp))
                except IntegrityError:
                    pass  # another worker seeded it
            self._seeded = True

    def seed_again(self) -> None:
        """After the register was emptied (``POST /eoj/sandbox/reset``): seed it as at the first start."""
        with self._lock:
            self._seeded = False
        self._seed()

    def all(self) -> list[dict[str, Any]]:
        self._seed()
        with self._context.database.session() as s:
            return [_json(r) for r in s.scalars(select(EndpointRow).order_by(EndpointRow.pk))]

    def find(self, key: str) -> dict[str, Any] | None:
        """The endpoint of the organisation with SOR or GLN ``key``."""
        self._seed()
        with self._context.database.session() as s:
            row = s.scalar(select(EndpointRow).where((EndpointRow.sor == key) | (EndpointRow.gln == key)))
            return _json(row) if row else None

    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        """Register or change the endpoint of one organisation (keyed by SOR)."""
        self._seed()
        problems = []
        for field in ("sor", "gln", "ydernummer", "name", "url"):
            if not isinstance(body.get(field), str) or not body[field]:
                problems.append(Issue("error", "required", f"'{field}' is required (a string)", expression=field,
                                      rule="eer-endpoint", source=SOURCE))
        if not problems:
            if not (all_digits(body["sor"]) and len(body["sor"]) >= 11):
                problems.append(Issue("error", "value", "A SOR code has at least 11 digits", expression="sor",
                                      rule="dk-core-sor", source=SOURCE))
            if not valid_gln(body["gln"]):
                problems.append(Issue("error", "value", "A GLN has 13 digits with a GS1 mod-10 check digit",
                                      expression="gln", rule="dk-core-gln", source=SOURCE))
            if not body["url"].startswith(("http://", "https://")):
                problems.append(Issue("error", "value", "The endpoint is an http(s) URL", expression="url",
                                      rule="eer-endpoint", source=SOURCE))
        types = body.get("message_types", [HCO_EVENT])
        if not (isinstance(types, list) and all(isinstance(t, str) for t in types)):
            problems.append(Issue("error", "value", "'message_types' is a list of event codes",
                                  expression="message_types", rule="eer-endpoint", source=SOURCE))
        envelope = body.get("envelope", "none")
        if envelope not in ENVELOPES:
            problems.append(Issue("error", "value", f"'envelope' is one of {', '.join(ENVELOPES)}",
                                  expression="envelope", rule="eer-endpoint", source=SOURCE))
        version = body.get("hco_version")
        if version is not None and not _hco_version(version):
            problems.append(Issue("error", "value", "'hco_version' is the HomeCareObservation IG version the "
                                  "organisation takes: 1.1 or 1.2 (or a release such as 1.1.0), or null",
                                  expression="hco_version", rule="eer-endpoint", source=SOURCE))
        if problems:
            raise FhirError(422, problems)
        with self._context.database.writing("eoj-endpoints") as s:  # one change of the register at a time
            row = s.scalar(select(EndpointRow).where(EndpointRow.sor == body["sor"]))
            clash = s.scalar(select(EndpointRow).where(EndpointRow.gln == body["gln"]))
            if clash is not None and clash is not row:
                raise FhirError(409, Issue("error", "duplicate", f"GLN {body['gln']} belongs to SOR {clash.sor}",
                                           expression="gln", rule="eer-one-gln-per-sor", source=SOURCE))
            if row is None:
                row = EndpointRow(sor=body["sor"])
                s.add(row)
            row.gln, row.ydernummer, row.name, row.url = body["gln"], body["ydernummer"], body["name"], body["url"]
            row.message_types, row.sbdh, row.hco_version = types, envelope == "sbdh", version
            s.flush()
            return _json(row)
