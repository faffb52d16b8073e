"""The official HCO example messages and the organisations in them, read from the loaded
``medcom.fhir.dk.homecareobservation`` package at run time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nsp_sandbox.hco_terms import GLN_SYSTEM, HCO_EVENT, HCO_PACKAGE, MESSAGING_IG, SOR_SYSTEM, YDERNUMMER_SYSTEM

if TYPE_CHECKING:
    from nsp_sandbox.conformance.packages import PackageRegistry

REQUESTER_PROFILE = MESSAGING_IG + "medcom-requesterorganization"
PRODUCER_PROFILE = MESSAGING_IG + "medcom-producer-organization"


def example_messages(packages: PackageRegistry) -> list[tuple[str, dict[str, Any]]]:
    """(file name, Bundle) of every HCO message example of the package."""
    package = packages.get(HCO_PACKAGE)
    out = []
    for name, resource in package.examples() if package else []:
        entries = resource.get("entry") or []
        header = (entries[0].get("resource") or {}) if entries else {}
        if resource.get("resourceType") == "Bundle" and header.get("eventCoding", {}).get("code") == HCO_EVENT:
            out.append((name, resource))
    return out


def example_organisations(packages: PackageRegistry, profile: str) -> list[dict[str, str]]:
    """SOR, GLN, ydernummer (if any) and name of every organisation of ``profile`` in the examples (read once
    per loaded package: the LPS asks at every message it receives)."""
    package = packages.get(HCO_PACKAGE)
    if package is None:
        return []
    kept = package.derived(("example_organisations", profile), lambda: _organisations(packages, profile))
    return [dict(org) for org in kept]


def _organisations(packages: PackageRegistry, profile: str) -> tuple[dict[str, str], ...]:
    found: dict[str, dict[str, str]] = {}
    for _, bundle in example_messages(packages):
        for entry in bundle.get("entry", []):
            org = entry.get("resource") or {}
            if profile not in org.get("meta", {}).get("profile", []):
                continue
            ids = {i.get("system"): i.get("value") for i in org.get("identifier", [])}
            sor, gln = ids.get(SOR_SYSTEM), ids.get(GLN_SYSTEM)
            if sor and gln:
                found.setdefault(sor, {"sor": sor, "gln": gln, "ydernummer": ids.get(YDERNUMMER_SYSTEM) or "",
                                       "name": org.get("name", sor)})
    return tuple(found.values())
