"""A DSUBm Resource Notification Recipient for the tests: a small app mounted in the sandbox (so DDS
reaches it over HTTP in process) that records each notification, and can be told to fail."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.testclient import TestClient
from sts_client import auth

from nsp_sandbox.peers import IN_PROCESS_ORIGIN

SUBSCRIBER = "system-sundhed-dk"  # a system NSP grants dsubm-subscribe
MULTI_PATIENT = ("https://profiles.ihe.net/ITI/DSUBm/SubscriptionTopic/"
                 "DSUBm-SubscriptionTopic-DocumentReference-MultiPatient")
PATIENT_DEPENDENT = ("https://profiles.ihe.net/ITI/DSUBm/SubscriptionTopic/"
                     "DSUBm-SubscriptionTopic-DocumentReference-PatientDependent")
FILTER = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition/backport-filter-criteria"
FHIR_JSON = "application/fhir+json"


class Recipient:
    """Mounted at ``/{name}``; ``failing`` answers 500 to that many notifications first; :meth:`hold` keeps
    the next notifications waiting for an answer until :meth:`release`."""

    def __init__(self, client: TestClient, name: str = "recipient") -> None:
        self.received: list[dict[str, Any]] = []
        self.authorisations: list[str | None] = []
        self.failing = 0
        self.attempts = 0
        self.waiting = 0  # notifications held now
        self._gate = threading.Event()
        self._gate.set()
        self._lock = threading.Lock()
        app = FastAPI()

        @app.post("/notify")
        async def notify(request: Request) -> Response:
            body = await request.json()
            if not self._gate.is_set():
                with self._lock:
                    self.waiting += 1
                await asyncio.to_thread(self._gate.wait, 30)
                with self._lock:
                    self.waiting -= 1
            with self._lock:
                self.attempts += 1
                if self.failing > 0:
                    self.failing -= 1
                    return Response(status_code=500)
                self.received.append(body)
                self.authorisations.append(request.headers.get("authorization"))
            return Response(status_code=200)

        client.app.mount(f"/{name}", app)
        self.endpoint = f"{IN_PROCESS_ORIGIN}/{name}/notify"

    def hold(self) -> None:
        self._gate.clear()

    def release(self) -> None:
        self._gate.set()

    def focus_ids(self) -> list[str]:
        """The DocumentReference ids of every notification received, in order."""
        with self._lock:
            return [e["resource"]["id"] for bundle in self.received for e in bundle["entry"]
                    if e["resource"]["resourceType"] == "DocumentReference"]


def subscription(endpoint: str, criteria: str = MULTI_PATIENT, patient_filter: str | None = None,
                 **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"resourceType": "Subscription", "status": "requested", "reason": "test",
                            "criteria": criteria,
                            "channel": {"type": "rest-hook", "endpoint": endpoint, "payload": FHIR_JSON}}
    if patient_filter is not None:
        body["_criteria"] = {"extension": [{"url": FILTER, "valueString": patient_filter}]}
    body.update(changes)
    return body


def subscribe(client: TestClient, body: dict[str, Any], persona: str = SUBSCRIBER) -> Any:
    return client.post("/dds/fhir/Subscription", json=body,
                       headers={"Content-Type": FHIR_JSON, **auth(client, persona, "dds")})


def wait_for(condition: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Wait until ``condition()`` is true (the notifications are sent by a background thread)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.02)
