"""The size of a MedCom message on EHMI: MedCom allows a HomeCareObservation message of at most 100 MB,
attachments included (Sundhedsfaglig dokumentation 1.0.1; the send test protocol S1).

* :func:`read_limit`: how much an EHMI face reads before it stops — the largest message, base64-encoded
  in an SBDH envelope (4/3), plus room for the envelope. A message between the message limit and this
  is read and answered with a negative acknowledgement by its receiver's rules.
* :func:`compact_message`: a message as compact FHIR JSON, and :func:`message_bytes` its size (the same
  yardstick whichever format it came in). The same bytes are what the engine keeps a message's findings by
  (``Validator.validate``'s ``content``): the GP system that receives a message the sandbox's EOJ built and
  validated is answered the EOJ's findings from memory.
* :func:`head_message` and :func:`head_envelope`: what the beginning of a body refused as too large
  (:class:`nsp_sandbox.fhir_http.BodyTooLarge`) says about whose message it was, so that it is still
  answered in the messaging protocol (a negative acknowledgement, or an SBDH ReceiptException), not
  with a bare HTTP refusal.
"""

from __future__ import annotations

import json
import re
from typing import Any

from lxml import etree

from nsp_sandbox.fhir_http import json_bytes
from nsp_sandbox.hco_sbdh import ROOT, SBDH_NS, Envelope

ENVELOPE_ROOM = 1024 * 1024
_HEADER_END = re.compile(rb"</(?:[A-Za-z_][\w.-]*:)?StandardBusinessDocumentHeader\s*>")


def read_limit(max_message_bytes: int) -> int:
    """The body limit of an EHMI face for messages of at most ``max_message_bytes``."""
    return max_message_bytes * 4 // 3 + ENVELOPE_ROOM


def compact_message(bundle: dict[str, Any]) -> bytes:
    """``bundle`` as compact FHIR JSON (UTF-8), as ``json.dumps(ensure_ascii=False, separators=(",", ":"))`` writes
    it (:func:`nsp_sandbox.fhir_http.json_bytes`)."""
    return json_bytes(bundle)


def message_bytes(bundle: dict[str, Any]) -> int:
    """The size of ``bundle`` as compact FHIR JSON (UTF-8)."""
    return len(compact_message(bundle))


def head_message(head: bytes) -> dict[str, Any] | None:
    """The members of a JSON Bundle that lie whole in ``head`` (the beginning of a longer body): its
    ``id`` and the entries before the cut, MessageHeader first; None when not even that can be read."""
    decoder = json.JSONDecoder()
    text = head.decode("utf-8", errors="ignore")
    out: dict[str, Any] = {}
    position = _skip(text, 0)
    if position >= len(text) or text[position] != "{":
        return None
    position += 1
    while True:
        position = _skip(text, position)
        try:
            key, position = decoder.raw_decode(text, position)
            position = _skip(text, position)
            if text[position] != ":":
                break
            position = _skip(text, position + 1)
            if key == "entry" and text[position] == "[":
                out["entry"] = _entries(text, position + 1, decoder)
                break
            value, position = decoder.raw_decode(text, position)
        except (ValueError, IndexError):
            break
        out[str(key)] = value
        position = _skip(text, position)
        if position >= len(text) or text[position] != ",":
            break
        position += 1
    header = (out.get("entry") or [{}])[0].get("resource", {}) if out.get("entry") else {}
    if out.get("resourceType") != "Bundle" or header.get("resourceType") != "MessageHeader":
        return None
    return out


def _skip(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _entries(text: str, position: int, decoder: json.JSONDecoder) -> list[dict[str, Any]]:
    entries = []
    while True:
        position = _skip(text, position)
        try:
            entry, position = decoder.raw_decode(text, position)
        except ValueError:
            return entries
        if isinstance(entry, dict):
            entries.append(entry)
        position = _skip(text, position)
        if position >= len(text) or text[position] != ",":
            return entries
        position += 1


def head_envelope(head: bytes) -> Envelope | None:
    """The header of an SBDH envelope whose beginning is ``head`` (its message not read: an empty Bundle),
    or None when the header is not whole in it."""
    end = _HEADER_END.search(head)
    start = head.find(b"<", head.find(b"?>") + 2 if head.lstrip().startswith(b"<?xml") else 0)
    if end is None or start < 0:
        return None
    text = head[start:end.end()] + b"</" + head[start + 1:].split(b" ", 1)[0].split(b">", 1)[0] + b">"
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(text, parser)
    except etree.XMLSyntaxError:
        return None
    if root.tag != f"{{{SBDH_NS}}}{ROOT}":
        return None
    ns = {"s": SBDH_NS}
    header = "s:StandardBusinessDocumentHeader"

    def value(path: str, at: Any = None) -> str:
        return ((at if at is not None else root).findtext(path, namespaces=ns) or "").strip()

    scopes = {value("s:Type", s): value("s:InstanceIdentifier", s)
              for s in root.findall(f"{header}/s:BusinessScope/s:Scope", ns)}
    identification = f"{header}/s:DocumentIdentification"
    return Envelope(value(f"{header}/s:Sender/s:Identifier").removeprefix("0088:"),
                    value(f"{header}/s:Receiver/s:Identifier").removeprefix("0088:"),
                    value(f"{identification}/s:InstanceIdentifier"), value(f"{identification}/s:Standard"),
                    value(f"{identification}/s:TypeVersion"), value(f"{identification}/s:CreationDateAndTime"),
                    {}, scopes)
