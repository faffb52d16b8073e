"""The fault switch ``dds``/``registry-busy`` (``nsp_sandbox.faults``): while it is on, every XDS.b
request is answered with a Failure naming ``XDSRegistryBusy`` (ITI TF-3 Table 4.2.4.1-2: "too much
activity"), in the response element of the transaction asked (ITI-18 ``AdhocQueryResponse``, ITI-43
``RetrieveDocumentSetResponse``, the others ``RegistryResponse``), after the DGWS check."""

from __future__ import annotations

from lxml import etree

from nsp_sandbox import faults
from nsp_sandbox.xds import namespaces as ns
from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.query import AdhocQueryResponse, write_adhoc_query_response
from nsp_sandbox.xds.registry_response import RegistryError, RegistryResponse, write_registry_response
from nsp_sandbox.xds.retrieve import RetrieveDocumentSetResponse, write_retrieve_response

BUSY = "XDSRegistryBusy"


def busy_answer(request: etree._Element) -> etree._Element | None:
    """The busy answer to ``request`` if the switch was taken for this call, else None."""
    if faults.current("dds", "registry-busy") is None:
        return None
    error = RegistryError(BUSY, "The registry is too busy to answer now; try again later (fault switch "
                          "dds/registry-busy)", "DDS")
    if request.tag == f"{{{ns.QUERY}}}AdhocQueryRequest":
        return write_adhoc_query_response(AdhocQueryResponse(v.RESPONSE_FAILURE, errors=[error]))
    if request.tag == f"{{{ns.XDSB}}}RetrieveDocumentSetRequest":
        return write_retrieve_response(RetrieveDocumentSetResponse(RegistryResponse(v.RESPONSE_FAILURE, [error])))
    return write_registry_response(RegistryResponse(v.RESPONSE_FAILURE, [error]))
