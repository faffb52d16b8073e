"""The viewer's client for DDS, over HTTP only and always with the signed-in person's own token:
ITI-67 (find the citizen's DocumentReferences, every status, every page) and ITI-68 (retrieve a
document from its ``attachment.url``). DDS decides what the person may see; a refusal comes back
as :class:`Refused` carrying DDS's status and OperationOutcome."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx2 as httpx

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.cpr import CPR_SYSTEM
from nsp_sandbox.peers import IN_PROCESS_ORIGIN

OVERRIDE_HEADER = "X-Consent-Override"
STATUSES = "current,superseded,entered-in-error"
PAGE = 500  # DDS's largest page


class Refused(Exception):
    """DDS (or NSP) answered an error: ``status`` and its OperationOutcome (if it sent one)."""

    def __init__(self, status: int, outcome: dict[str, Any] | None, what: str) -> None:
        self.status = status
        self.outcome = outcome or {}
        texts = [i.get("diagnostics", "") for i in self.outcome.get("issue", []) if i.get("diagnostics")]
        self.text = "; ".join(texts) or f"{what} answered HTTP {status}"
        super().__init__(self.text)

    @property
    def rule(self) -> str | None:
        for issue in self.outcome.get("issue", []):
            for coding in (issue.get("details") or {}).get("coding", []):
                if coding.get("system") == "urn:nsp-sandbox:rule":
                    return str(coding.get("code"))
        return None


@dataclass(frozen=True)
class Reader:
    """Who is looking: their bearer token, the værdispring reason when they use one, and their own
    CPR when they are a citizen user (DDS logs none of a citizen's look-ups of their own data)."""

    token: str
    override: str | None = None
    own_cpr: str | None = None

    def reads_own(self, cpr: str) -> bool:
        return self.own_cpr is not None and self.own_cpr == cpr

    def headers(self) -> dict[str, str]:
        out = {"Authorization": f"Bearer {self.token}", "Accept": "application/fhir+json"}
        if self.override:
            out[OVERRIDE_HEADER] = quote(self.override, safe=" ") if not self.override.isascii() else self.override
        return out


#: DDS's warnings the viewer says in Danish (by rule); others are shown as DDS wrote them.
WARNINGS = {"dds-consent-filtered": "Nogle dokumenter vises ikke: borgeren har spærret for, at du ser data fra et "
                                    "behandlingssted eller en periode (Min Spærring), eller en fuldmagt dækker dem "
                                    "ikke."}


def _warning(issue: dict[str, Any]) -> str:
    for coding in (issue.get("details") or {}).get("coding", []):
        if coding.get("system") == "urn:nsp-sandbox:rule" and coding.get("code") in WARNINGS:
            return WARNINGS[str(coding["code"])]
    return str(issue.get("diagnostics", ""))


def _outcome(response: Any) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome" else None


class Dds:
    def __init__(self, context: SandboxContext) -> None:
        self.context = context

    async def find(self, reader: Reader, cpr: str,
                   types: tuple[str, ...] = ()) -> tuple[list[dict[str, Any]], list[str]]:
        """ITI-67: every DocumentReference of ``cpr`` the reader may see (of typeCode ``types``, any
        system, when given), and DDS's warnings."""
        peers = self.context.peers
        client = peers.client("dds")
        url: str | None = f"{peers.url('dds')}/fhir/DocumentReference"
        params: dict[str, str] | None = {"patient.identifier": f"{CPR_SYSTEM}|{cpr}", "status": STATUSES,
                                         "_count": str(PAGE)}
        if types:
            params["type"] = ",".join(types)
        found: list[dict[str, Any]] = []
        warnings: list[str] = []
        while url:
            try:
                response = await client.get(url, params=params, headers=reader.headers())
            except httpx.HTTPError as exc:
                raise Refused(503, None, f"DDS could not be reached ({type(exc).__name__})") from None
            if response.status_code != 200:
                raise Refused(response.status_code, _outcome(response), "DDS ITI-67")
            bundle = response.json()
            for entry in bundle.get("entry", []):
                resource = entry.get("resource") or {}
                mode = (entry.get("search") or {}).get("mode", "match")
                if mode == "match" and resource.get("resourceType") == "DocumentReference":
                    found.append(resource)
                elif resource.get("resourceType") == "OperationOutcome":
                    warnings += [_warning(i) for i in resource.get("issue", [])]
            url = next((link["url"] for link in bundle.get("link", []) if link.get("relation") == "next"), None)
            url = self._local(url) if url else None
            params = None
        return found, warnings

    async def retrieve(self, reader: Reader, url: str) -> tuple[bytes, str]:
        """ITI-68: the document bytes at ``url`` and their mime type."""
        url = self._local(url)
        if not self.is_dds(url):
            raise Refused(502, None, f"The document's address {url} is not at DDS; the token is not sent there")
        try:
            response = await self.context.peers.client_for_url(url).get(url, headers={
                **reader.headers(), "Accept": "*/*"})
        except httpx.HTTPError as exc:
            raise Refused(503, None, f"DDS could not be reached ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise Refused(response.status_code, _outcome(response), "DDS ITI-68")
        return response.content, response.headers.get("content-type", "")

    def is_dds(self, url: str) -> bool:
        """Whether ``url`` is under DDS's base URL (the only place the reader's token is sent)."""
        return url.startswith(self.context.peers.url("dds").rstrip("/") + "/")

    def _local(self, url: str) -> str:
        """A URL of this sandbox's public origin, reached in process when DDS is served here."""
        public = (self.context.settings.public_base_url or "").rstrip("/")
        if public and not self.context.settings.dds_url and url.startswith(public + "/"):
            return IN_PROCESS_ORIGIN + url[len(public):]
        return url
