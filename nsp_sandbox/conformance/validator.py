"""The conformance engine: validate FHIR resources against the profiles in the loaded packages.

``Validator(registry).validate(resource, profile)`` checks a resource — or a Bundle and every
entry in it — in layers:

1. base structure: does it parse as FHIR (``fhir.resources.R4B``)? (:mod:`.base_structure`)
2. profiles, driven by the published StructureDefinition snapshots (:mod:`.walker`): the profile
   given, the ones in ``meta.profile``, and those the enclosing profile requires on entries,
   references and contained resources; with bindings (:mod:`.bindings`), slicing
   (:mod:`.slicing`) and constraints evaluated with fhirpathpy (:mod:`.invariants`).

The profile walk runs first; the base-structure model layer then runs only where it could add a
finding (the walk found an error, or :func:`~.base_structure.model_layer_silent` sees something
only that layer refuses), and its findings come first in the answer as before.

Every finding is an :class:`~nsp_sandbox.outcome.Issue` naming the element (FHIRPath with
indices), the rule and its source (profile URL + element id, or constraint key). Compiled
profiles, value set expansions and FHIRPath expressions are built once per validator and shared by
all threads; a single validation is not shared between threads.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from nsp_sandbox.conformance import strict_json
from nsp_sandbox.conformance.base_structure import base_structure_issues, model_layer_silent
from nsp_sandbox.conformance.bindings import BindingChecker
from nsp_sandbox.conformance.engines import Engines
from nsp_sandbox.conformance.frames import Frame
from nsp_sandbox.conformance.invariants import InvariantEngine
from nsp_sandbox.conformance.slicing import SliceExpectations
from nsp_sandbox.conformance.structure import StructureLibrary
from nsp_sandbox.conformance.terminology import Terminology
from nsp_sandbox.conformance.walker import Walk
from nsp_sandbox.outcome import Issue, operation_outcome

if TYPE_CHECKING:
    from nsp_sandbox.conformance.packages import FhirPackage, PackageRegistry

log = logging.getLogger(__name__)

JSON_TYPES = frozenset({"application/fhir+json", "application/json", "application/json+fhir", "text/json"})
XML_TYPES = frozenset({"application/fhir+xml", "application/xml", "application/xml+fhir", "text/xml"})
# Validations of documents given by their bytes, kept per validator (the newest, within both bounds):
# enough for a viewer thousands of notifications behind DDS after a burst of provides.
KEPT_BY_CONTENT = 4096
KEPT_ISSUES = 20_000  # findings in all of them (a valid document has none)
# The bytes' SHA-256, the profile asked for besides meta.profile, and the package (name#version) validated with.
ContentKey = tuple[bytes, str | None, str | None]


class Validator:
    """Validates resources against profiles from ``registry``; see the module docstring."""

    def __init__(self, registry: PackageRegistry, *, base_structure: bool = True) -> None:
        self.registry = registry
        self.structures = StructureLibrary(registry)
        self.terminology = Terminology(registry)
        self.bindings = BindingChecker(self.terminology)
        self.invariants = InvariantEngine()
        self.slice_expectations = SliceExpectations(self.structures)
        self.engines = Engines(self.structures, self.bindings, self.invariants, self.slice_expectations,
                               self.member_of)
        self.base_structure = base_structure
        self._by_content: OrderedDict[ContentKey, tuple[Issue, ...]] = OrderedDict()
        self._by_content_issues = 0
        self._by_content_lock = threading.Lock()

    # ---- public API -----------------------------------------------------------------------------

    def validate(self, resource: dict[str, Any], profile: str | None = None, *,
                 package: str | FhirPackage | None = None, structure: list[Issue] | None = None,
                 content: bytes | None = None) -> list[Issue]:
        """All issues of ``resource`` (and, for a Bundle, of every entry).

        ``profile``: a profile to check besides ``meta.profile``. ``package`` (``name#version`` or a
        package): the IG whose dependency versions decide unversioned canonicals; by default the
        package of the resource's own profile, else the newest loaded version. ``structure``: what
        :func:`~.base_structure.base_structure_issues` found in this very ``resource``, when the
        caller has already run it (it is then not run twice).

        ``content``: bytes that read as exactly ``resource``: those it was parsed from, unchanged, or its compact
        JSON (:func:`nsp_sandbox.message_size.compact_message`, which the EOJ and the GP system use). The findings
        are then kept by the bytes' SHA-256, the profile and the package (the newest, within
        :data:`KEPT_BY_CONTENT` documents and :data:`KEPT_ISSUES` findings), and the same bytes validated again the
        same way are answered from memory: in one process, the viewer validates the very document DDS has just
        validated with this engine, and the GP system the message the EOJ has. The findings are a function of those
        three alone (loaded packages are fixed for a validator's life).
        """
        if content is None or structure is not None:
            return self.validate_layers(resource, profile, package=package, structure=structure)[1]
        key = self.content_key(content, profile, package)
        with self._by_content_lock:
            kept = self._by_content.get(key)
            if kept is not None:
                self._by_content.move_to_end(key)
                return list(kept)
        found = self.validate_layers(resource, profile, package=package)[1]
        self.keep(key, found)
        return found

    def content_key(self, content: bytes, profile: str | None = None,
                    package: str | FhirPackage | None = None) -> ContentKey:
        """What :meth:`validate` keeps the findings of the bytes ``content`` by, validated with ``profile`` and
        ``package``: the same in every validator over the same packages (:attr:`PackageRegistry.fingerprint`)."""
        context = self._package(package)
        return (hashlib.sha256(content).digest(), profile, context.id if context is not None else
                None if package is None else str(package))

    def keep(self, key: ContentKey, found: list[Issue] | tuple[Issue, ...]) -> None:
        """Keep ``found`` as the findings of the content :meth:`content_key` gave ``key`` for: :meth:`validate`
        answers that content from them. Findings made by another validator over the same packages may be kept so
        (:mod:`nsp_sandbox.validation_process`); an answer already kept is not replaced."""
        with self._by_content_lock:
            if key not in self._by_content:
                self._by_content[key] = tuple(found)
                self._by_content_issues += len(found)
            while self._by_content and (len(self._by_content) > KEPT_BY_CONTENT
                                        or self._by_content_issues > KEPT_ISSUES):
                self._by_content_issues -= len(self._by_content.popitem(last=False)[1])

    def validate_layers(self, resource: dict[str, Any], profile: str | None = None, *,
                        package: str | FhirPackage | None = None,
                        structure: list[Issue] | None = None) -> tuple[list[Issue], list[Issue]]:
        """:meth:`validate`'s findings, with the base-structure layer's own findings apart:
        ``(base structure, all)`` — for a caller that reports the structure at its own strictness
        (the first is empty when this validator has no base-structure layer)."""
        if not isinstance(resource, dict):
            found = [Issue("fatal", "structure", "A FHIR resource must be a JSON object", rule="json-syntax")]
            return found, found
        context = self._package(package)
        context_given = context is not None
        if context is None:
            context = self._context_of(resource, profile)
        # The profile walk runs first: when it finds no error, the model layer is run only if it
        # could still find something (model_layer_silent); its findings come first all the same.
        walked: list[Issue] = []
        failure: Issue | None = None
        walk = Walk(self.engines, context_given)
        try:
            rtype = resource.get("resourceType")
            frame = Frame(resource, resource, None, None, context)
            walked = walk.resource(resource, [profile] if profile else [], frame,
                                   rtype if isinstance(rtype, str) else "Resource")
        except RecursionError:  # nested deeper than a body may be: nothing more is read of it
            return [_TOO_DEEP], [_TOO_DEEP]
        except Exception as exc:  # a defect of the validator must not hide what was found, nor crash callers
            log.exception("validator failure")
            failure = _failed(exc)
        finally:
            walk.close()
        base: list[Issue] = []
        if structure is not None:
            base = structure
        elif self.base_structure:
            try:
                if failure is not None or any(i.is_error for i in walked) or not model_layer_silent(resource):
                    base = base_structure_issues(resource)
            except RecursionError:
                return [_TOO_DEEP], [_TOO_DEEP]
            except Exception as exc:  # as for the walk: a finding, never a crash
                log.exception("validator failure")
                return [_failed(exc)], [_failed(exc)]
        issues = [*base, *walked] if self.base_structure else list(walked)
        if failure is not None:
            issues.append(failure)
        return base, _merge(issues)

    def validate_bytes(self, raw: bytes, content_type: str, profile: str | None = None, *,
                       package: str | FhirPackage | None = None) -> list[Issue]:
        """Validate a serialised resource: FHIR JSON or FHIR XML (by ``content_type``)."""
        resource, problems = self.parse(raw, content_type)
        if resource is None:
            return problems
        return problems + self.validate(resource, profile, package=package)

    def parse(self, raw: bytes, content_type: str) -> tuple[dict[str, Any] | None, list[Issue]]:
        """The resource in ``raw`` as FHIR JSON (XML is converted), or None and why not."""
        media = content_type.split(";")[0].strip().lower()
        if media in XML_TYPES or (media not in JSON_TYPES and raw.lstrip()[:1] == b"<"):
            from nsp_sandbox.conformance.xml_json import XmlError, xml_to_json

            try:
                return xml_to_json(raw, self.structures), []
            except XmlError as exc:
                return None, [Issue("fatal", "structure", f"Not valid FHIR XML: {exc}", rule="xml-syntax")]
        try:  # as every face reads FHIR JSON: no duplicate keys, nesting bounded, JSON's own numbers
            data = strict_json.loads(raw)
        except strict_json.JsonRefused as exc:
            return None, [Issue("fatal", "structure", str(exc), rule=exc.rule)]
        if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
            return None, [Issue("fatal", "structure", "Not a FHIR resource (no resourceType)",
                                rule="fhir-resource-type")]
        return data, []

    def outcome(self, issues: list[Issue]) -> dict[str, Any]:
        return operation_outcome(issues)

    # ---- value set membership (the walk's Engines.member_of) ------------------------------------

    def member_of(self, value: Any, value_set: str, context: FhirPackage | None) -> bool | None:
        """Is a code / Coding / CodeableConcept in ``value_set``? None when that cannot be decided."""
        if isinstance(value, str):
            codings: list[tuple[str | None, str]] = [(None, value)]
        elif isinstance(value, dict) and isinstance(value.get("code"), str):
            system = value.get("system")
            codings = [(system if isinstance(system, str) else None, value["code"])]
        elif isinstance(value, dict) and isinstance(value.get("coding"), list):
            codings = [(c.get("system") if isinstance(c.get("system"), str) else None, c["code"])
                       for c in value["coding"] if isinstance(c, dict) and isinstance(c.get("code"), str)]
        else:
            return False
        unknown = False
        for system, code in codings:
            if self.terminology.in_value_set(value_set, system, code, context):
                return True
            result = self.terminology.check_code(value_set, system, code, context)
            if result.status == "valid":
                return True
            unknown = unknown or result.status == "not-checked"
        return None if unknown else False

    def _package(self, package: str | FhirPackage | None) -> FhirPackage | None:
        if package is None or not isinstance(package, str):
            return package
        name, _, version = package.partition("#")
        return self.registry.get(name, version or None)

    def _context_of(self, resource: dict[str, Any], profile: str | None) -> FhirPackage | None:
        """The package of the first profile the resource claims (it knows its dependency versions)."""
        meta = resource.get("meta")
        candidates = [profile] if profile else []
        if isinstance(meta, dict) and isinstance(meta.get("profile"), list):
            candidates += [p for p in meta["profile"] if isinstance(p, str)]
        for url in candidates:
            sd = self.registry.structure_definition(url)
            if sd is not None:
                return self.registry.package_of(sd)
        return None


_TOO_DEEP = Issue("fatal", "too-costly", "The resource is nested too deeply to validate", rule="validator-limit")


def _failed(exc: Exception) -> Issue:
    return Issue("fatal", "exception", f"The validator failed on this input ({type(exc).__name__}); "
                 "the findings above are incomplete", rule="validator-error")


def _merge(issues: list[Issue]) -> list[Issue]:
    """Drop duplicates; a base-structure finding yields to the profile walk's at the same element."""
    walked = {i.expression for i in issues if i.rule != "base-structure" and i.is_error}
    out: list[Issue] = []
    seen: set[tuple[Any, ...]] = set()
    for issue in issues:
        if issue.rule == "base-structure" and issue.expression in walked:
            continue
        key = (issue.severity, issue.code, issue.expression, issue.rule, issue.diagnostics)
        if key in seen:
            continue
        seen.add(key)
        out.append(issue)
    return out
