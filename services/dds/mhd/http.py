"""What every transaction of the MHD face reads from an HTTP request: URLs, handling, ``_search`` forms."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import parse_qsl

from fastapi import Request

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.fhir_http import read_body, refuse_control_characters
from nsp_sandbox.outcome import FhirError, Issue

FORM = "application/x-www-form-urlencoded"


class Urls:
    """Absolute URLs of this actor: from ``settings.public_base_url`` or from the request itself."""

    def __init__(self, context: SandboxContext, request: Request) -> None:
        root = str(request.scope.get("root_path", "")).rstrip("/")  # the mount path, e.g. "/dds"
        public = context.settings.public_base_url
        origin = public.rstrip("/") if public else f"{request.url.scheme}://{request.url.netloc}"
        self.actor = f"{origin}{root}"
        # NSP as a client reaches it: its configured URL, else this same sandbox's /nsp.
        self.nsp = (context.settings.nsp_url or f"{origin}/nsp").rstrip("/")
        self.fhir = f"{self.actor}/fhir"

    def document(self, entry_id: str) -> str:
        """The ITI-68 URL of an entry's document (``attachment.url``)."""
        return f"{self.actor}/documents/{entry_id}"

    def resource(self, kind: str) -> Callable[[str], str]:
        """The absolute URL of a resource of ``kind`` by its id (``Bundle.entry.fullUrl``)."""
        return lambda resource_id: f"{self.fhir}/{kind}/{resource_id}"


def strict(request: Request) -> bool:
    """``Prefer: handling=strict``: unknown search parameters are refused rather than ignored."""
    return "handling=strict" in request.headers.get("prefer", "").replace(" ", "").lower()


async def search_pairs(request: Request, max_bytes: int) -> list[tuple[str, str]]:
    """Parameters of a ``POST …/_search``: the form body plus any in the URL."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    pairs = list(request.query_params.multi_items())
    if content_type == FORM:
        body = await read_body(request, max_bytes)
        try:
            pairs += parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise FhirError(400, Issue("error", "structure", "The form body is not UTF-8",
                                       rule="http-form-body")) from None
    elif content_type:
        raise FhirError(415, Issue("error", "not-supported", f"_search takes {FORM}, not '{content_type}'",
                                   rule="http-content-type"))
    refuse_control_characters(pairs)
    return pairs


def http_date(moment: datetime) -> str:
    """An HTTP date (``Last-Modified``) from a naive-UTC timestamp."""
    return format_datetime(moment.replace(tzinfo=UTC), usegmt=True)
