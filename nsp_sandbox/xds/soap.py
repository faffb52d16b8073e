"""SOAP 1.1 / 1.2 envelopes with WS-Addressing, as IHE XDS.b carries them (ITI TF-2 Appendix V).

:func:`parse_envelope` reads a request into an :class:`Envelope` (version, header blocks, the one body
payload, the WS-Addressing headers); :func:`response_envelope` answers in the same SOAP version with
``wsa:Action`` set to the transaction's response action and ``wsa:RelatesTo`` the request's MessageID;
:class:`SoapFault` is a fault as a value, written in the SOAP 1.1 form (``faultcode``/``faultstring``,
SOAP 1.1 §4.4) or the SOAP 1.2 form (``Code``/``Reason``/``Detail``, SOAP 1.2 Part 1 §5.4).
Every malformed input raises :class:`~nsp_sandbox.xds.errors.XdsWireError` naming what and where.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum

from lxml import etree

from nsp_sandbox.xds import namespaces as ns
from nsp_sandbox.xds.errors import FaultSide, XdsWireError
from nsp_sandbox.xds.vocabulary import FAULT_ACTION, RESPONSE_ACTIONS
from nsp_sandbox.xds.xml import elements, local_name, namespace_of, parse_xml, step, sub, text_of


class SoapVersion(Enum):
    """The two SOAP versions; the value is the envelope namespace."""

    SOAP11 = ns.SOAP11
    SOAP12 = ns.SOAP12

    @property
    def namespace(self) -> str:
        return self.value

    def content_type(self, action: str | None = None) -> str:
        """HTTP Content-Type of a plain (non-MTOM) message: SOAP 1.1 ``text/xml``, SOAP 1.2
        ``application/soap+xml`` with the ``action`` parameter (RFC 3902)."""
        if self is SoapVersion.SOAP11:
            return "text/xml; charset=utf-8"
        return "application/soap+xml; charset=utf-8" + (f'; action="{action}"' if action else "")


_WSA_NAMESPACES = (ns.WSA, ns.WSA_2004)


@dataclass(frozen=True)
class Addressing:
    """The WS-Addressing message information headers of a message (WS-Addressing 1.0 SOAP Binding §2)."""

    action: str | None = None
    message_id: str | None = None
    to: str | None = None
    reply_to: str | None = None
    relates_to: str | None = None
    namespace: str = ns.WSA


@dataclass
class Envelope:
    """A parsed SOAP envelope: its version, header blocks, the single body payload and WS-Addressing."""

    version: SoapVersion
    root: etree._Element
    headers: list[etree._Element]
    payload: etree._Element
    addressing: Addressing = field(default_factory=Addressing)

    def header(self, namespace: str, name: str) -> etree._Element | None:
        """The first header block with this name, or None."""
        wanted = f"{{{namespace}}}{name}"
        return next((block for block in self.headers if block.tag == wanted), None)

    def not_understood(self, understood: Iterable[str]) -> list[str]:
        """Clark names of header blocks marked ``mustUnderstand`` that are not in ``understood``
        (SOAP 1.2 Part 1 §5.2.3; SOAP 1.1 §4.2.3): the receiver must fault on any of them."""
        known = set(understood)
        must = f"{{{self.version.namespace}}}mustUnderstand"
        return [b.tag for b in self.headers if b.get(must, "").strip() in ("1", "true") and b.tag not in known]


def parse_envelope(data: bytes, location: str = "Envelope") -> Envelope:
    """Parse a SOAP 1.1 or 1.2 envelope; the body must hold exactly one payload element (WS-I BP R2201)."""
    root = parse_xml(data, location)
    name, namespace = local_name(root), namespace_of(root)
    if name != "Envelope":
        raise XdsWireError(f"the root element is {name}, not a SOAP Envelope", "/" + name)
    try:
        version = SoapVersion(namespace)
    except ValueError:
        raise XdsWireError(f"unknown SOAP envelope namespace {namespace!r}", "/Envelope",
                           side="VersionMismatch") from None  # fmt: skip
    header_element: etree._Element | None = None
    body: etree._Element | None = None
    for index, part in enumerate(elements(root)):
        part_name = local_name(part) if namespace_of(part) == namespace else etree.QName(part).text
        if part_name == "Header" and header_element is None and body is None and index == 0:
            header_element = part
        elif part_name == "Body" and body is None:
            body = part
        else:
            raise XdsWireError(f"unexpected element {part_name} in the SOAP Envelope", "/Envelope")
    if body is None:
        raise XdsWireError("the SOAP Envelope has no Body", "/Envelope")
    payloads = list(elements(body))
    if len(payloads) != 1:
        raise XdsWireError(f"the SOAP Body must hold exactly one element, it holds {len(payloads)}", "/Envelope/Body")
    headers = list(elements(header_element)) if header_element is not None else []
    return Envelope(version, root, headers, payloads[0], parse_addressing(headers))


def _single(headers: Sequence[etree._Element], namespace: str, name: str) -> etree._Element | None:
    found = [h for h in headers if h.tag == f"{{{namespace}}}{name}"]
    if len(found) > 1:
        raise XdsWireError(f"WS-Addressing header {name} appears {len(found)} times",
                           step("/Envelope/Header", name))  # fmt: skip
    return found[0] if found else None


def _endpoint(element: etree._Element | None, namespace: str) -> str | None:
    """An endpoint reference's Address; a bare URI as text is tolerated (seen in DRS traffic)."""
    if element is None:
        return None
    address = element.find(f"{{{namespace}}}Address")
    return text_of(address if address is not None else element) or None


def parse_addressing(headers: Sequence[etree._Element]) -> Addressing:
    """Read Action, MessageID, To, ReplyTo and RelatesTo (WS-Addressing 1.0, or the 2004/08 draft)."""
    namespace = next((n for n in _WSA_NAMESPACES for h in headers if namespace_of(h) == n), ns.WSA)

    def value(name: str) -> str | None:
        return text_of(_single(headers, namespace, name)) or None

    reply_to = _endpoint(_single(headers, namespace, "ReplyTo"), namespace)
    return Addressing(value("Action"), value("MessageID"), value("To"), reply_to, value("RelatesTo"), namespace)


def new_message_id() -> str:
    return f"urn:uuid:{uuid.uuid4()}"


def build_envelope(
    version: SoapVersion,
    payload: etree._Element | None,
    *,
    addressing: Addressing | None = None,
    extra_headers: Sequence[etree._Element] = (),
) -> etree._Element:
    """A new envelope: WS-Addressing headers first (Action with mustUnderstand), then ``extra_headers``."""
    env = version.namespace
    nsmap = {"soap" if version is SoapVersion.SOAP11 else "env": env}
    if addressing is not None:
        nsmap["wsa"] = addressing.namespace
    root = etree.Element(f"{{{env}}}Envelope", nsmap=nsmap)
    header = sub(root, env, "Header")
    if addressing is not None:
        wsa = addressing.namespace
        if addressing.action:
            sub(header, wsa, "Action", {f"{{{env}}}mustUnderstand": "1"}, addressing.action)
        for name, text in (("MessageID", addressing.message_id), ("To", addressing.to),
                           ("RelatesTo", addressing.relates_to)):  # fmt: skip
            if text:
                sub(header, wsa, name, text=text)
        if addressing.reply_to:
            sub(sub(header, wsa, "ReplyTo"), wsa, "Address", text=addressing.reply_to)
    for block in extra_headers:
        header.append(copy.deepcopy(block))
    if len(header) == 0:
        root.remove(header)
    body = sub(root, env, "Body")
    if payload is not None:
        body.append(payload)
    return root


def serialize(root: etree._Element) -> bytes:
    """UTF-8 bytes with an XML declaration."""
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def response_action(request: Envelope, soap_action: str | None = None) -> str:
    """The response action for the request's action (wsa:Action, else the SOAPAction header)."""
    action = request.addressing.action or (soap_action or "").strip().strip('"')
    if action not in RESPONSE_ACTIONS:
        raise XdsWireError(f"unknown or missing action {action!r}", "/Envelope/Header/Action")
    return RESPONSE_ACTIONS[action]


def response_envelope(
    request: Envelope,
    payload: etree._Element,
    *,
    action: str | None = None,
    extra_headers: Sequence[etree._Element] = (),
) -> etree._Element:
    """The answer to ``request``: same SOAP version and WS-Addressing namespace, ``Action`` = the
    transaction's response action (or ``action``), ``RelatesTo`` = the request's MessageID."""
    addressing = Addressing(
        action=action or response_action(request),
        message_id=new_message_id(),
        relates_to=request.addressing.message_id,
        namespace=request.addressing.namespace,
    )
    return build_envelope(request.version, payload, addressing=addressing, extra_headers=extra_headers)


_SOAP11_CODES: dict[str, FaultSide] = {"Client": "Sender", "Server": "Receiver", "VersionMismatch": "VersionMismatch",
                                      "MustUnderstand": "MustUnderstand"}  # fmt: skip
_SOAP11_NAMES = {side: name for name, side in _SOAP11_CODES.items()}
_SOAP12_CODES: dict[str, FaultSide] = {side: side for side in _SOAP11_CODES.values()}


@dataclass(frozen=True)
class SoapFault:
    """A SOAP fault as a value. ``side`` is the SOAP 1.2 code (Sender/Receiver/…; SOAP 1.1 Client/Server),
    ``subcode`` an optional Clark-notation QName (SOAP 1.2 only), ``detail`` child elements of the detail."""

    side: FaultSide
    reason: str
    subcode: str | None = None
    detail: tuple[etree._Element, ...] = ()
    lang: str = "en"

    @classmethod
    def from_error(cls, error: XdsWireError) -> SoapFault:
        """The fault for a wire error: its message and location as the reason."""
        return cls(error.side, str(error))

    def element(self, version: SoapVersion) -> etree._Element:
        """The ``Fault`` element in the given version's form."""
        env = version.namespace
        fault = etree.Element(f"{{{env}}}Fault", nsmap={"soap" if version is SoapVersion.SOAP11 else "env": env})
        prefix = fault.prefix
        if version is SoapVersion.SOAP11:
            etree.SubElement(fault, "faultcode").text = f"{prefix}:{_SOAP11_NAMES[self.side]}"
            etree.SubElement(fault, "faultstring").text = self.reason
            detail_tag = "detail"
        else:
            code = sub(fault, env, "Code")
            sub(code, env, "Value", text=f"{prefix}:{self.side}")
            if self.subcode:
                qn = etree.QName(self.subcode)
                subcode = sub(code, env, "Subcode")
                nsmap = {"sc": qn.namespace} if qn.namespace else None
                value = etree.SubElement(subcode, f"{{{env}}}Value", nsmap=nsmap)
                value.text = f"sc:{qn.localname}" if qn.namespace else qn.localname
            reason = sub(fault, env, "Reason")
            sub(reason, env, "Text", {f"{{{ns.XML}}}lang": self.lang}, self.reason)
            detail_tag = f"{{{env}}}Detail"
        if self.detail:
            detail = etree.SubElement(fault, detail_tag)
            for block in self.detail:
                detail.append(copy.deepcopy(block))
        return fault

    def envelope(self, version: SoapVersion, relates_to: str | None = None, wsa_namespace: str = ns.WSA) -> bytes:
        """A whole fault message (WS-Addressing fault action, RelatesTo the failed request)."""
        addressing = Addressing(FAULT_ACTION, new_message_id(), relates_to=relates_to, namespace=wsa_namespace)
        return serialize(build_envelope(version, self.element(version), addressing=addressing))


def _fault_code(text: str, scope: etree._Element, location: str) -> str:
    """Resolve a fault code QName written as ``prefix:local`` to its local part."""
    prefix, _, local = text.strip().rpartition(":")
    if prefix and scope.nsmap.get(prefix) is None:
        raise XdsWireError(f"fault code {text!r} uses an undeclared prefix", location)
    return local


def parse_fault(fault: etree._Element, version: SoapVersion) -> SoapFault:
    """Read a ``Fault`` payload in either version's form back into a :class:`SoapFault`."""
    env = version.namespace
    location = "/Envelope/Body/Fault"
    if version is SoapVersion.SOAP11:
        code_text = text_of(fault.find("faultcode"))
        side = _SOAP11_CODES.get(_fault_code(code_text, fault, location + "/faultcode"))
        reason, subcode, detail = text_of(fault.find("faultstring")), None, fault.find("detail")
    else:
        value = fault.find(f"{{{env}}}Code/{{{env}}}Value")
        code_text = text_of(value)
        local = _fault_code(code_text, fault, location + "/Code/Value")
        side = _SOAP12_CODES.get(local)
        sub_value = fault.find(f"{{{env}}}Code/{{{env}}}Subcode/{{{env}}}Value")
        subcode = None
        if sub_value is not None:
            prefix, _, sub_local = text_of(sub_value).rpartition(":")
            sub_ns = sub_value.nsmap.get(prefix) if prefix else None
            subcode = f"{{{sub_ns}}}{sub_local}" if sub_ns else sub_local
        reason, detail = text_of(fault.find(f"{{{env}}}Reason/{{{env}}}Text")), fault.find(f"{{{env}}}Detail")
    if side is None:
        raise XdsWireError(f"unknown SOAP fault code {code_text!r}", location)
    blocks = tuple(elements(detail)) if detail is not None else ()
    return SoapFault(side, reason, subcode, blocks)
