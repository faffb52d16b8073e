"""``nsp-sandbox xds …``: talk to DDS's XDS.b face as a vendor system would, and see the SOAP exchange.

``xds provide FILE`` (ITI-41 from a DocumentReference), ``xds find --cpr`` (ITI-18 FindDocuments),
``xds retrieve --document-id`` (ITI-43), ``xds deprecate --entry-uuid`` (ITI-57). Each gets an ID card
for ``--persona`` from NSP's STS, prints each request and answer readably (HTTP and SOAP headers
summarised, the body pretty-printed, MTOM attachments by size) and then the outcome. ``--url`` is the
sandbox's base URL (DDS at ``{url}/dds``, NSP at ``{url}/nsp``). docs/xds.md explains the face.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from lxml import etree

from nsp_sandbox.xds import from_mhd
from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.client import Exchange, XdsClient, XdsClientError, get_documents_request, hsuid_for
from nsp_sandbox.xds.ebrim import Document, identifier
from nsp_sandbox.xds.mtom import parse_message
from nsp_sandbox.xds.registry_response import RegistryError, RegistryResponse
from nsp_sandbox.xds.retrieve import DocumentRequest
from nsp_sandbox.xds.rim import ExtrinsicObject

xds_app = typer.Typer(help="DDS's IHE XDS.b face (ITI-18/41/43/57) over DGWS, with the SOAP exchange shown.",
                      no_args_is_help=True)
Url = Annotated[str, typer.Option("--url", help="the sandbox's base URL")]
Persona = Annotated[str, typer.Option("--persona", help="the NSP persona whose ID card signs the request")]
Quiet = Annotated[bool, typer.Option("--quiet", help="print only the outcome, not the SOAP exchange")]
DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_SOURCE_ID = "1.2.208.176.43210.8.10.1"

_SHOWN_HTTP = ("content-type", "soapaction", "content-length")


def _summary(block: etree._Element) -> str:
    """One line for a SOAP header block."""
    name = etree.QName(block).localname
    if name == "Security":
        data = {a.get("Name"): (a.findtext("{*}AttributeValue") or "").strip() for a in block.iter("{*}Attribute")}
        return (f"wsse:Security  ID card {data.get('sosi:IDCardType', '?')} level "
                f"{data.get('sosi:AuthenticationLevel', '?')} for {data.get('medcom:CareProviderName', '?')} "
                f"({data.get('medcom:UserCivilRegistrationNumber') or data.get('medcom:ITSystemName', '')}), "
                f"issuer {(block.findtext('.//{*}Issuer') or '').strip()}")
    if name == "HsuidHeader":
        values = [f"{(a.get('Name') or '').removeprefix('nsi:')}={(a.findtext('{*}AttributeValue') or '').strip()}"
                  for a in block.iter("{*}Attribute")]
        return "HSUID  " + ", ".join(values)
    if name == "Header":
        texts = [f"{etree.QName(e).localname}={(e.text or '').strip()}" for e in block.iter()
                 if isinstance(e.tag, str) and len(e) == 0 and (e.text or "").strip()]
        return "medcom:Header  " + ", ".join(texts)
    text = (block.findtext("{*}Address") or block.text or "").strip()
    return f"wsa:{name}  {text}"


def _show(direction: str, url: str, status: int | None, headers: dict[str, str], body: bytes) -> None:
    title = f"{direction} {url}" if status is None else f"{direction} HTTP {status}"
    typer.echo(f"\n===== {title} " + "=" * max(0, 70 - len(title)))
    for key, value in headers.items():
        if key.lower() in _SHOWN_HTTP:
            typer.echo(f"{key}: {value}")
    try:
        message = parse_message(headers.get("Content-Type") or headers.get("content-type") or "text/xml", body)
        root = etree.fromstring(message.envelope_bytes)
    except (XdsClientError, ValueError, etree.XMLSyntaxError) as exc:
        typer.echo(f"(not a SOAP message: {exc}) {body[:500]!r}")
        return
    header = root.find("{*}Header")
    for block in header if header is not None else []:
        if isinstance(block.tag, str):
            typer.echo("  " + _summary(block))
    body_element = root.find("{*}Body")
    if body_element is not None:
        typer.echo(etree.tostring(body_element, pretty_print=True, encoding="unicode").rstrip())
    for cid, content in message.attachments.items():
        typer.echo(f"  attachment <{cid}> {message.attachment_types.get(cid, '')}: {len(content)} bytes")


def trace(exchange: Exchange) -> None:
    """Print one exchange (the client's ``trace`` callback)."""
    _show(f"{exchange.transaction} →", exchange.url, None, exchange.request_headers, exchange.request_body)
    _show(f"{exchange.transaction} ←", exchange.url, exchange.status, exchange.response_headers,
          exchange.response_body)


def _client(url: str, persona: str, quiet: bool) -> XdsClient:
    base = url.rstrip("/")
    return XdsClient(f"{base}/dds", nsp_url=f"{base}/nsp", persona=persona, trace=None if quiet else trace)


def _errors(errors: list[RegistryError]) -> None:
    for error in errors:
        kind = "error" if error.is_error else "warning"
        typer.echo(f"  {kind} {error.error_code}: {error.code_context}" + (f" ({error.location})"
                                                                          if error.location else ""))


def _outcome(transaction: str, response: RegistryResponse) -> None:
    typer.echo(f"\n{transaction}: {response.status_word}")
    _errors(response.errors)
    if response.status == v.RESPONSE_FAILURE:
        raise typer.Exit(1)


def _fail(exc: Exception) -> None:
    typer.echo(f"\nfailed: {exc}", err=True)
    raise typer.Exit(2)


@xds_app.command("provide")
def provide(
    file: Annotated[Path, typer.Argument(help="a DocumentReference (JSON); the document is its "
                                              "content[0].attachment.data or --document")],
    persona: Persona,
    url: Url = DEFAULT_URL,
    document: Annotated[Path | None, typer.Option(help="the document's bytes (instead of attachment.data)")] = None,
    source_id: Annotated[str, typer.Option(help="the SubmissionSet's sourceId (an OID)")] = DEFAULT_SOURCE_ID,
    endpoint: Annotated[str, typer.Option(help="drs (/dds/drs/proxy) or dros (/dds/dros)")] = "drs",
    quiet: Quiet = False,
) -> None:
    """ITI-41 Provide and Register Document Set-b (MTOM) of one document."""
    from datetime import UTC, datetime

    resource: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
    attachment = next(iter(resource.get("content", [])), {}).get("attachment", {})
    content = document.read_bytes() if document else base64.b64decode(attachment.pop("data", "") or b"")
    if not content:
        _fail(ValueError("no document: give --document or content[0].attachment.data"))
    try:
        entry = from_mhd.document_entry(resource)
        info = from_mhd.SubmissionSetInfo(source_id, from_mhd.patient_cpr(resource), datetime.now(UTC))
        old = from_mhd.replaced_entry(resource)
        submission = from_mhd.submission([entry], info, {entry.id: f"urn:uuid:{old}"} if old else None)
        with _client(url, persona, quiet) as client:
            target = client.endpoints.dros if endpoint == "dros" else client.endpoints.drs_proxy
            response = client.provide(submission, [Document(entry.id, content)], url=target)
    except (XdsClientError, ValueError) as exc:
        _fail(exc)
        return
    _outcome("ITI-41", response)
    typer.echo(f"  entryUUID {entry.id}, uniqueId {identifier(entry, v.DE_UNIQUE_ID)}, {len(content)} bytes")


def _describe(entry: ExtrinsicObject) -> str:
    type_code = next((c.node_representation for c in entry.classified(v.DE_TYPE_CODE)), "?")
    status = (entry.status or "").rsplit(":", 1)[-1]
    return (f"  {entry.id}  uniqueId={identifier(entry, v.DE_UNIQUE_ID)}  status={status}  type={type_code}  "
            f"repository={entry.slot_value('repositoryUniqueId') or '-'}  created={entry.slot_value('creationTime')}"
            f"  {'on-demand' if entry.is_on_demand else 'stable'}  {entry.title or ''}")


@xds_app.command("find")
def find(
    cpr: Annotated[str, typer.Option("--cpr", help="the citizen's CPR number")],
    persona: Persona,
    url: Url = DEFAULT_URL,
    status: Annotated[list[str] | None, typer.Option(help="Approved and/or Deprecated")] = None,
    consent_override: Annotated[bool, typer.Option(help="værdispring (HSUID ConsentOverride)")] = False,
    object_ref: Annotated[bool, typer.Option(help="ask for ObjectRefs instead of LeafClass")] = False,
    quiet: Quiet = False,
) -> None:
    """ITI-18 FindDocuments for a CPR (both stable and on-demand entries)."""
    try:
        with _client(url, persona, quiet) as client:
            answer = client.find_documents(cpr, consent_override=consent_override, statuses=status or ["Approved"],
                                           return_type=v.RETURN_OBJECT_REF if object_ref else v.RETURN_LEAF_CLASS)
    except (XdsClientError, ValueError) as exc:
        _fail(exc)
        return
    typer.echo(f"\nITI-18: {answer.status.rsplit(':', 1)[-1]}, {len(answer.objects)} object(s)")
    _errors(answer.errors)
    for obj in answer.objects:
        typer.echo(_describe(obj) if isinstance(obj, ExtrinsicObject) else f"  ObjectRef {obj.id}")


@xds_app.command("retrieve")
def retrieve(
    document_id: Annotated[str, typer.Option("--document-id", help="the document's uniqueId")],
    persona: Persona,
    url: Url = DEFAULT_URL,
    repository_id: Annotated[str | None, typer.Option(help="its repositoryUniqueId (default: looked up "
                                                           "with GetDocuments)")] = None,
    cpr: Annotated[str | None, typer.Option(help="the citizen (HSUID CitizenCivilRegistrationNumber)")] = None,
    consent_override: Annotated[bool, typer.Option(help="værdispring (HSUID ConsentOverride)")] = False,
    out: Annotated[Path | None, typer.Option(help="write the document's bytes here")] = None,
    quiet: Quiet = False,
) -> None:
    """ITI-43 Retrieve Document Set of one document."""
    try:
        with _client(url, persona, quiet) as client:
            if repository_id is None:
                hsuid = hsuid_for(client.parsed_card(), cpr, template=client.hsuid_template,
                                  consent_override=consent_override)
                found = client.query(get_documents_request([document_id]), hsuid)
                entries = [o for o in found.objects if isinstance(o, ExtrinsicObject)]
                if not entries:
                    _fail(ValueError(f"GetDocuments found no entry with uniqueId {document_id}"))
                repository_id = entries[0].slot_value("repositoryUniqueId")
                cpr = cpr or from_mhd.bare_id(identifier(entries[0], v.DE_PATIENT_ID).split("^")[0])
            answer = client.retrieve([DocumentRequest(str(repository_id), document_id)], cpr=cpr,
                                     consent_override=consent_override)
    except (XdsClientError, ValueError) as exc:
        _fail(exc)
        return
    _outcome("ITI-43", answer.registry_response)
    for item in answer.documents:
        typer.echo(f"  {item.document_unique_id} from {item.repository_unique_id}: {item.mime_type}, "
                   f"{len(item.content)} bytes")
        if out is not None:
            out.write_bytes(item.content)
            typer.echo(f"  written to {out}")


@xds_app.command("deprecate")
def deprecate(
    entry_uuid: Annotated[str, typer.Option("--entry-uuid", help="the entry's entryUUID (urn:uuid:…)")],
    cpr: Annotated[str, typer.Option("--cpr", help="the citizen the entry is about")],
    persona: Persona,
    url: Url = DEFAULT_URL,
    source_id: Annotated[str, typer.Option(help="the SubmissionSet's sourceId (an OID)")] = DEFAULT_SOURCE_ID,
    quiet: Quiet = False,
) -> None:
    """ITI-57 Update Document Set: the entry Approved → Deprecated ("slettemarkering")."""
    from datetime import UTC, datetime

    target = entry_uuid if entry_uuid.startswith("urn:uuid:") else f"urn:uuid:{entry_uuid}"
    try:
        with _client(url, persona, quiet) as client:
            response = client.deprecate(from_mhd.status_update(
                target, from_mhd.SubmissionSetInfo(source_id, cpr, datetime.now(UTC))))
    except (XdsClientError, ValueError) as exc:
        _fail(exc)
        return
    _outcome("ITI-57", response)


def register(app: typer.Typer) -> None:
    app.add_typer(xds_app, name="xds")
