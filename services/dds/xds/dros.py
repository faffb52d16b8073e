"""DROS (Dokument Registrerings- og Opdateringsservice) on DDS's XDS.b face: ``POST /dros``.

DROS takes ITI-41, ITI-57 and ITI-61 towards the national registry (dds-nsp.md §1.1). ITI-41 is
told by its body element (``xdsb:ProvideAndRegisterDocumentSetRequest``); ITI-57 and ITI-61 both
send an ``lcm:SubmitObjectsRequest`` and are told by ``wsa:Action``
(``urn:ihe:iti:2010:UpdateDocumentSet`` / ``urn:ihe:iti:2010:RegisterOnDemandDocumentEntry``), or,
without a known action, by content: UpdateAvailabilityStatus associations or a ``PreviousVersion``
make an ITI-57, On-Demand DocumentEntries an ITI-61.

**Validation levels** (NSP's DROS Driftsvejledning: ``OFF`` | ``LOG`` | ``WARNING`` | ``REJECT`` for
ITI-41/42/57/61; CPR validation ``OFF`` | ``WARNING`` | ``REJECT``, dds-nsp.md §1.4) are the sandbox's
strictness settings (``off`` | ``log`` | ``warning`` | ``reject``), one per rule group, shared with
the MHD face (``services.dds.metadata_rules``):

=============================================  ===================================================
environment variable                           what it governs
=============================================  ===================================================
``NSP_SANDBOX_DDS_RULES_METADATA``             DROS metadata validation: presence, cardinality,
                                               format (confidentialityCode, languageCode,
                                               sourcePatientInfo, uniqueId, times…)
``NSP_SANDBOX_DDS_RULES_CODES``                DROS validation of coded values against the
                                               national value sets
``NSP_SANDBOX_DDS_RULES_AUTHOR``               authorInstitution as a SOR code
``NSP_SANDBOX_DDS_RULES_PATIENT``              DROS **CPR validation** (patientId a valid CPR,
                                               sourcePatientInfo the same CPR)
``NSP_SANDBOX_DDS_RULES_DOCUMENT_PATIENT``     the CPR inside a FHIR document is the entry's
``NSP_SANDBOX_VALIDATION_PROFILE`` /           FHIR profile and structure validation of the
``NSP_SANDBOX_VALIDATION_STRUCTURE``           converted DocumentReference
=============================================  ===================================================

``reject`` answers ``Failure`` with the findings as errors; ``warning`` registers and answers
``PartialSuccess`` with them as warnings; ``log`` registers, answers ``Success`` and only logs them;
``off`` does not check. Registry rules (duplicates, lifecycle, patient match) always reject.
"""

from __future__ import annotations

from fastapi import APIRouter

from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.ebrim import parse_submit_objects_request
from nsp_sandbox.xds.errors import XdsWireError
from services.dds.mhd.deps import Deps
from services.dds.xds import iti41, iti57, iti61
from services.dds.xds.face import XdsAnswer, XdsCall, soap_router


def _is_on_demand(call: XdsCall) -> bool:
    """Without a known action: ITI-61 when the request holds On-Demand entries and no update."""
    try:
        request = parse_submit_objects_request(call.body, "/Envelope/Body/SubmitObjectsRequest")
    except XdsWireError:
        return False
    updates = request.associations_of_type(v.ASSOC_UPDATE_AVAILABILITY_STATUS)
    return not updates and any(e.object_type == v.DOCUMENT_ENTRY_ON_DEMAND for e in request.document_entries)


def _action(call: XdsCall) -> str | None:
    """The request's ``wsa:Action``."""
    return call.message.envelope().addressing.action


async def submit_objects(call: XdsCall) -> XdsAnswer:
    """ITI-57 or ITI-61, by ``wsa:Action`` or else by content."""
    action = _action(call)
    if action == v.ACTION_ITI61 or (action != v.ACTION_ITI57 and _is_on_demand(call)):
        return await iti61.handle(call)
    return await iti57.handle(call)


def router(deps: Deps) -> APIRouter:
    """``POST /dros``: ITI-41, ITI-57 and ITI-61."""
    return soap_router(deps, "/dros", {iti41.PROVIDE_AND_REGISTER: iti41.provide_and_register,
                                       iti57.SUBMIT_OBJECTS: submit_objects},
                       summary="DROS: ITI-41, ITI-57, ITI-61")
