"""The statistics after the demo data of ``nsp-sandbox up`` (the official HCO example messages sent
through the EOJ; a diagnosis card and two notes through the PLSP hub): the numbers make sense —
every example message counted under the municipality of its producer, each analysis code once with
the national repertoire's display, the DDS copies and why the others were not made."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from sandbox.demo import HCO_PACKAGE, send_hco_examples
from sandbox.demo_plsp import load_plsp_demo

ECPR = "0703921VJ5"  # the eCPR patient of an official example


def test_the_demo_data_in_the_statistics(client: TestClient, packages: Any) -> None:
    examples = list(packages.get(HCO_PACKAGE).examples())
    assert send_hco_examples(client, "http://sandbox.test/eoj", examples, report=lambda _: None) == 7
    assert load_plsp_demo(client, "http://sandbox.test", report=lambda _: None) == 3

    response = client.get("/view/api/statistik")
    assert response.status_code == 200
    assert "2509479989" not in response.text and ECPR not in response.text
    sections = response.json()["sections"]
    hco = sections["hco"]["counts"]
    assert hco["messages"] == {"total": 9, "by_activity": {"modified-message": 1, "new-message": 7,
                                                           "retract-message": 1}}
    assert [(m["municipality"], m["messages"]) for m in hco["by_municipality"]] == [
        ("Aarhus Kommune", 5), ("Tønder Kommune", 4)]
    codes = [(r["week"], r["code"]) for r in hco["by_analysis_week"]]
    assert len(codes) == len(set(codes))  # one row per analysis and week, however a message spelt it
    assert all(r["display"] for r in hco["by_analysis_week"])
    assert {a["outcome"]: a["messages"] for a in hco["acknowledgements"]} == {"ok": 9, "error": 0, "fatal": 0,
                                                                              "none": 0}
    assert hco["dds"]["shared"] == 6  # 7 DDS changes by the loader: 6 copies and the retraction's deprecation
    assert {r["reason"]: r["messages"] for r in hco["dds"]["not_shared_by_reason"]} == {
        "refused-consent": 1, "ecpr": 1, "retraction": 1}
    gp = sections["gp"]["counts"]
    assert gp["received"] == 9 and sum(p["messages"] for p in gp["by_practice"]) == 9
    plsp = sections["plsp"]["counts"]
    assert plsp["totals"] == {"cards": 1, "cards_shared": 1, "notes": 2, "notes_shared": 2, "notes_not_shared": 0,
                              "notes_cancelled": 0, "notes_purged": 0}

    page = client.get("/view/statistik").text
    assert "Tønder Kommune" in page and "borgeren har frabedt sig deling" in page
