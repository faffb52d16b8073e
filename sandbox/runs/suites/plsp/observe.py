"""What the ``gp-system-plsp`` suite sees, over HTTP only: the PLSP hub as the GP system's clinic sees it, DDS as
the test citizen sees it, the conformance actor's ``$validate`` and the sandbox clock.

* **PLSP** (:class:`Plsp`): the LPS interface's own read faces — the clinic's card status, its notes and its
  event log (``GET /plsp/patients/{cpr}/events``) — with a token of the target's persona (audience ``plsp``).
  The suite only reads there; everything that changes the hub comes from the participant's GP system.
* **DDS** (:class:`Dds`): ITI-67 (``GET /dds/fhir/DocumentReference``, the clinic's entries only, by its SOR as
  author institution), reads by id and ITI-68 (``/dds/documents/{id}``, which makes DDS ask PLSP for the
  current document) with the citizen's own token, so no treatment relation is needed and nothing goes to Min
  Log.

Polling while a case waits is not kept as evidence (a wait of minutes would keep hundreds of answers); every
request a verdict rests on is. Tokens are fetched without evidence too: a token is a credential.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx2 as httpx

from sandbox.runs.suite import CaseContext, CaseFailed

CPR_SYSTEM = "urn:oid:1.2.208.176.1.2"
SOR_SYSTEM = "urn:oid:1.2.208.176.1.1"
ICPC2_SYSTEM = "urn:oid:1.2.208.176.2.31"
SKS_D_SYSTEM = "urn:oid:1.2.208.176.2.4.12"
CONDITIONLIST_TYPE = "11450-4"  # LOINC "Problem list - Reported"
NOTES_TYPE = "866144008"  # SNOMED CT "Encounter note"
TOKEN_REUSE_SECONDS = 300  # STS tokens live 10 minutes on the sandbox clock; one is used for half that


async def quiet(ctx: CaseContext, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """``method`` ``url`` without keeping it as evidence (polling, tokens); a transport error fails the case."""
    try:
        return await ctx.sandbox.peers.client_for_url(url).request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise CaseFailed(f"{method} {url} could not be made: {type(exc).__name__}: {exc}") from None


async def token(ctx: CaseContext, persona: str, audience: str) -> str:
    """An access token of ``persona`` for ``audience`` from NSP's STS, reused while it is young on the sandbox
    clock (a clock moved by a case makes the next call fetch a new one)."""
    cache: dict[tuple[str, str], tuple[str, datetime]] = ctx.shared.setdefault("tokens", {})
    now = ctx.now()
    held = cache.get((persona, audience))
    if held is not None and 0 <= (now - held[1]).total_seconds() < TOKEN_REUSE_SECONDS:
        return held[0]
    response = await quiet(ctx, "POST", ctx.actor_url("nsp", "/sts/token"),
                           json={"persona": persona, "audience": audience})
    if response.status_code != 200:
        raise CaseFailed(f"NSP's STS gave no token to persona '{persona}' (audience {audience}): HTTP "
                         f"{response.status_code} {response.text[:300]}")
    value = str(response.json()["access_token"])
    cache[(persona, audience)] = (value, now)
    return value


def outcome_text(response: httpx.Response) -> str:
    """An error answer in one line: the OperationOutcome's diagnostics, else the start of the body."""
    try:
        issues = response.json().get("issue", [])
        return "; ".join(str(i.get("diagnostics") or i.get("details", {}).get("text") or i.get("code"))
                         for i in issues) or response.text[:300]
    except (ValueError, AttributeError):
        return response.text[:300]


@dataclass(frozen=True)
class Parties:
    """Who the run is about: the target GP system (persona, its clinic's SOR and name) and the test citizen."""

    persona: str
    sor: str
    clinic: str
    cpr: str
    citizen_persona: str
    citizen: str

    @classmethod
    def of(cls, ctx: CaseContext) -> Parties:
        parties = ctx.shared.get("parties")
        if not isinstance(parties, Parties):
            raise CaseFailed("the suite's setup did not establish the GP system and the citizen")
        return parties


class Plsp:
    """The hub as the target's clinic sees it (the GP system's own read faces)."""

    def __init__(self, ctx: CaseContext) -> None:
        self.ctx = ctx
        self.who = Parties.of(ctx)

    async def _get(self, path: str, *, evidence: bool, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {await token(self.ctx, self.who.persona, 'plsp')}"}
        if evidence:
            return await self.ctx.actor("plsp", "GET", path, headers=headers, **kwargs)
        return await quiet(self.ctx, "GET", self.ctx.actor_url("plsp", path), headers=headers, **kwargs)

    async def events(self, *, evidence: bool = False) -> list[dict[str, Any]]:
        """The clinic's event log for the citizen, oldest first."""
        response = await self._get(f"/patients/{self.who.cpr}/events", evidence=evidence)
        if response.status_code != 200:
            raise CaseFailed(f"PLSP's event log for {self.who.cpr} could not be read as {self.who.persona}: "
                             f"HTTP {response.status_code} {outcome_text(response)}")
        return list(response.json())

    async def card(self, *, evidence: bool = True) -> dict[str, Any] | None:
        """The clinic's card status for the citizen; ``None`` when the clinic has sent none."""
        response = await self._get(f"/patients/{self.who.cpr}/conditionlist", evidence=evidence)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise CaseFailed(f"PLSP's card status for {self.who.cpr} could not be read: HTTP {response.status_code} "
                             f"{outcome_text(response)}")
        return dict(response.json())

    async def note(self, key: str, *, evidence: bool = True) -> dict[str, Any]:
        response = await self._get(f"/notes/{quote(key, safe=':@')}", evidence=evidence)
        if response.status_code != 200:
            raise CaseFailed(f"PLSP's status of note '{key}' could not be read: HTTP {response.status_code} "
                             f"{outcome_text(response)}")
        return dict(response.json())

    async def notes_holding(self, text: str) -> list[dict[str, Any]]:
        """Every note of the clinic for the citizen, sent since the run began, whose body holds ``text``."""
        since = int(self.ctx.shared.get("events_at_start", 0))
        keys = dict.fromkeys(e["subject"][len("note:"):] for e in (await self.events())[since:]
                             if e["subject"].startswith("note:") and e["kind"] == "submitted")
        found = []
        for key in keys:
            status = await self.note(key, evidence=False)
            if text in (status.get("body_html") or ""):
                found.append(status)
        return found


class Dds:
    """DDS as the test citizen sees it: the clinic's entries for them, and the documents."""

    def __init__(self, ctx: CaseContext) -> None:
        self.ctx = ctx
        self.who = Parties.of(ctx)

    async def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await token(self.ctx, self.who.citizen_persona, 'dds')}"}

    async def entries(self, type_code: str, *, evidence: bool = True) -> list[dict[str, Any]]:
        """The clinic's current DocumentReferences of ``type_code`` for the citizen (ITI-67)."""
        params = {"patient.identifier": f"{CPR_SYSTEM}|{self.who.cpr}", "status": "current", "type": type_code,
                  "author.identifier": f"{SOR_SYSTEM}|{self.who.sor}", "_count": "100"}
        path, headers = "/fhir/DocumentReference", await self._headers()
        response = (await self.ctx.actor("dds", "GET", path, params=params, headers=headers) if evidence else
                    await quiet(self.ctx, "GET", self.ctx.actor_url("dds", path), params=params, headers=headers))
        if response.status_code != 200:
            raise CaseFailed(f"DDS's ITI-67 search for {self.who.cpr} answered HTTP {response.status_code}: "
                             f"{outcome_text(response)}")
        return [e["resource"] for e in response.json().get("entry", [])
                if e.get("search", {}).get("mode", "match") == "match"]

    async def entry(self, entry_id: str) -> dict[str, Any] | None:
        """The DocumentReference ``entry_id`` as DDS serves it (any status); ``None`` when DDS has none."""
        response = await self.ctx.actor("dds", "GET", f"/fhir/DocumentReference/{entry_id}",
                                        headers=await self._headers())
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise CaseFailed(f"DDS's DocumentReference/{entry_id} could not be read: HTTP {response.status_code} "
                             f"{outcome_text(response)}")
        return dict(response.json())

    async def retrieve(self, entry_id: str, *, evidence: bool = True) -> httpx.Response:
        """ITI-68 of ``entry_id`` (DDS asks PLSP for the current document)."""
        url, headers = self.ctx.actor_url("dds", f"/documents/{entry_id}"), await self._headers()
        return await (self.ctx.request("GET", url, headers=headers) if evidence else
                      quiet(self.ctx, "GET", url, headers=headers))

    async def document(self, entry_id: str) -> dict[str, Any]:
        """The document DDS serves for ``entry_id`` now; the case fails when it serves none."""
        response = await self.retrieve(entry_id)
        if response.status_code != 200:
            raise CaseFailed(f"DDS served no document for DocumentReference/{entry_id} (ITI-68): HTTP "
                             f"{response.status_code} {outcome_text(response)}")
        try:
            return dict(json.loads(response.content))
        except ValueError:
            raise CaseFailed(f"The document DDS served for DocumentReference/{entry_id} is not JSON") from None


async def validation_errors(ctx: CaseContext, document: dict[str, Any]) -> list[str]:
    """The errors the conformance actor's ``$validate`` finds in ``document`` (against its ``meta.profile``)."""
    response = await ctx.actor("conformance", "POST", "/$validate", json=document,
                               headers={"Content-Type": "application/fhir+json"})
    if response.status_code != 200:
        raise CaseFailed(f"The conformance actor's $validate answered HTTP {response.status_code}: "
                         f"{outcome_text(response)}")
    return [f"{', '.join(i.get('expression', [])) or '-'}: {i.get('diagnostics', '')}"
            for i in response.json().get("issue", []) if i.get("severity") in ("error", "fatal")]


# ---- reading the documents -------------------------------------------------------------------------

def resources(bundle: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    """(path, resource) of each ``kind`` resource in a document Bundle."""
    return [(f"Bundle.entry[{i}].resource", e["resource"]) for i, e in enumerate(bundle.get("entry", []))
            if isinstance(e, dict) and isinstance(e.get("resource"), dict)
            and e["resource"].get("resourceType") == kind]


def codes(condition: dict[str, Any]) -> set[tuple[str, str]]:
    """The (system, upper-case code) pairs of a Condition's code."""
    return {(str(c.get("system", "")), str(c.get("code", "")).upper())
            for c in condition.get("code", {}).get("coding", []) if isinstance(c, dict)}


def conditions_coded(bundle: dict[str, Any], icpc2: str, sks: str) -> list[tuple[str, dict[str, Any]]]:
    """The Conditions coded ICPC-2 ``icpc2`` or with an SKS-D code starting with ``sks`` (DE119 covers DE119A)."""
    found = []
    for path, condition in resources(bundle, "Condition"):
        pairs = codes(condition)
        if (ICPC2_SYSTEM, icpc2) in pairs or any(s == SKS_D_SYSTEM and c.startswith(sks) for s, c in pairs):
            found.append((path, condition))
    return found


def describe(path: str, condition: dict[str, Any]) -> str:
    """A Condition in a message: where it is, its codes and its text."""
    coded = ", ".join(f"{'ICPC-2' if s == ICPC2_SYSTEM else 'SKS-D' if s == SKS_D_SYSTEM else s} {c}"
                      for s, c in sorted(codes(condition)))
    return f"{path} ({coded or 'no code'}, text '{condition.get('code', {}).get('text', '')}')"


def paths_holding(value: Any, needle: str, path: str = "Bundle") -> list[str]:
    """Where ``needle`` occurs in a JSON value, by element path; Base64 ``data`` (an attachment) is decoded."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths_holding(item, needle, f"{path}.{key}")
        if isinstance(value.get("data"), str) and needle in _decoded(value["data"]):
            found.append(f"{path}.data (decoded)")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += paths_holding(item, needle, f"{path}[{i}]")
    elif isinstance(value, str) and needle in value:
        found.append(path)
    return found


def _decoded(data: str) -> str:
    try:
        return base64.b64decode(data, validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return ""


def note_text(bundle: dict[str, Any]) -> str:
    """The note a Notes document carries (the Observation's value attachment, decoded), or ''."""
    for _, observation in resources(bundle, "Observation"):
        for extension in observation.get("extension", []):
            data = extension.get("valueAttachment", {}).get("data") if isinstance(extension, dict) else None
            if isinstance(data, str):
                return _decoded(data)
    return ""


# ---- what the participant is asked to type ----------------------------------------------------------

@dataclass(frozen=True)
class Script:
    """The texts of one run, each holding the run's id so a later run never mistakes an earlier one's data."""

    run: str  # e.g. PLSP-3F9A1C

    @property
    def tillaegstekst(self) -> str:
        return f"Rygning og asbest ({self.run})"

    @property
    def corrected_diagnosis(self) -> str:
        return f"Type 2-diabetes, rettet ({self.run})"

    @property
    def note_a_mark(self) -> str:
        return f"Notat A ({self.run})"

    @property
    def note_a(self) -> str:
        return f"{self.note_a_mark}: BT 138/82 mmHg"

    @property
    def note_a_corrected(self) -> str:
        return f"{self.note_a_mark}: BT 128/80 mmHg, rettet"

    @property
    def note_b(self) -> str:
        return f"Notat B ({self.run}): kontrol om 3 måneder"

    @classmethod
    def of(cls, ctx: CaseContext) -> Script:
        return cls(str(ctx.shared.get("run", "")))


def poll_seconds(ctx: CaseContext) -> float:
    """How often a waiting case looks at PLSP and DDS (option ``poll_seconds``)."""
    return float(ctx.options.get("poll_seconds", 1.0))
