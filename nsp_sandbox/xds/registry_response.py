"""``rs:RegistryResponse`` and its ``RegistryErrorList`` (ebRS 3.0 §2.1.3; ITI TF-3 §4.2.4): the answer of
ITI-41/42/57/61 and the status part of ITI-18/43 responses.

Status is Success, Failure or PartialSuccess; each :class:`RegistryError` names the XDS error code
(ITI TF-3 Table 4.2.4.1-2), a context text, the location and its severity (Error or Warning).
``highestSeverity`` is computed when written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from nsp_sandbox.xds import namespaces as ns
from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.errors import XdsWireError
from nsp_sandbox.xds.xml import children, required_attribute, step, sub

# Accepted spellings of the status (ebRS 3.0 names Success/Failure; IHE adds PartialSuccess in its own URN).
_STATUS_WORDS = {
    v.RESPONSE_SUCCESS: "Success", v.RESPONSE_FAILURE: "Failure", v.RESPONSE_PARTIAL_SUCCESS: "PartialSuccess",
    "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:PartialSuccess": "PartialSuccess",
}  # fmt: skip
_SEVERITIES = {v.SEVERITY_ERROR: "Error", v.SEVERITY_WARNING: "Warning"}


@dataclass
class RegistryError:
    """One ``rs:RegistryError``."""

    error_code: str
    code_context: str = ""
    location: str | None = None
    severity: str = v.SEVERITY_ERROR
    value: str | None = None  # the element's text content, rarely used
    path: str = field(default="", compare=False, repr=False)

    @property
    def is_error(self) -> bool:
        return self.severity == v.SEVERITY_ERROR

    @classmethod
    def from_wire_error(cls, error: XdsWireError) -> RegistryError:
        """The registry error reporting a wire error (its code, message and location)."""
        return cls(error.xds_code, error.message, error.location or None)


@dataclass
class RegistryResponse:
    """``rs:RegistryResponse``: status URN and errors (``status_word`` gives Success/Failure/PartialSuccess)."""

    status: str = v.RESPONSE_SUCCESS
    errors: list[RegistryError] = field(default_factory=list)
    request_id: str | None = None
    path: str = field(default="", compare=False, repr=False)

    @property
    def status_word(self) -> str:
        return _STATUS_WORDS[self.status]

    @classmethod
    def for_errors(cls, errors: list[RegistryError], *, partial: bool = False) -> RegistryResponse:
        """Failure if any error has severity Error (PartialSuccess when ``partial``), else Success."""
        if any(e.is_error for e in errors):
            return cls(v.RESPONSE_PARTIAL_SUCCESS if partial else v.RESPONSE_FAILURE, errors)
        return cls(v.RESPONSE_SUCCESS, errors)


def parse_status(element: etree._Element, path: str) -> str:
    status = required_attribute(element, "status", path)
    if status not in _STATUS_WORDS:
        raise XdsWireError(f"unknown response status {status!r}", path)
    return status


def parse_error_list(parent: etree._Element, path: str) -> list[RegistryError]:
    """The errors of a ``rs:RegistryErrorList`` child of ``parent`` (empty when absent)."""
    lists = children(parent, ns.RS, "RegistryErrorList")
    if not lists:
        return []
    where_list = step(path, "RegistryErrorList")
    errors = []
    for index, item in enumerate(children(lists[0], ns.RS, "RegistryError"), 1):
        where = step(where_list, "RegistryError", index)
        severity = required_attribute(item, "severity", where)
        if severity not in _SEVERITIES:
            raise XdsWireError(f"unknown error severity {severity!r}", where)
        code = required_attribute(item, "errorCode", where)
        text = (item.text or "").strip() or None
        errors.append(RegistryError(code, item.get("codeContext", ""), item.get("location"), severity, text, where))
    return errors


def write_error_list(parent: etree._Element, errors: list[RegistryError]) -> None:
    if not errors:
        return
    highest = v.SEVERITY_ERROR if any(e.is_error for e in errors) else v.SEVERITY_WARNING
    holder = sub(parent, ns.RS, "RegistryErrorList", {"highestSeverity": highest})
    for error in errors:
        attributes = {"errorCode": error.error_code, "codeContext": error.code_context,
                      "location": error.location, "severity": error.severity}  # fmt: skip
        sub(holder, ns.RS, "RegistryError", attributes, error.value)


def parse_registry_response(element: etree._Element, path: str = "/Envelope/Body/RegistryResponse") -> RegistryResponse:
    if element.tag != f"{{{ns.RS}}}RegistryResponse":
        raise XdsWireError(f"expected rs:RegistryResponse, found {etree.QName(element).text}", path)
    return RegistryResponse(parse_status(element, path), parse_error_list(element, path), element.get("requestId"),
                            path)  # fmt: skip


def write_registry_response(response: RegistryResponse, parent: etree._Element | None = None) -> etree._Element:
    tag = f"{{{ns.RS}}}RegistryResponse"
    nsmap = {"rs": ns.RS}
    element = etree.Element(tag, nsmap=nsmap) if parent is None else etree.SubElement(parent, tag, nsmap=nsmap)
    element.set("status", response.status)
    if response.request_id:
        element.set("requestId", response.request_id)
    write_error_list(element, response.errors)
    return element
