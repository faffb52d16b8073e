"""Whatever a Document Source sends, ITI-65 answers with a 2xx or a 4xx OperationOutcome — never a
500 — and a refused submission leaves the registry exactly as it was."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest
from mhd_client import CPR, Mhd, issues_of

from nsp_sandbox.config import Strictness
from nsp_sandbox.context import SandboxContext

MUTATIONS = 120
ODD_VALUES: list[Any] = [None, "", " ", 0, -1, 3.5, True, [], {}, [None], {"x": 1}, "x" * 300, "\u0000", "ÆØÅ"]


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(node, dict):
        for key, value in node.items():
            out += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*path, index))
    return out


def _mutate(bundle: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    mutated = copy.deepcopy(bundle)
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(mutated) if p]
        path = rng.choice(paths)
        parent = mutated
        for step in path[:-1]:
            parent = parent[step]
        if rng.random() < 0.4 and isinstance(parent, dict):
            del parent[path[-1]]
        elif rng.random() < 0.3 and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[path[-1]]))
        else:
            parent[path[-1]] = copy.deepcopy(rng.choice(ODD_VALUES))
    return mutated


def _registry_state(mhd: Mhd) -> tuple[list[str], list[str]]:
    docs = mhd.client.get("/dds/fhir/DocumentReference", params={
        "patient.identifier": f"urn:oid:1.2.208.176.1.2|{CPR}", "status": "current,superseded,entered-in-error",
        "_count": "100"})
    lists = mhd.client.get("/dds/fhir/List", params={"patient.identifier": f"urn:oid:1.2.208.176.1.2|{CPR}"})
    assert docs.status_code == 200 and lists.status_code == 200
    return (sorted(e["resource"]["id"] for e in docs.json().get("entry", [])),
            sorted(e["resource"]["id"] for e in lists.json().get("entry", [])))


@pytest.mark.parametrize("layers", ["all layers on", "every layer off"])
def test_mutated_transactions_never_fail_the_server_nor_half_store(context: SandboxContext, mhd: Mhd,
                                                                   layers: str) -> None:
    if layers == "every layer off":  # the mapping itself must cope with anything
        context.settings = context.settings.model_copy(update={
            name: Strictness.OFF for name in ("validation_structure", "validation_profile", "dds_rules_patient",
                                              "dds_rules_codes", "dds_rules_metadata", "dds_rules_author")})
    rng = random.Random(20261126)
    original = mhd.bundle((mhd.document_reference(), mhd.examples.hco))
    before = _registry_state(mhd)
    statuses: dict[int, int] = {}
    for _ in range(MUTATIONS):
        mutated = _mutate(original, rng)
        response = mhd.client.post("/dds/fhir", content=json.dumps(mutated),
                                   headers={"Content-Type": "application/fhir+json"})
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, response.text[:1000]
        body = response.json()
        if response.status_code >= 400:
            assert body["resourceType"] == "OperationOutcome"
            assert all(i["severity"] in ("fatal", "error", "warning", "information") for i in body["issue"])
            assert _registry_state(mhd) == before, "a refused submission changed the registry"
        else:
            assert body["type"] == "transaction-response"
            before = _registry_state(mhd)
    assert any(code >= 400 for code in statuses), statuses


@pytest.mark.parametrize("url", [
    "/dds/fhir/DocumentReference?patient.identifier=urn:oid:1.2.208.176.1.2|01%0001&status=current",
    f"/dds/fhir/DocumentReference?patient.identifier=urn:oid:1.2.208.176.1.2|{CPR}&status=current&type=a%00b",
    "/dds/fhir/DocumentReference/ab%00c",
    "/dds/documents/ab%1Fc",
    "/dds/fhir/List?patient.identifier=urn:oid:1.2.208.176.1.2|01%0001",
])
def test_control_characters_in_urls_are_refused_at_the_edge(mhd: Mhd, url: str) -> None:
    response = mhd.client.get(url)
    assert response.status_code == 400
    assert response.json()["issue"][0]["details"]["coding"][0]["code"] == "http-url-characters"


def test_control_characters_in_a_search_form_are_refused(mhd: Mhd) -> None:
    response = mhd.client.post("/dds/fhir/DocumentReference/_search", content=(
        "patient.identifier=urn:oid:1.2.208.176.1.2|01%0001&status=current"),
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400
    assert response.json()["resourceType"] == "OperationOutcome"


def test_a_document_with_a_key_twice_is_refused_naming_it(mhd: Mhd) -> None:
    """A provided FHIR JSON document is read as strictly as the request around it: one reader would take the
    first ``value`` of a duplicate, the next the last, so it is refused (as the Bundle itself would be)."""
    hco = mhd.examples.hco
    doubled = hco.replace(b'"resourceType"', b'"language":"da","language":"en","resourceType"', 1)
    assert doubled != hco
    response = mhd.post(mhd.bundle((mhd.document_reference(), doubled), consistent=False))

    assert response.status_code == 422, response.text
    [issue] = [i for i in issues_of(response) if "twice" in i["diagnostics"]]
    assert "'language'" in issue["diagnostics"] and issue["expression"][0].endswith("resource.data")
    found = mhd.client.get(f"{mhd.base}/DocumentReference",
                           params={"patient.identifier": f"urn:oid:1.2.208.176.1.2|{CPR}", "status": "current"})
    assert found.status_code == 200 and found.json()["total"] == 0, found.text
