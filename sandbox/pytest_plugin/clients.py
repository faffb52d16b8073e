"""Ready clients of the sandbox's actors, each acting as one persona with its token from NSP's STS.

They are thin: one method per HTTP call of the actor's face (docs/dds.md, docs/hco.md), answering the
``httpx.Response`` as it came, so a test asserts on status and body as the vendor's own system would
see them. The PLSP hub's client is the project's typed one (:mod:`nsp_sandbox.plsp_client`).
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx2 as httpx

from nsp_sandbox.cpr import CPR_SYSTEM
from sandbox.pytest_plugin.control import Operator
from sandbox.pytest_plugin.tokens import Tokens

FHIR_JSON = "application/fhir+json"
EOJ_PERSONA = "system-eoj-aarhus"  # the sandbox EOJ's own system persona (NSP_SANDBOX_EOJ_PERSONA's default)
GP_PERSONA = "gp-skodstrup"  # a GP of Skødstrup Lægepraksis, a practice of the sandbox's GP system


class Mhd:
    """An IHE MHD Document Source and Consumer at DDS (``/dds/fhir``), as ``persona`` (audience ``dds``)."""

    base = "/dds/fhir"

    def __init__(self, tokens: Tokens, persona: str) -> None:
        self.tokens = tokens
        self.persona = persona

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.tokens.request(self.persona, "dds", method, url, **kwargs)

    def provide(self, bundle: dict[str, Any]) -> httpx.Response:
        """ITI-65: ``POST /dds/fhir`` with a transaction Bundle."""
        return self._call("POST", self.base, content=json.dumps(bundle).encode(),
                          headers={"Content-Type": FHIR_JSON})

    def find(self, patient_cpr: str, **params: str) -> httpx.Response:
        """ITI-67: ``GET /dds/fhir/DocumentReference?patient.identifier=<CPR>&…`` (``status="current"``,
        ``_count="10"``; names FHIR spells otherwise as ``**{"type:text": …}``)."""
        query = {"patient.identifier": f"{CPR_SYSTEM}|{patient_cpr}", **params}
        return self._call("GET", f"{self.base}/DocumentReference", params=query)

    def find_lists(self, patient_cpr: str, **params: str) -> httpx.Response:
        """ITI-66: ``GET /dds/fhir/List?patient.identifier=<CPR>&…`` (the SubmissionSets)."""
        query = {"patient.identifier": f"{CPR_SYSTEM}|{patient_cpr}", **params}
        return self._call("GET", f"{self.base}/List", params=query)

    def read(self, entry_id: str) -> httpx.Response:
        """``GET /dds/fhir/DocumentReference/{id}``."""
        return self._call("GET", f"{self.base}/DocumentReference/{entry_id}")

    def retrieve(self, url: str) -> httpx.Response:
        """ITI-68: ``GET`` a DocumentReference's ``content[0].attachment.url``."""
        return self._call("GET", url)

    def deprecate(self, document_reference: dict[str, Any], status: str = "entered-in-error") -> httpx.Response:
        """ITI-92 (RMU): ``PUT /dds/fhir/DocumentReference/{id}`` with the entry as served, changed only in
        ``status``."""
        changed = {**document_reference, "status": status}
        return self._call("PUT", f"{self.base}/DocumentReference/{changed['id']}",
                          content=json.dumps(changed).encode(), headers={"Content-Type": FHIR_JSON})


class HcoSender:
    """The sandbox's EOJ ordering HomeCareObservation messages (``/eoj``), as ``persona`` (audience ``eoj``):
    the EOJ's own system or a professional of its municipality."""

    def __init__(self, tokens: Tokens, persona: str = EOJ_PERSONA) -> None:
        self.tokens = tokens
        self.persona = persona

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.tokens.request(self.persona, "eoj", method, url, **kwargs)

    def order(self, order: dict[str, Any]) -> httpx.Response:
        """``POST /eoj/hco``: a simple order becomes a message sent to the GP it names (201, its status)."""
        return self._call("POST", "/eoj/hco", json=order)

    def modify(self, header_id: str, changes: dict[str, Any]) -> httpx.Response:
        """``POST /eoj/hco/{id}/modify``: a ``modified-message`` (changed observations, comments, …)."""
        return self._call("POST", f"/eoj/hco/{header_id}/modify", json=changes)

    def retract(self, header_id: str, reason: str | None = None) -> httpx.Response:
        """``POST /eoj/hco/{id}/retract``: a ``retract-message`` with ``reason`` (the EOJ's default without)."""
        return self._call("POST", f"/eoj/hco/{header_id}/retract", json={"reason": reason} if reason else {})

    def send(self, message: dict[str, Any], *, receiver: str | None = None,
             version: str | None = None) -> httpx.Response:
        """``POST /eoj/messages``: a ready-made HCO message Bundle sent as it is."""
        params = {k: v for k, v in (("receiver", receiver), ("version", version)) if v}
        return self._call("POST", "/eoj/messages", params=params, content=json.dumps(message).encode(),
                          headers={"Content-Type": FHIR_JSON})

    def status(self, header_id: str) -> httpx.Response:
        """``GET /eoj/hco/{id}``: the chain, the acknowledgement (``ack``, ``ack_log``), resends, receipts,
        the DDS copy."""
        return self._call("GET", f"/eoj/hco/{header_id}")

    def resend(self, header_id: str) -> httpx.Response:
        return self._call("POST", f"/eoj/hco/{header_id}/resend")

    def resend_due(self) -> httpx.Response:
        return self._call("POST", "/eoj/hco/resend-due")

    def wait_for_ack(self, header_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The message's status once its acknowledgement is in (``ack`` no longer ``pending``); a receiving
        GP system may answer after the order returned. :class:`TimeoutError` when it does not."""
        deadline = time.monotonic() + timeout
        while True:
            response = self.status(header_id)
            response.raise_for_status()
            status: dict[str, Any] = response.json()
            if status.get("ack") != "pending":
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"no acknowledgement of {header_id} within {timeout:.0f} s")
            time.sleep(0.1)


class GpInbox:
    """What the sandbox's GP system received (``/lps``), as ``persona`` (audience ``lps``): a GP of one of
    its practices (each sees its own practice's messages) or that practice's GP system."""

    def __init__(self, tokens: Tokens, operator: Operator, persona: str = GP_PERSONA) -> None:
        self.tokens = tokens
        self.operator = operator
        self.persona = persona

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.tokens.request(self.persona, "lps", method, url, **kwargs)

    def inbox(self, cpr: str) -> httpx.Response:
        """``GET /lps/inbox?cpr=``: what the GP sees, one item per message chain (its newest version)."""
        return self._call("GET", "/lps/inbox", params={"cpr": cpr})

    def received(self, header_id: str | None = None) -> httpx.Response:
        """``GET /lps/received``: every transmission with the acknowledgement it got."""
        return self._call("GET", "/lps/received", params={"header_id": header_id} if header_id else None)

    def practices(self) -> httpx.Response:
        """``GET /lps/practices`` (open)."""
        return self.operator.http.get("/lps/practices")

    def deliver(self) -> Any:
        """``POST /lps/outbox/deliver`` (the operator's): send the delayed acknowledgements that are due,
        refuse held corrections whose time is up."""
        return self.operator.call("POST", "/lps/outbox/deliver", "deliver the GP inbox's outbox")
