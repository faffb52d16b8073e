"""The validation layers a provided submission passes, each at its configured strictness.

0. **Structure** (``settings.validation_structure``): each DocumentReference and the SubmissionSet
   must parse as FHIR R4 (the conformance engine's base-structure layer); what does not is not
   read any further.
1. **Profile** (``settings.validation_profile``): each document whose content is FHIR JSON or FHIR
   XML (``application/fhir+xml``, read by the conformance engine's strict XML reader) is validated
   by the conformance engine against the profiles in its ``meta.profile`` (the HCO message Bundle,
   the ConditionList / Notes document Bundles, …); an HCOM as the HCO IG version its
   entry's formatCode names (``…hco-v1.1:full`` / ``…hco-v1.2:full``, :mod:`nsp_sandbox.hco_versions`);
   each DocumentReference against the profile it declares. A document declared as FHIR JSON or XML
   that does not parse is a finding of this layer too.
2. **Danish XDS metadata rules** (``settings.dds_rules_*``, per rule group): the
   ``metadata_rules`` module of this actor, which applies its own group strictness. One of them
   reads the document as well as its DocumentReference (``dds_rules_document_patient``: the
   document is about the entry's patient), so a FHIR document is parsed once, in
   :meth:`ContentValidation.check_document`, for the profile layer and that rule. So is an HCOM
   message (``dds_rules_hco_consent``: refused consent and the policy date, on the sandbox clock).

Strictness: ``off`` skips the layer, ``log`` writes findings to the server log only,
``warning`` returns them as warnings, ``reject`` returns errors (the provide is refused).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from nsp_sandbox import hco_versions
from nsp_sandbox.config import Settings, Strictness
from nsp_sandbox.conformance import strict_json
from nsp_sandbox.hco_policy import is_hcom
from nsp_sandbox.outcome import Issue
from services.dds import metadata_rules

if TYPE_CHECKING:
    from nsp_sandbox.conformance.validator import ContentKey, Validator

log = logging.getLogger("services.dds.validation")

FHIR_JSON_TYPES = frozenset({"application/fhir+json", "application/json", "application/json+fhir"})
FHIR_XML_TYPES = frozenset({"application/fhir+xml", "application/xml+fhir"})  # not text/xml: CDA is XML too


def _parse_fhir_json(content: bytes, mime_type: str) -> tuple[dict[str, Any] | None, str | None]:
    """The document as a FHIR resource (JSON object with a resourceType), or why it is not one."""
    try:
        document = strict_json.loads(content)
    except strict_json.JsonRefused as exc:
        return None, f"The document is declared '{mime_type}' but is not acceptable JSON: {exc}"
    if not isinstance(document, dict) or not isinstance(document.get("resourceType"), str):
        return None, f"The document is declared '{mime_type}' but is not a FHIR resource (no resourceType)"
    return document, None


class Judging(Protocol):
    """What :class:`ContentValidation` reads of a sandbox context (``SandboxContext``): the settings and the
    conformance engine. The validation process judges with its own (:mod:`services.dds.validation_ahead`)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def validator(self) -> Validator: ...


def _parse_fhir_xml(content: bytes, mime_type: str, context: Judging) -> tuple[dict[str, Any] | None, str | None]:
    """The document as FHIR JSON, read from FHIR XML strictly, or why it is not FHIR XML."""
    from nsp_sandbox.conformance.xml_json import XmlError, xml_to_json

    try:
        return xml_to_json(content, context.validator.structures, strict=True), None
    except XmlError as exc:
        where = f" at {exc.path}" if exc.path else ""
        return None, f"The document is declared '{mime_type}' but is not FHIR XML{where}: {exc}"


@dataclass(frozen=True)
class ResourceFindings:
    """What the engine found in one DocumentReference or List: its base structure, and — when the
    profile layer reads it — the whole validation (structure included)."""

    structure: list[Issue]
    validated: list[Issue] | None


class ContentValidation:
    """Runs the profile layer and the Danish metadata rules for one sandbox context."""

    def __init__(self, context: Judging, *, judged: list[tuple[ContentKey, list[Issue]]] | None = None) -> None:
        """``judged``: where :meth:`check_document` adds each document's profile findings, by what the engine
        keeps them by (``Validator.content_key``), for a sandbox to keep that did not judge it itself."""
        self.context = context
        self.judged = judged

    # ---- structure layer ------------------------------------------------------------------------

    def structure_issues(self, resource: dict[str, Any], *,
                         ahead: ResourceFindings | None = None) -> ResourceFindings | None:
        """The base-structure findings of a DocumentReference or List (``fhir.resources`` R4B),
        unprefixed, found once for :meth:`check_structure` and :meth:`check_resource`; None when
        neither layer reads them (structure layer off and no profile to check).

        When the profile layer reads the resource, it is validated whole here (the engine then runs
        its model layer only where the profile walk leaves something for it), and
        :meth:`check_resource` reports those findings. ``ahead``: what this gives, when the validation process
        has made it already (:mod:`services.dds.validation_ahead`)."""
        if ahead is not None:
            return ahead
        settings = self.context.settings
        profiled = (settings.validation_profile is not Strictness.OFF
                    and bool((resource.get("meta") or {}).get("profile")))
        if settings.validation_structure is Strictness.OFF and not profiled:
            return None
        if profiled:
            return ResourceFindings(*self.context.validator.validate_layers(resource))
        from nsp_sandbox.conformance.base_structure import base_structure_issues

        return ResourceFindings(base_structure_issues(resource), None)

    def check_structure(self, resource: dict[str, Any], prefix: str, *,
                        found: ResourceFindings | None = None) -> list[Issue]:
        """Base FHIR structure of a DocumentReference or List (``fhir.resources`` R4B); ``found``:
        :meth:`structure_issues` of this resource, when already known."""
        strictness = self.context.settings.validation_structure
        if strictness is Strictness.OFF:
            return []
        if found is None:
            from nsp_sandbox.conformance.base_structure import base_structure_issues

            structure = base_structure_issues(resource)
        else:
            structure = found.structure
        return self._apply(strictness, [i.prefixed(prefix) for i in structure])

    # ---- profile layer --------------------------------------------------------------------------

    def _apply(self, strictness: Strictness, issues: list[Issue]) -> list[Issue]:
        if strictness is Strictness.LOG:
            for issue in issues:
                log.warning("%s [%s] %s", issue.expression, issue.rule, issue.diagnostics)
            return []
        if strictness is Strictness.WARNING:
            return [i.with_severity("warning") if i.is_error else i for i in issues if i.severity != "information"]
        return [i for i in issues if i.severity != "information"]

    def check_resource(self, resource: dict[str, Any], prefix: str, *,
                       structure: ResourceFindings | None = None) -> list[Issue]:
        """Profile-validate a DocumentReference (or List) that declares a profile; ``structure``:
        :meth:`structure_issues` of this resource, when already known (not validated twice)."""
        strictness = self.context.settings.validation_profile
        if strictness is Strictness.OFF or not (resource.get("meta") or {}).get("profile"):
            return []
        if structure is not None and structure.validated is not None:
            found = structure.validated
        else:
            found = self.context.validator.validate(
                resource, structure=None if structure is None else structure.structure)
        return self._apply(strictness, [i.prefixed(prefix) for i in found])

    def check_document(self, content: bytes, mime_type: str, prefix: str, *, now: datetime,
                       entry: dict[str, Any] | None = None, entry_origin: str = "DocumentReference") -> list[Issue]:
        """The layers that read a document whose content is FHIR (JSON or XML), parsed once for all of them.

        Profile layer: the document against its ``meta.profile``. Danish rules: with the
        DocumentReference ``entry`` (at ``entry_origin``) given, ``dk-xds-document-patient`` (the
        document is about the entry's patient). ``prefix`` names where the document sits in the
        request (e.g. ``Bundle.entry[3].resource.data``). ``now``: the provide's time on the sandbox clock (the HCOM
        rules read it).
        """
        settings = self.context.settings
        profile = settings.validation_profile
        patient_rule = entry is not None and settings.dds_rules_document_patient is not Strictness.OFF
        hco_rule = entry is not None and settings.dds_rules_hco_consent is not Strictness.OFF and is_hcom(entry)
        media = mime_type.split(";")[0].strip().lower()
        is_json, is_xml = media in FHIR_JSON_TYPES, media in FHIR_XML_TYPES
        if not (is_json or is_xml) or (profile is Strictness.OFF and not patient_rule and not hco_rule):
            return self._hco_consent(entry, None, prefix, entry_origin, now, content) if hco_rule else []
        document, problem = (_parse_fhir_json(content, mime_type) if is_json
                             else _parse_fhir_xml(content, mime_type, self.context))
        issues: list[Issue] = self._hco_consent(entry, document, prefix, entry_origin, now) if hco_rule else []
        if problem is not None:
            if profile is not Strictness.OFF:
                issues += self._apply(profile, [Issue("error", "structure", problem, expression=prefix,
                                                      rule="dds-document-json" if is_json else "dds-document-xml",
                                                      ihe_code="XDSRepositoryMetadataError")])
            return issues
        assert document is not None
        if profile is not Strictness.OFF and (document.get("meta") or {}).get("profile"):
            version = hco_versions.version_of_entry(entry) if entry is not None else None  # as its formatCode says
            validator = self.context.validator
            found = hco_versions.judge_stored(validator, document, version, content=content)
            if self.judged is not None:
                package = hco_versions.stored_package(validator, document, version)
                self.judged.append((validator.content_key(content, None, package), found))
            issues += self._apply(profile, [i.prefixed(prefix) for i in found])
        if patient_rule:
            assert entry is not None
            issues += metadata_rules.check_document_patient(
                entry, document, settings=settings, document_path=prefix, expression_prefix=entry_origin)
        return issues

    def _hco_consent(self, entry: dict[str, Any] | None, document: dict[str, Any] | None, prefix: str,
                     entry_origin: str, now: datetime, xml: bytes | None = None) -> list[Issue]:
        """The HCOM rules (refused consent, the policy date) at ``now`` on the sandbox clock; ``xml``: content
        that is not FHIR JSON, read for the refused-consent label as FHIR XML."""
        assert entry is not None
        return metadata_rules.check_hco_consent(entry, document, settings=self.context.settings,
                                                now=now, document_path=prefix,
                                                expression_prefix=entry_origin, xml=xml)

    # ---- Danish metadata rules ------------------------------------------------------------------

    def check_document_reference(self, resource: dict[str, Any], prefix: str) -> list[Issue]:
        return metadata_rules.check_document_reference(
            resource, terminology=self.context.validator.terminology, settings=self.context.settings,
            expression_prefix=prefix)

    def check_submission_set(self, resource: dict[str, Any], prefix: str) -> list[Issue]:
        return metadata_rules.check_submission_set(
            resource, terminology=self.context.validator.terminology, settings=self.context.settings,
            expression_prefix=prefix)
