"""ITI-18 Registry Stored Query: ``query:AdhocQueryRequest`` and ``query:AdhocQueryResponse``
(ITI TF-2 §3.18.4.1.2 and §3.18.4.1.3; ebRS 3.0 §6).

A request names a stored query by UUID, a return type (LeafClass or ObjectRef) and parameters in
slots. :class:`AdhocQueryRequest` keeps the raw values (so it writes back exactly) and reads them in
the XDS syntax: ``values(name)`` all items (OR), ``groups(name)`` one list per slot (AND of ORs, only
for the parameters TF-2 §3.18.4.1.2.3.6 allows), typed readers for CX patient ids, DTM times and
``code^^scheme`` codes; :meth:`AdhocQueryRequest.problems` checks the parameters against the stored
query's definition (:data:`~nsp_sandbox.xds.vocabulary.STORED_QUERIES`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from nsp_sandbox.digits import whole_number
from nsp_sandbox.xds import namespaces as ns
from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.ebrim import Code
from nsp_sandbox.xds.errors import XdsWireError
from nsp_sandbox.xds.hl7v2 import CX, parse_dtm
from nsp_sandbox.xds.query_values import parse_value
from nsp_sandbox.xds.registry_response import (
    RegistryError,
    parse_error_list,
    parse_status,
    write_error_list,
)
from nsp_sandbox.xds.rim import AnyObject, parse_object_list, write_object
from nsp_sandbox.xds.xml import children, local_name, required_attribute, required_child, step, sub

# Parameters whose repeated Slot elements are ANDed (ITI TF-2 §3.18.4.1.2.3.6).
AND_PARAMETERS = frozenset({
    "$XDSDocumentEntryEventCodeList", "$XDSDocumentEntryConfidentialityCode", "$XDSFolderCodeList",
})  # fmt: skip


@dataclass
class QuerySlot:
    """One parameter slot as sent: its name and the raw text of each ``rim:Value``."""

    name: str
    values: list[str] = field(default_factory=list)
    path: str = field(default="", compare=False, repr=False)


@dataclass
class AdhocQueryRequest:
    """An ITI-18 request."""

    query_id: str
    slots: list[QuerySlot] = field(default_factory=list)
    return_type: str = v.RETURN_LEAF_CLASS
    return_composed_objects: bool = True
    home: str | None = None
    path: str = field(default="", compare=False, repr=False)

    @property
    def stored_query(self) -> v.StoredQuery | None:
        return v.STORED_QUERIES_BY_UUID.get(self.query_id)

    def _slots(self, name: str) -> list[QuerySlot]:
        return [slot for slot in self.slots if slot.name == name]

    def groups(self, name: str) -> list[list[str]]:
        """Items per slot: each inner list is ORed; several lists are ANDed."""
        return [[item for raw in slot.values for item in parse_value(raw, slot.path)] for slot in self._slots(name)]

    def values(self, name: str) -> list[str]:
        """Every item of the parameter (all values of all its slots)."""
        return [item for group in self.groups(name) for item in group]

    @property
    def parameters(self) -> dict[str, list[str]]:
        """Parameter name → items, in the order the slots came."""
        return {slot.name: self.values(slot.name) for slot in self.slots}

    def single(self, name: str) -> str | None:
        """The one item of a single-valued parameter, None when absent; several is an error."""
        items = self.values(name)
        if len(items) > 1:
            where = self._slots(name)[0].path
            raise XdsWireError(f"parameter {name} takes one value, got {len(items)}", where,
                               xds_code=v.XDS_STORED_QUERY_PARAM_NUMBER)  # fmt: skip
        return items[0] if items else None

    def patient_id(self, name: str = "$XDSDocumentEntryPatientId") -> CX | None:
        text = self.single(name)
        return CX.parse(text, self._slots(name)[0].path) if text is not None else None

    def time(self, name: str) -> datetime | None:
        text = self.single(name)
        return parse_dtm(text, self._slots(name)[0].path) if text is not None else None

    def codes(self, name: str) -> list[list[Code]]:
        """Coded parameters (``code^^scheme``) per AND-group."""
        where = self._slots(name)[0].path if self._slots(name) else name
        return [[Code.parse(item, where) for item in group] for group in self.groups(name)]

    def problems(self) -> list[XdsWireError]:
        """What is wrong with the parameters for this stored query (empty when they fit)."""
        query = self.stored_query
        if query is None:
            return [XdsWireError(f"unknown stored query {self.query_id!r}", self.path,
                                 xds_code=v.XDS_UNKNOWN_STORED_QUERY)]  # fmt: skip
        found: list[XdsWireError] = []
        names = [slot.name for slot in self.slots]
        for slot in self.slots:
            if slot.name not in query.parameters:
                found.append(XdsWireError(f"{query.name} takes no parameter {slot.name}", slot.path,
                                          xds_code=v.XDS_STORED_QUERY_PARAM_NUMBER))  # fmt: skip
            elif names.count(slot.name) > 1 and slot.name not in AND_PARAMETERS and slot is self._slots(slot.name)[1]:
                found.append(XdsWireError(f"parameter {slot.name} is given in {names.count(slot.name)} slots",
                                          slot.path, xds_code=v.XDS_STORED_QUERY_PARAM_NUMBER))  # fmt: skip
        for name in query.required:
            if name not in names:
                found.append(XdsWireError(f"{query.name} requires {name}", self.path,
                                          xds_code=v.XDS_STORED_QUERY_MISSING_PARAM))  # fmt: skip
        for group in query.one_of:
            present = [name for name in group if name in names]
            if len(present) != 1:
                found.append(XdsWireError(f"{query.name} requires exactly one of {', '.join(group)}, got "
                                          f"{len(present)}", self.path,
                                          xds_code=v.XDS_STORED_QUERY_PARAM_NUMBER))  # fmt: skip
        return found


def parse_adhoc_query_request(element: etree._Element, path: str = "/Envelope/Body") -> AdhocQueryRequest:
    """Read a ``query:AdhocQueryRequest``."""
    if element.tag != f"{{{ns.QUERY}}}AdhocQueryRequest":
        raise XdsWireError(f"expected query:AdhocQueryRequest, found {local_name(element)}", path)
    path = step(path, "AdhocQueryRequest")
    option = required_child(element, ns.QUERY, "ResponseOption", path)
    return_type = option.get("returnType", v.RETURN_LEAF_CLASS)
    if return_type not in (v.RETURN_LEAF_CLASS, v.RETURN_OBJECT_REF):
        raise XdsWireError(f"returnType must be LeafClass or ObjectRef, got {return_type!r}",
                           step(path, "ResponseOption"))  # fmt: skip
    composed = option.get("returnComposedObjects", "false").strip() in ("true", "1")
    query = required_child(element, ns.RIM, "AdhocQuery", path)
    where = step(path, "AdhocQuery")
    slots = []
    for index, item in enumerate(children(query, ns.RIM, "Slot"), 1):
        slot_path = step(where, "Slot", index)
        values = [(val.text or "").strip() for val in item.iterfind(f"{{{ns.RIM}}}ValueList/{{{ns.RIM}}}Value")]
        slots.append(QuerySlot(required_attribute(item, "name", slot_path), values, slot_path))
    query_id = required_attribute(query, "id", where)
    return AdhocQueryRequest(query_id, slots, return_type, composed, query.get("home"), where)


def write_adhoc_query_request(request: AdhocQueryRequest) -> etree._Element:
    element = etree.Element(f"{{{ns.QUERY}}}AdhocQueryRequest", nsmap={"query": ns.QUERY, "rim": ns.RIM})
    sub(element, ns.QUERY, "ResponseOption", {
        "returnType": request.return_type,
        "returnComposedObjects": "true" if request.return_composed_objects else "false",
    })  # fmt: skip
    query = sub(element, ns.RIM, "AdhocQuery", {"id": request.query_id, "home": request.home})
    for slot in request.slots:
        value_list = sub(sub(query, ns.RIM, "Slot", {"name": slot.name}), ns.RIM, "ValueList")
        for value in slot.values:
            sub(value_list, ns.RIM, "Value", text=value)
    return element


@dataclass
class AdhocQueryResponse:
    """An ITI-18 response: status, errors and the LeafClass objects or ObjectRefs found."""

    status: str = v.RESPONSE_SUCCESS
    objects: list[AnyObject] = field(default_factory=list)
    errors: list[RegistryError] = field(default_factory=list)
    total_result_count: int | None = None
    path: str = field(default="", compare=False, repr=False)


def parse_adhoc_query_response(element: etree._Element, path: str = "/Envelope/Body") -> AdhocQueryResponse:
    if element.tag != f"{{{ns.QUERY}}}AdhocQueryResponse":
        raise XdsWireError(f"expected query:AdhocQueryResponse, found {local_name(element)}", path)
    path = step(path, "AdhocQueryResponse")
    total = element.get("totalResultCount")
    count = None if total is None else whole_number(total.strip())
    if total is not None and count is None:
        raise XdsWireError(f"totalResultCount must be a non-negative integer, got {total[:40]!r}", path)
    object_list = children(element, ns.RIM, "RegistryObjectList")
    objects = parse_object_list(object_list[0], step(path, "RegistryObjectList")) if object_list else []
    return AdhocQueryResponse(parse_status(element, path), objects, parse_error_list(element, path),
                              count, path)


def write_adhoc_query_response(response: AdhocQueryResponse) -> etree._Element:
    element = etree.Element(f"{{{ns.QUERY}}}AdhocQueryResponse",
                            nsmap={"query": ns.QUERY, "rim": ns.RIM, "rs": ns.RS})  # fmt: skip
    element.set("status", response.status)
    if response.total_result_count is not None:
        element.set("totalResultCount", str(response.total_result_count))
    write_error_list(element, response.errors)
    object_list = sub(element, ns.RIM, "RegistryObjectList")
    for obj in response.objects:
        write_object(object_list, obj)
    return element
