"""The LPS interface documents itself: paths, request examples, response models and the bearer token."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_the_openapi_document(client: TestClient) -> None:
    document = client.get("/plsp/openapi.json").json()
    paths = document["paths"]
    for path in ("/patients/{cpr}/conditionlist", "/patients/{cpr}/notes", "/notes/{key}", "/notes/{key}/cancel",
                 "/notes/{key}/do-not-share", "/notes/{key}/share", "/documents", "/patients/{cpr}/events",
                 "/ondemand/{key}"):
        assert path in paths, path
        for operation in paths[path].values():
            assert operation["summary"] and operation["security"] == [{"sts": []}]
    schemas = document["components"]["schemas"]
    assert schemas["CardIn"]["examples"][0]["diagnoses"][2]["private"] is True
    assert schemas["NoteIn"]["examples"][0]["created"].endswith("+02:00")
    put = paths["/patients/{cpr}/conditionlist"]["put"]
    assert put["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/CardOut")
    assert "422" in put["responses"]
    assert client.get("/plsp/docs").status_code == 200
