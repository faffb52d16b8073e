"""Which HomeCareObservation IG version a message is judged by, and what follows from it.

MedCom's production trial runs HCO **1.1** (``medcom.fhir.dk.homecareobservation`` 1.1.0-trial-use /
1.1.1-trial-use, terminology 2.0.0-draft); the current standard is **1.2** (1.2.1, terminology
2.0.2). Every version's message declares ``MessageHeader.definition …|1.1`` (1.1.0: the legacy
``…Definition1.1``), so the message does not say which IG it follows; the version comes from, in
this order:

1. an explicit choice (``?version=`` on ``POST /eoj/messages``, the order's ``version``, ``--ig`` on
   ``nsp-sandbox validate``, the ``version`` parameter of ``$validate``);
2. the SBDH envelope's ``DocumentIdentification/TypeVersion`` when the message arrives in one;
3. the receiver's entry in the endpoint register (``hco_version``: the version that system takes);
4. the setting ``NSP_SANDBOX_HCO_VERSION`` (default ``1.2``).

A version names a family (``1.1``, ``1.2``) or one release (``1.1.0``, ``1.2.1``, with or without
its ``-trial-use`` label). Within the 1.1 family the message picks the release: the legacy
no-pipe ``definition`` is 1.1.0-trial-use's form, ``…|1.1`` is 1.1.1-trial-use's. Each release is
validated with its own dependency set (the engine resolves canonicals through the release's
package), so the compiled profiles and value set expansions of each are built once and kept.
The DDS formatCode follows the version (``urn:ad:dk:medcom:msg:hco-v1.1:full`` / ``…v1.2:full``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from nsp_sandbox import fhir_shape as shape
from nsp_sandbox.hco_terms import HCO_PACKAGE

if TYPE_CHECKING:
    from nsp_sandbox.conformance.packages import FhirPackage, PackageRegistry
    from nsp_sandbox.conformance.validator import Validator
    from nsp_sandbox.outcome import Issue

FAMILIES = ("1.1", "1.2")
DEFAULT = "1.2"
_VERSION = re.compile(r"^(1\.[0-9]+)(?:\.([0-9]+))?(?:-[a-z-]+)?\Z")
_LEGACY_DEFINITION = "MedComHomeCareObservationMessageDefinition1."
_LEGACY_RELEASES: dict[str, bool] = {}


class UnknownVersion(ValueError):
    """A version that is not an HCO IG version the sandbox has packages for."""


def family(version: str) -> str:
    """``1.1`` / ``1.2`` for any spelling of a version of that family; :class:`UnknownVersion` else."""
    match = _VERSION.match(version.strip())
    if match is None or match.group(1) not in FAMILIES:
        raise UnknownVersion(f"'{version[:40]}' is not an HomeCareObservation IG version (one of "
                             f"{', '.join(FAMILIES)}, or a release such as 1.1.0 or 1.2.1)")
    return match.group(1)


def choose(*candidates: str | None) -> str:
    """The first given version among ``candidates`` (explicit, envelope, register, setting), as a
    family or release; :data:`DEFAULT` when none is given. :class:`UnknownVersion` for a bad one."""
    for candidate in candidates:
        if candidate:
            family(candidate)
            return candidate.strip()
    return DEFAULT


def format_code(version: str) -> tuple[str, str]:
    """The DDS formatCode (MedComHCOFormatCodeCS) and display of an HCO message of ``version``."""
    fam = family(version)
    return f"urn:ad:dk:medcom:msg:hco-v{fam}:full", f"DK HomeCareObservation message v{fam}"


def version_of_format(code: str) -> str | None:
    """The family a DDS formatCode names (``…hco-v1.1:full`` → ``1.1``), None for another code."""
    match = re.fullmatch(r"urn:ad:dk:medcom:msg:hco-v(1\.[0-9]+):full", code)
    return match.group(1) if match and match.group(1) in FAMILIES else None


def releases(registry: PackageRegistry, version: str) -> list[FhirPackage]:
    """The loaded HCO packages of ``version`` (a family or one release), oldest first."""
    fam = family(version)
    match = _VERSION.match(version.strip())
    patch = match.group(2) if match else None
    found = []
    for package in registry.versions(HCO_PACKAGE):
        numbers = package.version.partition("-")[0]
        if numbers.startswith(fam + ".") and (patch is None or numbers == f"{fam}.{patch}"):
            found.append(package)
    return found


def package_for(registry: PackageRegistry, version: str, message: dict[str, Any] | None = None) -> FhirPackage:
    """The HCO package a message of ``version`` is validated with (see the module docstring);
    :class:`UnknownVersion` when no package of that version is loaded."""
    candidates = releases(registry, version)
    if not candidates:
        loaded = ", ".join(p.version for p in registry.versions(HCO_PACKAGE)) or "none"
        raise UnknownVersion(f"No {HCO_PACKAGE} package of version {version} is loaded (loaded: {loaded})")
    if len(candidates) > 1 and message is not None and _legacy_definition(message):
        legacy = [p for p in candidates if _states_legacy(p)]
        if legacy:
            return legacy[-1]
    modern = [p for p in candidates if not _states_legacy(p)]
    return (modern or candidates)[-1]


def package_spec(registry: PackageRegistry, version: str, message: dict[str, Any] | None = None) -> str:
    """``name#version`` of :func:`package_for` (what the validator's ``package`` takes)."""
    return package_for(registry, version, message).id


def _legacy_definition(message: dict[str, Any]) -> bool:
    resources = shape.resources(message) if message.get("resourceType") == "Bundle" else [message]
    header = resources[0] if resources else {}
    definition = shape.text(header.get("definition")) if header.get("resourceType") == "MessageHeader" else ""
    return _LEGACY_DEFINITION in definition and "|" not in definition


def _states_legacy(package: FhirPackage) -> bool:
    """Whether the release's own examples use the legacy no-pipe ``definition`` (1.1.0-trial-use)."""
    legacy = _LEGACY_RELEASES.get(package.id)
    if legacy is None:  # read once per release: its example Bundles are what it publishes as valid
        legacy = _LEGACY_RELEASES[package.id] = any(
            _legacy_definition(resource) for _, resource in _bundles(package.examples()))
    return legacy


def _bundles(examples: Iterable[tuple[str, dict[str, Any]]]) -> Iterable[tuple[str, dict[str, Any]]]:
    return ((name, r) for name, r in examples if r.get("resourceType") == "Bundle")


def validate(validator: Validator, message: dict[str, Any], version: str, profile: str | None = None, *,
             content: bytes | None = None) -> list[Issue]:
    """The issues of ``message`` judged as HCO ``version`` (its release's packages decide every
    unversioned profile, value set and code system); ``profile``: one to check besides ``meta.profile``;
    ``content``: the bytes ``message`` was parsed from (:meth:`Validator.validate`)."""
    return validator.validate(message, profile, package=package_for(validator.registry, version, message),
                              content=content)


def version_of_entry(document_reference: dict[str, Any]) -> str | None:
    """The HCO IG family a stored document's entry names by its formatCode (``content[].format``,
    ``…hco-v1.1:full`` → ``1.1``); None when no formatCode of the entry is an HCO one."""
    for content in shape.arr(document_reference.get("content")):
        version = version_of_format(shape.text(shape.obj(shape.obj(content).get("format")).get("code")))
        if version is not None:
            return version
    return None


def judge_stored(validator: Validator, document: dict[str, Any], version: str | None,
                 profile: str | None = None, *, content: bytes | None = None) -> list[Issue]:
    """The issues of a document stored as an HCOM under a formatCode naming ``version``
    (:func:`version_of_entry`): judged as that IG version when its packages are loaded; with the
    engine's default (the newest loaded release) when the entry names none or no package of it is loaded.
    ``content``: the bytes ``document`` was parsed from, unchanged (:meth:`Validator.validate` keeps the
    findings by them)."""
    return validator.validate(document, profile, package=stored_package(validator, document, version),
                              content=content)


def stored_package(validator: Validator, document: dict[str, Any], version: str | None) -> FhirPackage | None:
    """The package :func:`judge_stored` judges ``document`` with: the release of ``version`` it belongs to
    (:func:`package_for`) when that version's packages are loaded; else None (the engine's default)."""
    if version is not None and releases(validator.registry, version):
        return package_for(validator.registry, version, document)
    return None
