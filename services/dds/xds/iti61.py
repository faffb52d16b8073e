"""ITI-61 Register On-Demand Document Entry on DDS's XDS.b face (ITI TF-2 §3.61; dds-nsp.md §1.1).

An on-demand source (the PLSP hub, Fælles Stamkort…) registers entries whose documents it
generates when they are retrieved: an ``lcm:SubmitObjectsRequest`` whose DocumentEntries have
objectType On-Demand (``urn:uuid:34268e47-fdf5-41a6-ba33-82133c465248``) and neither ``hash`` nor
``size`` (ITI TF-3 Table 4.2.3.2-1: prohibited for On-Demand), sent to the DROS endpoint
(``services.dds.xds.dros``) with action ``urn:ihe:iti:2010:RegisterOnDemandDocumentEntry``.

Where DDS retrieves the document: XDS locates an on-demand document by ``repositoryUniqueId``;
DDS (``services.dds.on_demand``) needs the source's absolute http(s) retrieve URL, the
``attachment.url`` the MHD face takes (``services.plsp_hub.dds_registration``). On this face the
DocumentEntry carries it in its ``URI`` slot (the DocumentEntry.URI attribute of ITI TF-3
§4.2.3.2). Then the entry runs the same ITI-65 pipeline as an ITI-41 entry (``iti41.register``)
and is retrieved through ITI-68 / ITI-43 from its source, with DDS's access control.
"""

from __future__ import annotations

from nsp_sandbox.outcome import Issue
from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.ebrim import parse_submit_objects_request
from services.dds.mhd.iti65 import is_source_url
from services.dds.xds.ebrim_entry import SOURCE, Conversion, to_transaction
from services.dds.xds.face import XdsAnswer, XdsCall
from services.dds.xds.iti41 import register

#: The DocumentEntry slot holding an on-demand source's retrieve URL.
SOURCE_URL_SLOT = "URI"


def _problems(conversion: Conversion, request_entries: list, urls: dict[str, str]) -> None:
    for entry in request_entries:
        where = f"ExtrinsicObject[@id='{entry.id}']"
        for slot in ("hash", "size"):
            if entry.slot_value(slot) is not None:
                conversion.issues.append(Issue(
                    "error", "invalid", f"an On-Demand DocumentEntry has no {slot} (ITI TF-3 Table 4.2.3.2-1)",
                    expression=f"{where} Slot {slot}", source=SOURCE, rule="xds-on-demand-no-hash-size",
                    ihe_code=v.XDS_REGISTRY_METADATA_ERROR))
        if entry.id not in urls:
            conversion.issues.append(Issue(
                "error", "required", f"the {SOURCE_URL_SLOT} slot must hold the absolute http(s) URL where the "
                "source generates the document", expression=f"{where} Slot {SOURCE_URL_SLOT}", source=SOURCE,
                rule="dds-on-demand-source-url", ihe_code=v.XDS_REGISTRY_METADATA_ERROR))


def register_on_demand(call: XdsCall) -> XdsAnswer:
    """ITI-61 (blocking: run it in a thread)."""
    def convert() -> Conversion:
        request = parse_submit_objects_request(call.body, "/Envelope/Body/SubmitObjectsRequest")
        urls = {e.id: url for e in request.document_entries
                if is_source_url(url := e.slot_value(SOURCE_URL_SLOT))}
        conversion = to_transaction(request, {}, source_urls=urls, on_demand=True)
        _problems(conversion, request.document_entries, urls)
        return conversion

    return register(call, convert)


async def handle(call: XdsCall) -> XdsAnswer:
    """ITI-61 handler for :func:`~services.dds.xds.face.soap_router`."""
    return await call.deps.context.cpu_lane.run(register_on_demand, call)
