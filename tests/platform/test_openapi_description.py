"""The OpenAPI description says what the faces do: one merged document at the root, each actor's own under
its prefix, bodies, parameters, error statuses and media types; a 405 names every method its path serves."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import create_model

from sandbox.openapi_merged import merged_description


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        return {node["$ref"]} if "$ref" in node else set().union(*map(_refs, node.values()), set())
    if isinstance(node, list):
        return set().union(*map(_refs, node), set())
    return set()


def test_one_merged_document_and_one_per_actor(client: TestClient) -> None:
    merged = client.get("/openapi.json").json()
    for prefix in ("/dds", "/nsp", "/plsp", "/eoj", "/lps", "/eds", "/view", "/conformance", "/sandbox"):
        own = client.get(f"{prefix}/openapi.json").json()
        assert own["paths"], prefix
        for path in own["paths"]:
            assert prefix + path in merged["paths"], prefix + path
    components = merged["components"]
    for ref in _refs(merged["paths"]) | _refs(components):
        _, _, kind, name = ref.split("/")
        assert name in components[kind], ref


def test_fhir_bodies_statuses_and_media_types(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    provide = paths["/dds/fhir"]["post"]
    bundle = provide["requestBody"]["content"]["application/fhir+json"]["schema"]
    assert bundle["properties"]["resourceType"] == {"const": "Bundle"}
    for status in ("400", "401", "403", "413", "415", "422"):
        error = provide["responses"][status]["content"]
        assert list(error) == ["application/fhir+json"], status
        assert error["application/fhir+json"]["schema"] == {"$ref": "#/components/schemas/OperationOutcome"}
    assert "application/fhir+json" in provide["responses"]["200"]["content"]
    assert list(paths["/dds/fhir/metadata"]["get"]["responses"]["200"]["content"]) == ["application/fhir+json"]
    search = {p["name"]: p for p in paths["/dds/fhir/DocumentReference"]["get"]["parameters"]}
    assert "required" in search["patient.identifier"]["description"]
    form = paths["/dds/fhir/DocumentReference/_search"]["post"]["requestBody"]["content"]
    assert form["application/x-www-form-urlencoded"]["schema"]["anyOf"] == [
        {"required": ["patient"]}, {"required": ["patient.identifier"]}]
    soap = paths["/dds/ddsregistry"]["post"]
    assert {"text/xml", "application/soap+xml", "multipart/related"} <= set(soap["requestBody"]["content"])
    assert "application/soap+xml" in soap["responses"]["500"]["content"]
    token = paths["/nsp/sts/token"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "persona" in token["properties"]
    assert "HTTPValidationError" not in str(paths)


def test_a_405_names_every_method_of_its_path(client: TestClient) -> None:
    patch = client.patch("/dds/fhir/DocumentReference/x")
    assert patch.status_code == 405
    assert patch.headers["allow"] == "GET, HEAD, PUT"
    delete = client.delete("/dds/fhir/DocumentReference/x")  # refused: nothing shared is ever deleted
    assert delete.status_code == 405 and delete.headers["allow"] == "GET, HEAD, PUT"
    assert client.delete("/dds/documents/x").headers["allow"] == "GET, HEAD"


def test_a_path_no_actor_serves_is_an_operation_outcome(client: TestClient) -> None:
    answer = client.get("/no-such-actor/x")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/fhir+json")
    assert answer.json()["resourceType"] == "OperationOutcome"


def test_clashing_components_are_renamed_per_actor() -> None:
    """Two actors each with their own ``Thing``: the second one's is renamed, its ``$ref`` follows."""
    root = FastAPI(title="root")
    for prefix, field in (("/one", "a"), ("/two", "b")):
        actor = FastAPI(title=prefix)
        model = create_model("Thing", **{field: (int, ...)})

        def take(thing: Any) -> None: ...

        take.__annotations__ = {"thing": model, "return": None}
        actor.post("/take")(take)
        root.mount(prefix, actor)
    document = merged_description(root)
    schemas = document["components"]["schemas"]
    assert "a" in schemas["Thing"]["properties"] and "b" in schemas["two_Thing"]["properties"]
    body = document["paths"]["/two/take"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/two_Thing"}
    first = document["paths"]["/one/take"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert first == {"$ref": "#/components/schemas/Thing"}


def test_an_endpoint_key_with_any_character_is_asked_of_nsp_as_one_path_segment(client: TestClient) -> None:
    """Found by the fuzz pass: a key with a carriage return made the call to NSP raise (a 500)."""
    answer = client.put("/sandbox/endpoints/x%0Dy", json={})  # a carriage return: the URL check lets it in
    assert answer.status_code == 404, answer.text
    assert answer.json()["resourceType"] == "OperationOutcome"
