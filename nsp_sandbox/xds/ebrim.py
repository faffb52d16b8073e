"""The XDS.b submission messages in ebRIM: SubmitObjectsRequest (ITI-42, ITI-57, ITI-61), the ITI-41
ProvideAndRegisterDocumentSetRequest with its documents, and typed readings of the metadata (coded
values, authors, patient ids) — ITI TF-3 §4.2.3 and §4.1 (ITI-57 metadata update).

The model keeps every object of the ``rim:RegistryObjectList`` in order (:mod:`nsp_sandbox.xds.rim`);
the accessors sort them into the SubmissionSet, DocumentEntries, Folders and Associations the way
ITI TF-3 §4.2.1 identifies them (a RegistryPackage classified by the SubmissionSet or Folder node).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field

from lxml import etree

from nsp_sandbox.xds import namespaces as ns
from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.errors import XdsWireError
from nsp_sandbox.xds.hl7v2 import CX, XCN, XON
from nsp_sandbox.xds.mtom import document_bytes
from nsp_sandbox.xds.rim import (
    AnyObject,
    Association,
    Classification,
    ExtrinsicObject,
    RegistryObject,
    RegistryPackage,
    Slot,
    parse_object_list,
    parse_slots,
    write_object,
    write_slots,
)
from nsp_sandbox.xds.xml import children, local_name, namespace_of, required_attribute, required_child, step, sub

_METADATA_ERROR = v.XDS_REGISTRY_METADATA_ERROR


@dataclass(frozen=True)
class Code:
    """A coded value from a classification: ``nodeRepresentation``, its ``codingScheme`` slot, its display."""

    code: str
    scheme: str | None
    display: str | None = None

    @classmethod
    def of(cls, classification: Classification) -> Code:
        if not classification.node_representation:
            raise XdsWireError("a coded classification has no nodeRepresentation", classification.path,
                               xds_code=_METADATA_ERROR)  # fmt: skip
        return cls(classification.node_representation, classification.coding_scheme, classification.title)

    @classmethod
    def parse(cls, text: str, location: str = "code") -> Code:
        """The query form ``code^^scheme`` (ITI TF-2 §3.18.4.1.2.3.7: coded parameters)."""
        code, sep, scheme = text.partition("^^")
        if not code or not sep or not scheme or "^" in scheme:
            raise XdsWireError(f"a coded value must be 'code^^scheme', got {text!r}", location)
        return cls(code, scheme)

    def format(self) -> str:
        return f"{self.code}^^{self.scheme or ''}"


@dataclass(frozen=True)
class Author:
    """An author classification (ITI TF-3 §4.2.3.1.4): person, institutions, roles, specialties, telecom."""

    person: XCN | None
    institutions: tuple[XON, ...]
    roles: tuple[str, ...] = ()
    specialties: tuple[str, ...] = ()
    telecommunications: tuple[str, ...] = ()

    @classmethod
    def of(cls, classification: Classification) -> Author:
        path = classification.path
        people = classification.slot_values("authorPerson")
        if len(people) > 1:
            raise XdsWireError("authorPerson holds more than one value", path, xds_code=_METADATA_ERROR)
        person = XCN.parse(people[0], step(path, "Slot[@name='authorPerson']")) if people else None
        where = step(path, "Slot[@name='authorInstitution']")
        institutions = tuple(XON.parse(text, where) for text in classification.slot_values("authorInstitution"))
        return cls(person, institutions, tuple(classification.slot_values("authorRole")),
                   tuple(classification.slot_values("authorSpecialty")),
                   tuple(classification.slot_values("authorTelecommunication")))  # fmt: skip


def codes(obj: RegistryObject, scheme: str) -> list[Code]:
    """The coded values of ``obj`` in a classification scheme (e.g. ``vocabulary.DE_CLASS_CODE``)."""
    return [Code.of(c) for c in obj.classified(scheme)]


def authors(obj: RegistryObject) -> list[Author]:
    """The authors of a DocumentEntry or SubmissionSet."""
    scheme = v.DE_AUTHOR if isinstance(obj, ExtrinsicObject) else v.SS_AUTHOR
    return [Author.of(c) for c in obj.classified(scheme)]


def identifier(obj: RegistryObject, scheme: str) -> str:
    """The value of a required external identifier (uniqueId, patientId, sourceId)."""
    found = obj.external_id(scheme)
    if found is None:
        label = v.EXTERNAL_IDENTIFIER_NAMES.get(scheme, scheme)
        raise XdsWireError(f"{label} is missing on {obj.id}", obj.path, xds_code=_METADATA_ERROR)
    return found.value


def patient_id(obj: RegistryObject) -> CX:
    """The patientId of a DocumentEntry, SubmissionSet or Folder, as a CX."""
    scheme = {ExtrinsicObject: v.DE_PATIENT_ID}.get(type(obj), v.SS_PATIENT_ID)
    if isinstance(obj, RegistryPackage) and obj.external_id(v.FOLDER_PATIENT_ID) is not None:
        scheme = v.FOLDER_PATIENT_ID
    found = obj.external_id(scheme)
    return CX.parse(identifier(obj, scheme), found.path if found else obj.path)


@dataclass
class SubmitObjectsRequest:
    """``lcm:SubmitObjectsRequest``: the metadata of ITI-41/42/57/61 (ITI TF-3 §4.2.1)."""

    objects: list[AnyObject] = field(default_factory=list)
    slots: list[Slot] = field(default_factory=list)
    path: str = field(default="", compare=False, repr=False)

    def _packages(self, node: str) -> list[RegistryPackage]:
        marked = {o.classified_object for o in self.objects if isinstance(o, Classification)
                  and o.classification_node == node}  # fmt: skip
        return [o for o in self.objects if isinstance(o, RegistryPackage) and (o.id in marked or any(
            c.classification_node == node for c in o.classifications))]  # fmt: skip

    @property
    def submission_set(self) -> RegistryPackage:
        """The one SubmissionSet; none or several is a metadata error."""
        found = self._packages(v.SUBMISSION_SET_NODE)
        if len(found) != 1:
            raise XdsWireError(f"a submission holds exactly one SubmissionSet, this one holds {len(found)}",
                               self.path, xds_code=_METADATA_ERROR)  # fmt: skip
        return found[0]

    @property
    def folders(self) -> list[RegistryPackage]:
        return self._packages(v.FOLDER_NODE)

    @property
    def document_entries(self) -> list[ExtrinsicObject]:
        return [o for o in self.objects if isinstance(o, ExtrinsicObject)]

    @property
    def associations(self) -> list[Association]:
        return [o for o in self.objects if isinstance(o, Association)]

    def associations_of_type(self, association_type: str) -> list[Association]:
        return [a for a in self.associations if a.association_type == association_type]

    @property
    def status_updates(self) -> list[StatusUpdate]:
        """ITI-57 availability-status changes carried by UpdateAvailabilityStatus associations."""
        return [StatusUpdate.of(a) for a in self.associations_of_type(v.ASSOC_UPDATE_AVAILABILITY_STATUS)]


@dataclass(frozen=True)
class StatusUpdate:
    """One ITI-57 UpdateAvailabilityStatus: ``target`` goes from ``original`` to ``new`` (ITI TF-3 §4.1.6)."""

    association_id: str
    submission_set: str
    target: str
    original: str
    new: str

    @classmethod
    def of(cls, association: Association) -> StatusUpdate:
        values = {}
        for slot in (v.SLOT_ORIGINAL_STATUS, v.SLOT_NEW_STATUS):
            found = association.slot_values(slot)
            if len(found) != 1 or not found[0]:
                raise XdsWireError(f"UpdateAvailabilityStatus needs exactly one {slot} value", association.path,
                                   xds_code="XDSMetadataUpdateError")  # fmt: skip
            values[slot] = found[0]
        return cls(association.id, association.source_object, association.target_object,
                   values[v.SLOT_ORIGINAL_STATUS], values[v.SLOT_NEW_STATUS])  # fmt: skip

    def association(self) -> Association:
        """The association that carries this update."""
        return Association(
            id=self.association_id, association_type=v.ASSOC_UPDATE_AVAILABILITY_STATUS,
            source_object=self.submission_set, target_object=self.target,
            slots=[Slot(v.SLOT_ORIGINAL_STATUS, [self.original]), Slot(v.SLOT_NEW_STATUS, [self.new])],
        )  # fmt: skip


def parse_submit_objects_request(element: etree._Element, path: str) -> SubmitObjectsRequest:
    """Read an ``lcm:SubmitObjectsRequest`` (its RegistryObjectList is required)."""
    if element.tag != f"{{{ns.LCM}}}SubmitObjectsRequest":
        raise XdsWireError(f"expected lcm:SubmitObjectsRequest, found {local_name(element)}", path)
    object_list = required_child(element, ns.RIM, "RegistryObjectList", path)
    objects = parse_object_list(object_list, step(path, "RegistryObjectList"))
    request_slots = children(element, ns.RIM, "RequestSlotList")
    slots = parse_slots(request_slots[0], step(path, "RequestSlotList")) if request_slots else []
    return SubmitObjectsRequest(objects, slots, path)


def write_submit_objects_request(request: SubmitObjectsRequest, parent: etree._Element | None = None) -> etree._Element:
    """The ``lcm:SubmitObjectsRequest`` element (appended to ``parent`` when given)."""
    nsmap = {"lcm": ns.LCM, "rim": ns.RIM}
    tag = f"{{{ns.LCM}}}SubmitObjectsRequest"
    element = etree.Element(tag, nsmap=nsmap) if parent is None else etree.SubElement(parent, tag, nsmap=nsmap)
    if request.slots:
        write_slots(sub(element, ns.RIM, "RequestSlotList"), request.slots)
    object_list = sub(element, ns.RIM, "RegistryObjectList")
    for obj in request.objects:
        write_object(object_list, obj)
    return element


@dataclass
class Document:
    """One ``xdsb:Document`` of an ITI-41 request: the DocumentEntry id it belongs to and its bytes."""

    id: str
    content: bytes
    path: str = field(default="", compare=False, repr=False)


@dataclass
class ProvideAndRegisterDocumentSetRequest:
    """ITI-41's ``xdsb:ProvideAndRegisterDocumentSetRequest`` (ITI TF-2 §3.41.4.1.2)."""

    submission: SubmitObjectsRequest
    documents: list[Document] = field(default_factory=list)
    path: str = field(default="", compare=False, repr=False)

    def document_for(self, entry_id: str) -> Document | None:
        return next((d for d in self.documents if d.id == entry_id), None)


def parse_provide_and_register(
    element: etree._Element, attachments: Mapping[str, bytes], path: str = "/Envelope/Body"
) -> ProvideAndRegisterDocumentSetRequest:
    """Read an ITI-41 request; each Document's bytes come from its xop:Include or inline base64."""
    if element.tag != f"{{{ns.XDSB}}}ProvideAndRegisterDocumentSetRequest":
        raise XdsWireError(f"expected ProvideAndRegisterDocumentSetRequest, found {local_name(element)} "
                           f"in {namespace_of(element) or 'no namespace'}", path)  # fmt: skip
    path = step(path, "ProvideAndRegisterDocumentSetRequest")
    submit = required_child(element, ns.LCM, "SubmitObjectsRequest", path)
    submission = parse_submit_objects_request(submit, step(path, "SubmitObjectsRequest"))
    documents: list[Document] = []
    for index, item in enumerate(children(element, ns.XDSB, "Document"), 1):
        where = step(path, "Document", index)
        document_id = required_attribute(item, "id", where)
        if any(d.id == document_id for d in documents):
            raise XdsWireError(f"two Documents have id {document_id!r}", where,
                               xds_code="XDSRepositoryDuplicateUniqueIdInMessage")  # fmt: skip
        documents.append(Document(document_id, document_bytes(item, attachments, where), where))
    return ProvideAndRegisterDocumentSetRequest(submission, documents, path)


def write_provide_and_register(request: ProvideAndRegisterDocumentSetRequest) -> etree._Element:
    """The ITI-41 request element with inline base64 documents (``mtom.package`` turns them into parts)."""
    element = etree.Element(f"{{{ns.XDSB}}}ProvideAndRegisterDocumentSetRequest",
                            nsmap={"xdsb": ns.XDSB, "lcm": ns.LCM, "rim": ns.RIM})  # fmt: skip
    write_submit_objects_request(request.submission, element)
    for document in request.documents:
        sub(element, ns.XDSB, "Document", {"id": document.id}, base64.b64encode(document.content).decode("ascii"))
    return element
