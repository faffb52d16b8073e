"""The replay corpus's MedCom receive-test material (``hco.md`` §7.3): the protocol's extra examples 1–4
and the invalid example 5 (the project's fixtures, written from MedCom's FSH instances) and the HCO
test-script package's Bundles (read at run time), each sent through the EOJ to the GP emulator,
addressed to it, with the answer it owes."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from hco_flow import SKODSTRUP, lps_received, status

from nsp_sandbox.hco_terms import GLN_SYSTEM, SOR_SYSTEM, YDERNUMMER_SYSTEM
from nsp_sandbox.outcome import RULE_SYSTEM
from services.eoj_sender.replay_corpus import PROTOCOL, TESTSCRIPTS_PACKAGE, protocol_message

PROTOCOL_CASES = {
    "protocol:ReceiveTestExampleExtra1": ("ok", None, "MSG_VERSION_AWARE_URL"),
    "protocol:ReceiveTestExampleExtra2": ("ok", None, "MSG_NO_MATCH"),
    "protocol:ReceiveTestExampleExtra3": ("ok", None, None),
    "protocol:ReceiveTestExampleExtra4": ("ok", None, None),
    "protocol:ReceiveTestExample5": ("fatal-error", "MSG_BAD_FORMAT", None),
}
TESTSCRIPTS = ("3.4.1-TemporaryCPRAndNoComments", "3.4.5-BigExampleWithFilesCommentsAndMultipleObservations",
               "R1-3.3.1.1-Basic", "R1-3.3.2.1-BasicWithFileAndComments",
               "R1-3.3.2.4-BasicWithAttachedFileAndNoComments", "R1A1-3.3.3.1-RefusedConsentToShareResultsNoComments")


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def _rules(row: dict[str, Any]) -> list[str]:
    """The rule ids of the GP emulator's findings on a received message."""
    return [c["code"] for i in row["issues"] for c in i.get("details", {}).get("coding", [])
            if c["system"] == RULE_SYSTEM]


def test_the_catalogue_lists_the_receive_test_material_with_its_verdicts(client: TestClient) -> None:
    cases = {c["name"]: c for c in client.get("/eoj/corpus").json()}
    for name, (code, issue, warning) in PROTOCOL_CASES.items():
        assert (cases[name]["expected"], cases[name]["expected_issue"], cases[name]["expected_warning"]) == \
            (code, issue, warning)
    for title in TESTSCRIPTS:
        case = cases[f"testscript:{title}"]
        assert (case["expected"], case["expected_issue"], case["expected_warning"]) == \
            ("ok", None, "MSG_VERSION_AWARE_URL")
        assert TESTSCRIPTS_PACKAGE in case["description"]


def test_the_fixtures_hold_what_the_fsh_instances_test(validator) -> None:  # type: ignore[no-untyped-def]
    """Extra 1–4 pass the profile; example 5 breaks it where MedCom says; each carries its quirk."""
    fixtures = {f.name: protocol_message(f.name) for f in PROTOCOL}
    for name in ("ReceiveTestExampleExtra1", "ReceiveTestExampleExtra2", "ReceiveTestExampleExtra3",
                 "ReceiveTestExampleExtra4"):
        assert [i.diagnostics for i in validator.validate(fixtures[name]) if i.is_error] == [], name
    extra1, extra2, extra3 = (fixtures[f"ReceiveTestExampleExtra{n}"] for n in (1, 2, 3))
    assert extra1["entry"][0]["resource"]["definition"].endswith("MedComHomeCareObservationMessageDefinition|1.2")
    assert _resources(extra1, "Provenance")[0]["occurredDateTime"] > _resources(extra1, "Provenance")[0]["recorded"]
    (report,) = _resources(extra2, "DiagnosticReport")
    listed = {r["reference"] for r in report["result"]}
    assert [o["id"] for o in _resources(extra2, "Observation") if f"Observation/{o['id']}" not in listed] == \
        ["MonocytesObservationOnBrunoExtra2"]
    assert len({o["effectiveDateTime"] for o in _resources(extra3, "Observation")}) == 2
    errors = [f"{i.expression}: {i.diagnostics}" for i in validator.validate(fixtures["ReceiveTestExample5"])
              if i.is_error]
    assert any("medcom-homecareReport-1" in e for e in errors), errors
    assert any(e.startswith("Bundle.entry[2].resource.status") for e in errors), errors
    assert any("NPU2026" in e for e in errors), errors


def test_the_protocol_cases_get_their_acknowledgements(client: TestClient) -> None:
    results = client.post("/eoj/corpus/run", params={"receiver": SKODSTRUP, "case": "protocol"}).json()
    assert [r["case"] for r in results] == list(PROTOCOL_CASES)
    register = {e["sor"]: e for e in client.get("/eoj/endpoints").json()}
    assert all(r["result"] == "pass" for r in results), results
    for r in results:
        code, issue, warning = PROTOCOL_CASES[r["case"]]
        assert (r["ack"], r["expected_issue"], r["expected_warning"]) == (code, issue, warning)
        (row,) = lps_received(client, r["message"])
        # addressed to the GP system under test; the GP's initials (or 'unknown') as the material has them
        sent = status(client, r["message"])["bundle"]
        name = r["case"].removeprefix("protocol:")
        original = {o["id"]: o for o in _resources(protocol_message(name), "Organization")}
        receiver = next(o for o in _resources(sent, "Organization") if o["id"].endswith("Dr"))
        ids = {i["system"]: i["value"] for i in receiver["identifier"]}
        assert ids[SOR_SYSTEM] == SKODSTRUP and ids[GLN_SYSTEM] and ids[YDERNUMMER_SYSTEM]
        assert receiver["contact"] == original[receiver["id"]]["contact"]
        assert sent["entry"][0]["resource"]["destination"][0]["endpoint"] == register[SKODSTRUP]["url"]
        if warning:
            assert r["issues"] == [warning] and [i["severity"] for i in row["issues"]] == ["warning"]
        elif code == "ok":
            assert r["issues"] == [] and row["issues"] == []
    example5 = lps_received(client, results[-1]["message"])[0]
    assert "invariant:medcom-homecareReport-1" in _rules(example5)
    assert _rules(lps_received(client, results[0]["message"])[0]) == ["hco-definition-published"]
    assert _rules(lps_received(client, results[1]["message"])[0]) == ["hco-orphan-entry"]


def test_the_testscript_bundles_are_accepted_with_the_legacy_definition_warning(client: TestClient) -> None:
    results = client.post("/eoj/corpus/run", params={"receiver": SKODSTRUP, "case": "testscripts"}).json()
    assert [r["case"] for r in results] == [f"testscript:{t}" for t in TESTSCRIPTS]
    assert all(r["result"] == "pass" and r["ack"] == "ok" for r in results), results
    for r in results:
        (row,) = lps_received(client, r["message"])
        assert _rules(row) == ["hco-definition-legacy"], row["issues"]
        assert row["issues"][0]["expression"] == ["Bundle.entry[0].resource.definition"]


def test_one_case_runs_alone(client: TestClient) -> None:
    (result,) = client.post("/eoj/corpus/run", params={"receiver": SKODSTRUP,
                                                      "case": "protocol:ReceiveTestExample5"}).json()
    assert (result["ack"], result["result"]) == ("fatal-error", "pass")
    assert "MSG_BAD_FORMAT" in result["issues"]


def test_an_unknown_case_is_refused_with_the_cases_there_are(client: TestClient) -> None:
    response = client.post("/eoj/corpus/run", params={"receiver": SKODSTRUP, "case": "protocol:Example9"})
    assert response.status_code == 422
    (issue,) = response.json()["issue"]
    assert issue["expression"] == ["case"] and "protocol:ReceiveTestExample5" in issue["diagnostics"]
    assert client.get("/lps/received").json() == []
