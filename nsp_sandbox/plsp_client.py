"""A GP system's client of the PLSP Health Hub's LPS interface (``/plsp``), over HTTP only.

A reference for vendors and what the demos and tests use::

    http = httpx.Client(base_url="http://localhost:8080")
    plsp = PlspClient.for_persona(http, "system-lps-skodstrup")   # the clinic's GP-system persona
    plsp.put_card("2509479989", {"diagnoses": [diagnosis("dx-1", "current", sks="DE119a", icpc2="T90",
                                                         text="Type 2-diabetes", recorded="2019-03-04")],
                                 "approval": approval("SK7T1", ["Lars"], "Lund", "2026-05-06T11:20:00+02:00")})
    plsp.create_note("2509479989", note("note-1", "2026-05-05T10:11:00+02:00", "BT 138/82 mmHg"))

The token comes from NSP's STS (audience ``plsp``) and is fetched again when the hub answers 401
(tokens are short-lived on the sandbox clock). Every answer that is not 2xx raises
:class:`PlspError` with the hub's OperationOutcome.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

import httpx2 as httpx


class Practitioner(TypedDict):
    identifier: str
    given: list[str]
    family: str
    identifier_system: NotRequired[str]


class Approval(TypedDict):
    by: Practitioner
    at: str


class Diagnosis(TypedDict):
    key: str
    status: str  # current | relevant
    recorded: str
    icpc2: NotRequired[str | None]
    sks: NotRequired[str | None]
    text: NotRequired[str | None]
    type: NotRequired[str | None]  # problem-list-item | encounter-diagnosis
    onset: NotRequired[str | None]
    abatement: NotRequired[str | None]
    on_card: NotRequired[bool]
    private: NotRequired[bool]
    internal_note: NotRequired[str | None]


class Card(TypedDict):
    diagnoses: list[Diagnosis]
    approval: NotRequired[Approval | None]
    updated: NotRequired[str | None]


class Author(TypedDict, total=False):
    practitioner: Practitioner | None
    role_code: str | None
    role_text: str | None


class Note(TypedDict):
    key: str
    created: str
    body: str
    format: NotRequired[str]  # text | html
    updated: NotRequired[str | None]
    ended: NotRequired[str | None]
    author: NotRequired[Author | None]
    do_not_share: NotRequired[bool]


def diagnosis(key: str, status: str, *, recorded: str, **fields: Any) -> Diagnosis:
    """A diagnosis; ``fields``: icpc2, sks, text, type, onset, abatement, on_card, private, internal_note."""
    return Diagnosis(key=key, status=status, recorded=recorded, **fields)  # type: ignore[typeddict-item]


def practitioner(identifier: str, given: list[str], family: str) -> Practitioner:
    return Practitioner(identifier=identifier, given=given, family=family)


def approval(identifier: str, given: list[str], family: str, at: str) -> Approval:
    return Approval(by=practitioner(identifier, given, family), at=at)


def note(key: str, created: str, body: str, **fields: Any) -> Note:
    """A new note; ``fields``: format, updated, ended, author, do_not_share."""
    return Note(key=key, created=created, body=body, **fields)  # type: ignore[typeddict-item]


class PlspError(Exception):
    """The hub refused a request: ``status`` and its OperationOutcome."""

    def __init__(self, status: int, outcome: dict[str, Any] | None) -> None:
        self.status = status
        self.outcome = outcome or {}
        super().__init__(f"HTTP {status}: " + "; ".join(self.rules()))

    @property
    def issues(self) -> list[dict[str, Any]]:
        return list(self.outcome.get("issue", []))

    def rules(self) -> list[str]:
        """``rule @ path: text`` of each issue."""
        out = []
        for issue in self.issues:
            rule = next((c.get("code") for c in issue.get("details", {}).get("coding", [])
                         if c.get("system") == "urn:nsp-sandbox:rule"), None)
            path = ", ".join(issue.get("expression", []))
            out.append(f"{rule or issue.get('code')} @ {path or '-'}: {issue.get('diagnostics', '')}")
        return out


class PlspClient:
    def __init__(self, http: httpx.Client, *, origin: str = "", persona: str) -> None:
        self.http = http
        self.origin = origin.rstrip("/")
        self.persona = persona
        self._token: str | None = None

    @classmethod
    def for_persona(cls, http: httpx.Client, persona: str, origin: str = "") -> PlspClient:
        """A client acting as the GP-system persona ``persona`` (e.g. ``system-lps-skodstrup``)."""
        return cls(http, origin=origin, persona=persona)

    def _fetch_token(self) -> str:
        response = self.http.post(f"{self.origin}/nsp/sts/token", json={"persona": self.persona, "audience": "plsp"})
        if response.status_code != 200:
            raise PlspError(response.status_code, _json(response))
        self._token = str(response.json()["access_token"])
        return self._token

    def _request(self, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None,
                 content: bytes | None = None, content_type: str = "application/json") -> Any:
        for attempt in (1, 2):
            token = self._token or self._fetch_token()
            headers = {"Authorization": f"Bearer {token}"}
            if json is not None or content is not None:
                headers["Content-Type"] = content_type
            response = self.http.request(method, f"{self.origin}/plsp{path}", json=json, params=params,
                                         content=content, headers=headers)
            if response.status_code == 401 and attempt == 1:
                self._token = None
                continue
            if response.status_code >= 300:
                raise PlspError(response.status_code, _json(response))
            return response.json()
        raise AssertionError("unreachable")

    # ---- diagnosis card ----------------------------------------------------------------------------

    def put_card(self, cpr: str, card: Card | dict[str, Any]) -> dict[str, Any]:
        """The clinic's whole current card for ``cpr``; answers what is shared and the DDS entry."""
        return self._request("PUT", f"/patients/{cpr}/conditionlist", json=card)  # type: ignore[no-any-return]

    def card(self, cpr: str) -> dict[str, Any]:
        return self._request("GET", f"/patients/{cpr}/conditionlist")  # type: ignore[no-any-return]

    # ---- notes -------------------------------------------------------------------------------------

    def create_note(self, cpr: str, new: Note | dict[str, Any]) -> dict[str, Any]:
        return self._request("POST", f"/patients/{cpr}/notes", json=new)  # type: ignore[no-any-return]

    def update_note(self, key: str, update: dict[str, Any]) -> dict[str, Any]:
        """A new version: ``{"body": …, "format": …, "updated": …}`` (``created`` only if unchanged)."""
        return self._request("PUT", f"/notes/{key}", json=update)  # type: ignore[no-any-return]

    def note(self, key: str) -> dict[str, Any]:
        return self._request("GET", f"/notes/{key}")  # type: ignore[no-any-return]

    def do_not_share(self, key: str) -> dict[str, Any]:
        return self._request("POST", f"/notes/{key}/do-not-share")  # type: ignore[no-any-return]

    def share(self, key: str) -> dict[str, Any]:
        return self._request("POST", f"/notes/{key}/share")  # type: ignore[no-any-return]

    def cancel(self, key: str) -> dict[str, Any]:
        return self._request("POST", f"/notes/{key}/cancel")  # type: ignore[no-any-return]

    # ---- ready-made documents, event log, timed work -----------------------------------------------

    def submit_document(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """A ready-made ConditionList or Notes document Bundle."""
        import json as json_module

        return self._request("POST", "/documents",  # type: ignore[no-any-return]
                             content=json_module.dumps(bundle).encode("utf-8"), content_type="application/fhir+json")

    def events(self, cpr: str, kind: str | None = None) -> list[dict[str, Any]]:
        return self._request("GET", f"/patients/{cpr}/events",  # type: ignore[no-any-return]
                             params={"kind": kind} if kind else None)

    def due(self) -> dict[str, Any]:
        """Run the hub's timed work now (purge, DDS retries, after-midnight notes)."""
        return self._request("POST", "/due")  # type: ignore[no-any-return]


def _json(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
