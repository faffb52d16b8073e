"""XDS.b vocabulary: classification and identification schemes, object types, statuses, association
types, SOAP actions and the 14 stored queries with their parameters.

Sources: ITI TF-3 §4.2.5 (Table 4.2.5-1 scheme UUIDs, object types), §4.2.2 (association types),
ITI TF-2 §3.18.4.1.2.3.7 (stored query ids and parameters), ITI TF-2 Appendix V (WS-Addressing actions),
ITI TF-3 §4.1.6 / ITI-57 (UpdateAvailabilityStatus).
"""

from __future__ import annotations

from dataclasses import dataclass

# ---- DocumentEntry (ITI TF-3 Table 4.2.5-1 and §4.2.3.2) ----
DOCUMENT_ENTRY_STABLE = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"
DOCUMENT_ENTRY_ON_DEMAND = "urn:uuid:34268e47-fdf5-41a6-ba33-82133c465248"
DOCUMENT_ENTRY_TYPES = frozenset({DOCUMENT_ENTRY_STABLE, DOCUMENT_ENTRY_ON_DEMAND})

DE_AUTHOR = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d"
DE_CLASS_CODE = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a"
DE_CONFIDENTIALITY_CODE = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f"
DE_EVENT_CODE_LIST = "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4"
DE_FORMAT_CODE = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d"
DE_HEALTHCARE_FACILITY_TYPE_CODE = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1"
DE_PRACTICE_SETTING_CODE = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead"
DE_TYPE_CODE = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983"
DE_LIMITED_METADATA = "urn:uuid:ab9b591b-83ab-4d03-8f5d-f93b1fb92e85"
DE_PATIENT_ID = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427"
DE_UNIQUE_ID = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab"

# ---- SubmissionSet ----
SUBMISSION_SET_NODE = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"  # classificationNode marking a SubmissionSet
SS_AUTHOR = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d"
SS_CONTENT_TYPE_CODE = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500"
SS_LIMITED_METADATA = "urn:uuid:5003a9db-8d8d-49e6-bf0c-990e34ac7707"
SS_PATIENT_ID = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446"
SS_SOURCE_ID = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832"
SS_UNIQUE_ID = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8"

# ---- Folder ----
FOLDER_NODE = "urn:uuid:d9d542f3-6cc4-48b6-8870-ea235fbc94c2"
FOLDER_CODE_LIST = "urn:uuid:1ba97051-7806-41a8-a48b-8fce7af683c5"
FOLDER_LIMITED_METADATA = "urn:uuid:2c144a76-29a9-4b7c-af54-b25409fe7d03"
FOLDER_PATIENT_ID = "urn:uuid:f64ffdf0-4b97-4e06-b79f-a52b38ec2f8a"
FOLDER_UNIQUE_ID = "urn:uuid:75df8f67-9973-4fbe-a900-df66cefecc5a"

# ebRIM object types of the other registry objects (ebRIM 3.0 canonical ObjectType scheme).
OBJECT_TYPE_REGISTRY_PACKAGE = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage"
OBJECT_TYPE_ASSOCIATION = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Association"
OBJECT_TYPE_CLASSIFICATION = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification"
OBJECT_TYPE_EXTERNAL_IDENTIFIER = "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier"

# Names used in the ExternalIdentifier/Name elements (informative, ITI TF-3 §4.2.3).
EXTERNAL_IDENTIFIER_NAMES = {
    DE_PATIENT_ID: "XDSDocumentEntry.patientId",
    DE_UNIQUE_ID: "XDSDocumentEntry.uniqueId",
    SS_PATIENT_ID: "XDSSubmissionSet.patientId",
    SS_UNIQUE_ID: "XDSSubmissionSet.uniqueId",
    SS_SOURCE_ID: "XDSSubmissionSet.sourceId",
    FOLDER_PATIENT_ID: "XDSFolder.patientId",
    FOLDER_UNIQUE_ID: "XDSFolder.uniqueId",
}

# ---- availability status (ITI TF-3 §4.2.3.2.2) ----
STATUS_APPROVED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
STATUS_DEPRECATED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated"
STATUS_SUBMITTED = "urn:oasis:names:tc:ebxml-regrep:StatusType:Submitted"

# ---- associations (ITI TF-3 §4.2.2) ----
ASSOC_HAS_MEMBER = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember"
ASSOC_RPLC = "urn:ihe:iti:2007:AssociationType:RPLC"
ASSOC_APND = "urn:ihe:iti:2007:AssociationType:APND"
ASSOC_XFRM = "urn:ihe:iti:2007:AssociationType:XFRM"
ASSOC_XFRM_RPLC = "urn:ihe:iti:2007:AssociationType:XFRM_RPLC"
ASSOC_SIGNS = "urn:ihe:iti:2007:AssociationType:signs"
ASSOC_IS_SNAPSHOT_OF = "urn:ihe:iti:2010:AssociationType:IsSnapshotOf"
ASSOC_UPDATE_AVAILABILITY_STATUS = "urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus"
DOCUMENT_RELATIONSHIPS = frozenset({ASSOC_RPLC, ASSOC_APND, ASSOC_XFRM, ASSOC_XFRM_RPLC, ASSOC_SIGNS})
SLOT_SUBMISSION_SET_STATUS = "SubmissionSetStatus"  # HasMember slot: Original | Reference
SLOT_ORIGINAL_STATUS = "OriginalStatus"  # ITI-57 UpdateAvailabilityStatus slots
SLOT_NEW_STATUS = "NewStatus"
SLOT_PREVIOUS_VERSION = "PreviousVersion"  # ITI-57 HasMember slot for a metadata update

# ---- registry responses (ebRS 3.0; ITI TF-3 §4.2.4) ----
RESPONSE_SUCCESS = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success"
RESPONSE_FAILURE = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure"
RESPONSE_PARTIAL_SUCCESS = "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess"
SEVERITY_ERROR = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error"
SEVERITY_WARNING = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Warning"

RETURN_LEAF_CLASS = "LeafClass"
RETURN_OBJECT_REF = "ObjectRef"

# ---- WS-Addressing actions: request → response (ITI TF-2 Appendix V and each transaction's §x.4) ----
ACTION_ITI18 = "urn:ihe:iti:2007:RegistryStoredQuery"
ACTION_ITI41 = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b"
ACTION_ITI42 = "urn:ihe:iti:2007:RegisterDocumentSet-b"
ACTION_ITI43 = "urn:ihe:iti:2007:RetrieveDocumentSet"
ACTION_ITI57 = "urn:ihe:iti:2010:UpdateDocumentSet"
ACTION_ITI61 = "urn:ihe:iti:2010:RegisterOnDemandDocumentEntry"
ACTION_ITI62 = "urn:ihe:iti:2010:DeleteDocumentSet"
RESPONSE_ACTIONS = {
    action: action + "Response"
    for action in (ACTION_ITI18, ACTION_ITI41, ACTION_ITI42, ACTION_ITI43, ACTION_ITI57, ACTION_ITI61, ACTION_ITI62)
}
FAULT_ACTION = "http://www.w3.org/2005/08/addressing/fault"


@dataclass(frozen=True)
class StoredQuery:
    """One stored query of ITI TF-2 §3.18.4.1.2.3.7: its id, and which parameters it takes.

    ``required`` must all be present; from each group in ``one_of`` exactly one must be present;
    ``optional`` may be present. Anything else is an unknown parameter.
    """

    name: str
    uuid: str
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()

    @property
    def parameters(self) -> frozenset[str]:
        """Every parameter name the query accepts."""
        grouped = {name for group in self.one_of for name in group}
        return frozenset(self.required) | frozenset(self.optional) | grouped


_DE = "$XDSDocumentEntry"
_FIND_DOCUMENTS_OPTIONAL = (
    f"{_DE}ClassCode", f"{_DE}TypeCode", f"{_DE}PracticeSettingCode",
    f"{_DE}CreationTimeFrom", f"{_DE}CreationTimeTo",
    f"{_DE}ServiceStartTimeFrom", f"{_DE}ServiceStartTimeTo",
    f"{_DE}ServiceStopTimeFrom", f"{_DE}ServiceStopTimeTo",
    f"{_DE}HealthcareFacilityTypeCode", f"{_DE}EventCodeList", f"{_DE}ConfidentialityCode",
    f"{_DE}AuthorPerson", f"{_DE}FormatCode", f"{_DE}Type", "$MetadataLevel",
)  # fmt: skip
_DOC_ID = ((f"{_DE}EntryUUID", f"{_DE}UniqueId"),)
_FOLDER_ID = (("$XDSFolderEntryUUID", "$XDSFolderUniqueId"),)
_CONTENT_FILTERS = ("$homeCommunityId", f"{_DE}FormatCode", f"{_DE}ConfidentialityCode", f"{_DE}Type", "$MetadataLevel")

STORED_QUERIES: tuple[StoredQuery, ...] = (
    StoredQuery("FindDocuments", "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d",
                (f"{_DE}PatientId", f"{_DE}Status"), _FIND_DOCUMENTS_OPTIONAL),
    StoredQuery("FindSubmissionSets", "urn:uuid:f26abbcb-ac74-4422-8a30-edb644bbc1a9",
                ("$XDSSubmissionSetPatientId", "$XDSSubmissionSetStatus"),
                ("$XDSSubmissionSetSourceId", "$XDSSubmissionSetSubmissionTimeFrom",
                 "$XDSSubmissionSetSubmissionTimeTo", "$XDSSubmissionSetAuthorPerson",
                 "$XDSSubmissionSetContentType")),
    StoredQuery("FindFolders", "urn:uuid:958f3006-baad-4929-a4de-ff1114824431",
                ("$XDSFolderPatientId", "$XDSFolderStatus"),
                ("$XDSFolderLastUpdateTimeFrom", "$XDSFolderLastUpdateTimeTo", "$XDSFolderCodeList",
                 "$MetadataLevel")),
    StoredQuery("GetAll", "urn:uuid:10b545ea-725c-446d-9b95-8aeb444eddf3",
                ("$patientId", f"{_DE}Status", "$XDSSubmissionSetStatus", "$XDSFolderStatus"),
                (f"{_DE}FormatCode", f"{_DE}ConfidentialityCode", f"{_DE}Type", "$MetadataLevel")),
    StoredQuery("GetDocuments", "urn:uuid:5c4f972b-d56b-40ac-a5fc-c8ca9b40b9d4",
                (), ("$homeCommunityId", f"{_DE}LogicalID", "$MetadataLevel"), _DOC_ID),
    StoredQuery("GetFolders", "urn:uuid:5737b14c-8a1a-4539-b659-e03a34a5e1e4",
                (), ("$homeCommunityId", "$XDSFolderLogicalID", "$MetadataLevel"), _FOLDER_ID),
    StoredQuery("GetAssociations", "urn:uuid:a7ae438b-4bc2-4642-93e9-be891f7bb155",
                ("$uuid",), ("$homeCommunityId", "$MetadataLevel")),
    StoredQuery("GetDocumentsAndAssociations", "urn:uuid:bab9529a-4a10-40b3-a01f-f68a615d247a",
                (), ("$homeCommunityId", "$MetadataLevel"), _DOC_ID),
    StoredQuery("GetSubmissionSets", "urn:uuid:51224314-5390-4169-9b91-b1980040715a",
                ("$uuid",), ("$homeCommunityId",)),
    StoredQuery("GetSubmissionSetAndContents", "urn:uuid:e8e3cb2c-e39c-46b9-99e4-c12f57260b83",
                (), _CONTENT_FILTERS,
                (("$XDSSubmissionSetEntryUUID", "$XDSSubmissionSetUniqueId"),)),
    StoredQuery("GetFolderAndContents", "urn:uuid:b909a503-523d-4517-8acf-8e5834dfc4c7",
                (), _CONTENT_FILTERS, _FOLDER_ID),
    StoredQuery("GetFoldersForDocument", "urn:uuid:10cae35a-c7f9-4cf5-b61e-fc3278ffb578",
                (), ("$homeCommunityId", "$MetadataLevel"), _DOC_ID),
    StoredQuery("GetRelatedDocuments", "urn:uuid:d90e5407-b356-4d91-a89f-873917b4b0e6",
                ("$AssociationTypes",), ("$homeCommunityId", f"{_DE}Type", "$MetadataLevel"), _DOC_ID),
    StoredQuery("FindDocumentsByReferenceId", "urn:uuid:12941a89-e02e-4be5-967c-ce4bfc8fe492",
                (f"{_DE}PatientId", f"{_DE}Status", f"{_DE}ReferenceIdList"), _FIND_DOCUMENTS_OPTIONAL),
)  # fmt: skip
STORED_QUERIES_BY_UUID = {query.uuid: query for query in STORED_QUERIES}
STORED_QUERIES_BY_NAME = {query.name: query for query in STORED_QUERIES}

# ---- XDS error codes (ITI TF-3 Table 4.2.4.1-2), the ones this layer reports itself ----
XDS_REGISTRY_ERROR = "XDSRegistryError"
XDS_REGISTRY_METADATA_ERROR = "XDSRegistryMetadataError"
XDS_REPOSITORY_ERROR = "XDSRepositoryError"
XDS_MISSING_DOCUMENT = "XDSMissingDocument"
XDS_MISSING_DOCUMENT_METADATA = "XDSMissingDocumentMetadata"
XDS_STORED_QUERY_PARAM_NUMBER = "XDSStoredQueryParamNumber"
XDS_UNKNOWN_STORED_QUERY = "XDSUnknownStoredQuery"
XDS_STORED_QUERY_MISSING_PARAM = "XDSStoredQueryMissingParam"
