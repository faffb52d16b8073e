"""MTOM/XOP packaging of SOAP messages (W3C SOAP MTOM 2005, XOP 1.0, RFC 2387 multipart/related) and
inline base64 documents, as ITI-41 requests and ITI-43 responses carry them (ITI TF-2 Appendix V.3.1).

:func:`parse_message` takes the HTTP ``Content-Type`` and the body read once: a plain SOAP body
(``text/xml``, ``application/soap+xml``) or a ``multipart/related; type="application/xop+xml"`` package
whose root part is found by ``start`` (else the first part). Attachments are kept by Content-ID and
resolved on demand by :func:`document_bytes` (``xop:Include href="cid:…"``, RFC 2392 percent-decoding)
or decoded from inline base64. :func:`package` writes an MTOM message, moving the base64 content of
``xdsb:Document`` elements into binary parts. Splitting is one forward scan (no quadratic search); the
part bytes are recovered exactly. Tolerated quirks of real traffic: LF-only line breaks, a delimiter not
preceded by a line break, a missing close delimiter.
"""

from __future__ import annotations

import binascii
import quopri
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from lxml import etree

from nsp_sandbox import base64_data
from nsp_sandbox.xds import namespaces as ns
from nsp_sandbox.xds.errors import XdsWireError
from nsp_sandbox.xds.soap import Envelope, SoapVersion, parse_envelope
from nsp_sandbox.xds.xml import elements, text_of

_SOAP_TYPES = frozenset({"text/xml", "application/soap+xml"})
_ROOT_TYPES = _SOAP_TYPES | {"application/xop+xml"}


def parse_content_type(value: str, location: str = "Content-Type") -> tuple[str, dict[str, str]]:
    """Split a MIME Content-Type into the lower-cased media type and its parameters (RFC 2045 §5.1);
    quoted values may hold ``;``. Parameter names are lower-cased."""
    items: list[str] = []
    current, quoted = [], False
    for char in value:
        if char == '"':
            quoted = not quoted
        if char == ";" and not quoted:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    media = items[0].strip().lower()
    if "/" not in media:
        raise XdsWireError(f"not a media type: {value!r}", location)
    params: dict[str, str] = {}
    for item in items[1:]:
        name, sep, raw = item.partition("=")
        if sep:
            params[name.strip().lower()] = raw.strip().strip('"')
    return media, params


def content_id(value: str) -> str:
    """A Content-ID header or ``cid:`` URL reduced to the bare id (no ``<>``, no ``cid:``, percent-decoded)."""
    text = value.strip()
    if text.lower().startswith("cid:"):
        text = text[4:]
    return unquote(text.strip("<>"))


@dataclass(frozen=True)
class MimePart:
    """One body part: its headers (names lower-cased) and its content after transfer decoding."""

    headers: dict[str, str]
    content: bytes

    @property
    def content_id(self) -> str | None:
        raw = self.headers.get("content-id")
        return content_id(raw) if raw else None

    @property
    def media_type(self) -> str:
        return parse_content_type(self.headers.get("content-type", "application/octet-stream"))[0]


def _parse_headers(block: bytes, location: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    last = ""
    for line in block.decode("latin-1").replace("\r\n", "\n").split("\n"):
        if not line:
            continue
        if line[0] in " \t" and last:
            headers[last] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise XdsWireError(f"malformed MIME header line {line[:80]!r}", location)
        last = name.strip().lower()
        headers[last] = value.strip()
    return headers


def _decode(content: bytes, encoding: str, location: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("", "binary", "8bit", "7bit"):
        return content
    if encoding == "base64":
        try:
            return base64_data.decode(content, whitespace=True)
        except (binascii.Error, ValueError):
            raise XdsWireError("the part's base64 content is not valid base64", location) from None
    if encoding == "quoted-printable":
        return quopri.decodestring(content)
    raise XdsWireError(f"unsupported Content-Transfer-Encoding {encoding!r}", location)


def _line_end(body: bytes, position: int) -> int:
    """The index just past the line break at or after ``position`` (transport padding skipped)."""
    newline = body.find(b"\n", position)
    return len(body) if newline < 0 else newline + 1


def _trim_break(body: bytes, start: int, end: int) -> int:
    """``end`` moved before the CRLF or LF that belongs to the following delimiter."""
    if end - 2 >= start and body[end - 2 : end] == b"\r\n":
        return end - 2
    if end - 1 >= start and body[end - 1 : end] == b"\n":
        return end - 1
    return end


def _part(body: bytes, start: int, end: int, location: str) -> MimePart:
    """One part between ``start`` and ``end``: headers up to the first blank line, then the content."""
    if body.startswith(b"\r\n", start) or body.startswith(b"\n", start):
        header_end, content_start = start, start + (2 if body[start] == 0x0D else 1)  # no headers at all
    else:
        found = [(i, len(sep)) for sep in (b"\r\n\r\n", b"\n\n") if (i := body.find(sep, start, end)) >= 0]
        if not found:
            raise XdsWireError("a MIME part has no blank line after its headers", location)
        header_end, skip = min(found)
        content_start = header_end + skip
    headers = _parse_headers(body[start:header_end], location)
    raw = body[content_start:end]
    return MimePart(headers, _decode(raw, headers.get("content-transfer-encoding", ""), location))


def split_multipart(body: bytes, boundary: str, location: str = "multipart") -> list[MimePart]:
    """The body parts of a multipart entity (RFC 2046 §5.1.1), in order, in one forward scan."""
    if not boundary:
        raise XdsWireError("the multipart Content-Type has no boundary parameter", location)
    delimiter = b"--" + boundary.encode("latin-1")
    position = body.find(delimiter)
    if position < 0:
        raise XdsWireError(f"the boundary {boundary!r} does not occur in the body", location)
    parts: list[MimePart] = []
    while True:
        after = position + len(delimiter)
        if body[after : after + 2] == b"--":
            break
        start = _line_end(body, after)
        following = body.find(delimiter, start)
        end = len(body) if following < 0 else _trim_break(body, start, following)
        parts.append(_part(body, start, end, f"{location} part {len(parts) + 1}"))
        if following < 0:
            break
        position = following
    if not parts:
        raise XdsWireError("the multipart body holds no parts", location)
    return parts


@dataclass
class SoapMessage:
    """A received SOAP message: the envelope bytes, its attachments by Content-ID, and whether it was MTOM."""

    envelope_bytes: bytes
    attachments: dict[str, bytes] = field(default_factory=dict)
    attachment_types: dict[str, str] = field(default_factory=dict)
    mtom: bool = False
    action: str | None = None  # the ``action`` parameter of the (root part's) content type, if any

    def envelope(self) -> Envelope:
        """The parsed SOAP envelope (see :func:`nsp_sandbox.xds.soap.parse_envelope`)."""
        return parse_envelope(self.envelope_bytes)


def _root_index(parts: list[MimePart], start: str | None, location: str) -> int:
    if not start:
        return 0
    wanted = content_id(start)
    for index, part in enumerate(parts):
        if part.content_id == wanted:
            return index
    raise XdsWireError(f"no part has the start Content-ID <{wanted}>", location)


def parse_message(content_type: str, body: bytes) -> SoapMessage:
    """Read an HTTP request or response body as a SOAP message, plain or MTOM/XOP."""
    media, params = parse_content_type(content_type)
    if media in _SOAP_TYPES:
        return SoapMessage(body, action=params.get("action"))
    if media != "multipart/related":
        raise XdsWireError(f"unsupported Content-Type {media!r} for a SOAP message", "Content-Type")
    parts = split_multipart(body, params.get("boundary", ""))
    root = parts[_root_index(parts, params.get("start"), "multipart")]
    root_media, root_params = parse_content_type(root.headers.get("content-type", "text/xml"), "root part")
    if root_media not in _ROOT_TYPES:
        raise XdsWireError(f"the root part is {root_media!r}, not application/xop+xml", "multipart root part")
    message = SoapMessage(root.content, mtom=True, action=root_params.get("action") or params.get("action"))
    for index, part in enumerate(parts):
        if part is root:
            continue
        cid = part.content_id
        if cid is None:
            raise XdsWireError("an attachment part has no Content-ID", f"multipart part {index + 1}")
        if cid in message.attachments:
            raise XdsWireError(f"Content-ID <{cid}> is used by two parts", f"multipart part {index + 1}")
        message.attachments[cid] = part.content
        message.attachment_types[cid] = part.media_type
    return message


def document_bytes(element: etree._Element, attachments: Mapping[str, bytes], location: str) -> bytes:
    """The bytes an element carries: an ``xop:Include`` resolved against the attachments, or inline base64."""
    includes = [child for child in elements(element) if child.tag == f"{{{ns.XOP}}}Include"]
    if includes:
        if len(includes) > 1 or (element.text or "").strip():
            raise XdsWireError("an element carrying xop:Include must hold nothing else", location)
        href = includes[0].get("href", "")
        if not href.lower().startswith("cid:"):
            raise XdsWireError(f"xop:Include href {href!r} is not a cid: URL", location)
        cid = content_id(href)
        if cid not in attachments:
            raise XdsWireError(f"xop:Include refers to <{cid}>, which is not an attachment of this message",
                               location, xds_code="XDSMissingDocument")  # fmt: skip
        return attachments[cid]
    text = text_of(element)
    try:
        return base64_data.decode(text, whitespace=True)
    except (binascii.Error, ValueError):
        raise XdsWireError("the document content is not valid base64", location) from None


def new_content_id() -> str:
    return f"{uuid.uuid4()}@urn:ihe:iti:xds-b:2007"


def _serialize_part(headers: Iterable[tuple[str, str]], content: bytes) -> bytes:
    head = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("latin-1")
    return head + b"\r\n" + content


def _optimize(root: etree._Element, optimize: Iterable[str]) -> list[tuple[str, str, bytes]]:
    """Replace inline base64 content of the named elements by xop:Include; return the attachments."""
    attachments: list[tuple[str, str, bytes]] = []
    for tag in optimize:
        for element in list(root.iter(tag)):
            if len(element) or not (element.text or "").strip():
                continue
            content = document_bytes(element, {}, element.getroottree().getpath(element))
            mime = element.getparent().findtext(f"{{{ns.XDSB}}}mimeType") if element.getparent() is not None else None
            cid = new_content_id()
            element.text = None
            include = etree.SubElement(element, f"{{{ns.XOP}}}Include", nsmap={"xop": ns.XOP})
            include.set("href", "cid:" + cid.replace(":", "%3A"))
            attachments.append((cid, (mime or "application/octet-stream").strip(), content))
    return attachments


def package(
    root: etree._Element,
    version: SoapVersion,
    *,
    action: str | None = None,
    optimize: Iterable[str] = (f"{{{ns.XDSB}}}Document",),
) -> tuple[str, bytes]:
    """Write ``root`` (a SOAP envelope) as an MTOM message: (Content-Type header, body).

    Elements named in ``optimize`` that carry inline base64 become ``xop:Include`` references to binary
    parts (the tree is changed in place); the part's Content-Type is the sibling ``mimeType`` if any.
    """
    attachments = _optimize(root, optimize)
    boundary = f"MIMEBoundary_{uuid.uuid4().hex}"
    start = f"root.message@{uuid.uuid4().hex}"
    soap_type = "text/xml" if version is SoapVersion.SOAP11 else "application/soap+xml"
    xml_bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    chunks = [_serialize_part([
        ("Content-Type", f'application/xop+xml; charset=UTF-8; type="{soap_type}"'),
        ("Content-Transfer-Encoding", "binary"),
        ("Content-ID", f"<{start}>"),
    ], xml_bytes)]  # fmt: skip
    for cid, mime, content in attachments:
        headers = [("Content-Type", mime), ("Content-Transfer-Encoding", "binary"), ("Content-ID", f"<{cid}>")]
        chunks.append(_serialize_part(headers, content))
    delimiter = f"--{boundary}".encode()
    body = b"".join(delimiter + b"\r\n" + chunk + b"\r\n" for chunk in chunks) + delimiter + b"--\r\n"
    content_type = (f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
                    f'start="<{start}>"; start-info="{soap_type}"')  # fmt: skip
    if action and version is SoapVersion.SOAP12:
        content_type += f'; action="{action}"'
    return content_type, body
