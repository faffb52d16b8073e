"""The ebRIM 3.0 registry objects XDS.b metadata is made of (ITI TF-3 §4.2.3, OASIS ebRIM 3.0 §2-§4).

Dataclasses for Slot, LocalizedString, Classification, ExternalIdentifier, ExtrinsicObject
(DocumentEntry), RegistryPackage (SubmissionSet, Folder), Association and ObjectRef; :func:`parse_object`
reads one from XML keeping its element path (``path``, for error messages, not compared), and
:func:`write_object` writes it back in schema order (Slot*, Name, Description, VersionInfo,
Classification*, ExternalIdentifier*), so parse → write → parse gives an equal object.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import ClassVar

from lxml import etree

from nsp_sandbox.xds import namespaces as ns
from nsp_sandbox.xds.errors import XdsWireError
from nsp_sandbox.xds.vocabulary import DOCUMENT_ENTRY_ON_DEMAND
from nsp_sandbox.xds.xml import children, elements, local_name, namespace_of, required_attribute, step, sub

_XML_LANG = f"{{{ns.XML}}}lang"


@dataclass
class LocalizedString:
    """One ``rim:LocalizedString`` of a Name or Description (ebRIM 3.0 §2.8.5)."""

    value: str
    lang: str | None = None
    charset: str | None = None


@dataclass
class Slot:
    """A named list of string values (ebRIM 3.0 §2.8.3); XDS puts most DocumentEntry attributes here."""

    name: str
    values: list[str] = field(default_factory=list)
    slot_type: str | None = None


@dataclass(kw_only=True)
class RegistryObject:
    """What every registry object has: ids, status, slots, name, description, version, classifications
    and external identifiers (ebRIM 3.0 §2.7 RegistryObjectType)."""

    TAG: ClassVar[str] = "RegistryObject"
    ATTRIBUTES: ClassVar[dict[str, str]] = {}  # XML attribute → field, beyond the common ones

    id: str = ""
    lid: str | None = None
    object_type: str | None = None
    status: str | None = None
    home: str | None = None
    slots: list[Slot] = field(default_factory=list)
    name: list[LocalizedString] = field(default_factory=list)
    description: list[LocalizedString] = field(default_factory=list)
    version_name: str | None = None
    classifications: list[Classification] = field(default_factory=list)
    external_identifiers: list[ExternalIdentifier] = field(default_factory=list)
    path: str = field(default="", compare=False, repr=False)

    def slot_values(self, name: str) -> list[str]:
        """All values of the slot ``name`` (empty when absent)."""
        return next((slot.values for slot in self.slots if slot.name == name), [])

    def slot_value(self, name: str) -> str | None:
        values = self.slot_values(name)
        return values[0] if values else None

    def classified(self, scheme: str) -> list[Classification]:
        """The nested classifications in ``scheme`` (a classificationScheme UUID)."""
        return [c for c in self.classifications if c.classification_scheme == scheme]

    def external_id(self, scheme: str) -> ExternalIdentifier | None:
        """The nested external identifier in ``scheme`` (an identificationScheme UUID)."""
        return next((e for e in self.external_identifiers if e.identification_scheme == scheme), None)

    @property
    def title(self) -> str | None:
        return self.name[0].value if self.name else None


@dataclass(kw_only=True)
class Classification(RegistryObject):
    """A classification: external (scheme + nodeRepresentation, e.g. classCode) or internal (classificationNode,
    e.g. the SubmissionSet marker). Coded values carry the ``codingScheme`` slot and a display Name."""

    TAG: ClassVar[str] = "Classification"
    ATTRIBUTES: ClassVar[dict[str, str]] = {
        "classificationScheme": "classification_scheme", "classifiedObject": "classified_object",
        "classificationNode": "classification_node", "nodeRepresentation": "node_representation",
    }  # fmt: skip

    classification_scheme: str | None = None
    classified_object: str = ""
    classification_node: str | None = None
    node_representation: str | None = None

    @property
    def coding_scheme(self) -> str | None:
        return self.slot_value("codingScheme")


@dataclass(kw_only=True)
class ExternalIdentifier(RegistryObject):
    """An identifier of a registry object in an identification scheme (uniqueId, patientId, sourceId)."""

    TAG: ClassVar[str] = "ExternalIdentifier"
    ATTRIBUTES: ClassVar[dict[str, str]] = {
        "identificationScheme": "identification_scheme", "registryObject": "registry_object", "value": "value",
    }  # fmt: skip

    identification_scheme: str = ""
    registry_object: str | None = None
    value: str = ""


@dataclass(kw_only=True)
class ExtrinsicObject(RegistryObject):
    """An XDS DocumentEntry (ITI TF-3 §4.2.3.2); ``object_type`` tells stable from on-demand."""

    TAG: ClassVar[str] = "ExtrinsicObject"
    ATTRIBUTES: ClassVar[dict[str, str]] = {"mimeType": "mime_type", "isOpaque": "is_opaque"}

    mime_type: str | None = None
    is_opaque: str | None = None

    @property
    def is_on_demand(self) -> bool:
        return self.object_type == DOCUMENT_ENTRY_ON_DEMAND


@dataclass(kw_only=True)
class RegistryPackage(RegistryObject):
    """An XDS SubmissionSet or Folder (ITI TF-3 §4.2.3.3-4), told apart by its classification node."""

    TAG: ClassVar[str] = "RegistryPackage"


@dataclass(kw_only=True)
class Association(RegistryObject):
    """A typed link from ``source_object`` to ``target_object`` (ITI TF-3 §4.2.2: HasMember, RPLC, APND, XFRM,
    XFRM_RPLC, signs, UpdateAvailabilityStatus)."""

    TAG: ClassVar[str] = "Association"
    ATTRIBUTES: ClassVar[dict[str, str]] = {
        "associationType": "association_type", "sourceObject": "source_object", "targetObject": "target_object",
    }  # fmt: skip

    association_type: str = ""
    source_object: str = ""
    target_object: str = ""


@dataclass
class ObjectRef:
    """A reference to a registry object by id (ebRIM 3.0 §2.7.1; ITI-18 ``returnType="ObjectRef"``)."""

    id: str
    home: str | None = None
    path: str = field(default="", compare=False, repr=False)


AnyObject = RegistryObject | ObjectRef
_COMMON = {"id": "id", "lid": "lid", "objectType": "object_type", "status": "status", "home": "home"}
_CLASSES: dict[str, type[RegistryObject]] = {
    cls.TAG: cls for cls in (Classification, ExternalIdentifier, ExtrinsicObject, RegistryPackage, Association)
}
_REQUIRED = {"Classification": ("classifiedObject",), "ExternalIdentifier": ("identificationScheme", "value"),
             "Association": ("associationType", "sourceObject", "targetObject")}  # fmt: skip


def _strings(parent: etree._Element, name: str, path: str) -> list[LocalizedString]:
    found = children(parent, ns.RIM, name)
    if len(found) > 1:
        raise XdsWireError(f"{name} appears {len(found)} times, at most once allowed", path)
    if not found:
        return []
    result = []
    for index, item in enumerate(children(found[0], ns.RIM, "LocalizedString"), 1):
        value = required_attribute(item, "value", step(step(path, name), "LocalizedString", index))
        result.append(LocalizedString(value, item.get(_XML_LANG), item.get("charset")))
    return result


def parse_slots(parent: etree._Element, path: str) -> list[Slot]:
    """The ``rim:Slot`` children; a slot needs a name, and names are unique within one object."""
    slots: list[Slot] = []
    for index, element in enumerate(children(parent, ns.RIM, "Slot"), 1):
        where = step(path, "Slot", index)
        name = required_attribute(element, "name", where)
        if any(slot.name == name for slot in slots):
            raise XdsWireError(f"slot {name!r} appears twice", where, xds_code="XDSRegistryMetadataError")
        values = [(v.text or "").strip() for v in element.iterfind(f"{{{ns.RIM}}}ValueList/{{{ns.RIM}}}Value")]
        slots.append(Slot(name, values, element.get("slotType")))
    return slots


def _nested(parent: etree._Element, cls: type[RegistryObject], path: str) -> list:
    return [_parse_registry_object(e, cls, step(path, cls.TAG, i))
            for i, e in enumerate(children(parent, ns.RIM, cls.TAG), 1)]  # fmt: skip


def _parse_registry_object(element: etree._Element, cls: type[RegistryObject], path: str) -> RegistryObject:
    values: dict[str, object] = {"path": path, "id": required_attribute(element, "id", path)}
    for attribute in _REQUIRED.get(cls.TAG, ()):
        required_attribute(element, attribute, path)
    for attribute, name in {**_COMMON, **cls.ATTRIBUTES}.items():
        if attribute != "id" and element.get(attribute) is not None:
            values[name] = element.get(attribute)
    version = element.find(f"{{{ns.RIM}}}VersionInfo")
    values.update(
        slots=parse_slots(element, path),
        name=_strings(element, "Name", path),
        description=_strings(element, "Description", path),
        version_name=version.get("versionName") if version is not None else None,
        classifications=_nested(element, Classification, path),
        external_identifiers=_nested(element, ExternalIdentifier, path),
    )
    return cls(**values)  # type: ignore[arg-type]


def parse_object(element: etree._Element, path: str) -> AnyObject:
    """One registry object element (any of the ebRIM classes above, or ObjectRef)."""
    name = local_name(element)
    if namespace_of(element) != ns.RIM:
        raise XdsWireError(f"{name} is not in the ebRIM 3.0 namespace", path)
    if name == "ObjectRef":
        return ObjectRef(required_attribute(element, "id", path), element.get("home"), path)
    if name not in _CLASSES:
        raise XdsWireError(f"unsupported registry object {name}", path, xds_code="XDSRegistryMetadataError")
    return _parse_registry_object(element, _CLASSES[name], path)


def parse_object_list(element: etree._Element, path: str) -> list[AnyObject]:
    """The children of a ``rim:RegistryObjectList``, in document order, each with its own path."""
    counts: dict[str, int] = {}
    result: list[AnyObject] = []
    for item in elements(element):
        name = local_name(item)
        counts[name] = counts.get(name, 0) + 1
        result.append(parse_object(item, step(path, name, counts[name])))
    return result


def _write_strings(parent: etree._Element, name: str, strings: Sequence[LocalizedString]) -> None:
    if strings:
        holder = sub(parent, ns.RIM, name)
        for item in strings:
            sub(holder, ns.RIM, "LocalizedString", {_XML_LANG: item.lang, "charset": item.charset, "value": item.value})


def write_slots(parent: etree._Element, slots: Sequence[Slot]) -> None:
    for slot in slots:
        element = sub(parent, ns.RIM, "Slot", {"name": slot.name, "slotType": slot.slot_type})
        value_list = sub(element, ns.RIM, "ValueList")
        for value in slot.values:
            sub(value_list, ns.RIM, "Value", text=value)


def write_object(parent: etree._Element, obj: AnyObject) -> etree._Element:
    """Append ``obj`` to ``parent`` as its ebRIM element, in schema order."""
    if isinstance(obj, ObjectRef):
        return sub(parent, ns.RIM, "ObjectRef", {"id": obj.id, "home": obj.home})
    names = {f.name for f in fields(obj)}
    attributes = {xml: getattr(obj, name) for xml, name in {**_COMMON, **obj.ATTRIBUTES}.items() if name in names}
    element = sub(parent, ns.RIM, obj.TAG, attributes)
    write_slots(element, obj.slots)
    _write_strings(element, "Name", obj.name)
    _write_strings(element, "Description", obj.description)
    if obj.version_name is not None:
        sub(element, ns.RIM, "VersionInfo", {"versionName": obj.version_name})
    for nested in (*obj.classifications, *obj.external_identifiers):
        write_object(element, nested)
    return element
