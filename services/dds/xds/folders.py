"""DDS keeps no XDS Folders: a submission that holds one is refused by name, never half-stored.

The national registry behind DDS is used without Folders (no Danish profile defines one, dds-nsp.md
§1.2, §1.5), and DDS's store has no place for them (the MHD face refuses a Folder ``List`` too). So
an ITI-41 or ITI-61 submission with a Folder (a RegistryPackage classified as XDSFolder, ITI TF-3
§4.2.3.4) or an association to or from one (a Folder's HasMember, a SubmissionSet's HasMember of a
Folder) is answered ``Failure`` with one ``XDSRegistryMetadataError`` (allowed for ITI-41/42/61)
per such object, located at it — the documents in it are not registered without it.
"""

from __future__ import annotations

from nsp_sandbox.outcome import Issue
from nsp_sandbox.xds import vocabulary as v
from nsp_sandbox.xds.ebrim import SubmitObjectsRequest

SOURCE = "DDS (the national XDS registry is used without Folders; ITI TF-3 §4.2.3.4)"
RULE = "dds-no-folders"


def _refusal(message: str, location: str) -> Issue:
    return Issue("error", "not-supported", message, expression=location, source=SOURCE, rule=RULE,
                 ihe_code=v.XDS_REGISTRY_METADATA_ERROR)


def folder_issues(request: SubmitObjectsRequest) -> list[Issue]:
    """One refusal per Folder of ``request`` and per association that has a Folder at either end."""
    folder_ids = {folder.id for folder in request.folders}
    issues = [_refusal(f"Folder {folder_id}: DDS keeps no Folders; submit the documents without one",
                       f"RegistryPackage[@id='{folder_id}']") for folder_id in sorted(folder_ids)]
    issues += [_refusal(f"Association {a.association_type} {a.source_object} → {a.target_object} names a Folder; "
                        "DDS keeps no Folders", f"Association[@id='{a.id}']")
               for a in request.associations if a.source_object in folder_ids or a.target_object in folder_ids]
    return issues
