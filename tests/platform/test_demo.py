"""Demo data: the official HCO example messages sent through the EOJ, which shares them to DDS through
the MHD interface; and the ``demo hco`` scenario."""

from __future__ import annotations

from face_access import bearer, stranger
from fastapi.testclient import TestClient
from sts_client import auth
from typer.testing import CliRunner

from nsp_sandbox.mhd_source import DocumentSource
from sandbox.demo import HCO_PACKAGE, hco_scenario, send_hco_examples
from services.eoj_sender.chain import read_facts
from services.eoj_sender.sharing import SOURCE_ID, document_metadata

CPR = "2509479989"


def test_examples_are_shared_corrected_and_retracted_as_the_hco_rules_say(client: TestClient, packages) -> None:  # type: ignore[no-untyped-def]
    examples = list(packages.get(HCO_PACKAGE).examples())
    lines: list[str] = []
    changed = send_hco_examples(client, "http://sandbox.test/eoj", examples, report=lines.append)
    assert changed == 7, lines
    citizen = DocumentSource("http://sandbox.test/dds/fhir", source_id=SOURCE_ID, client=client,
                             headers=auth(client, f"citizen-{CPR}"))
    assert any("refused consent" in line and "faa0c104" in line for line in lines)
    assert any("eCPR" in line and "0703921VJ5" in line for line in lines)

    current = citizen.find(CPR)
    superseded = citizen.find(CPR, status="superseded")
    retracted = citizen.find(CPR, status="entered-in-error")
    titles = {r["content"][0]["attachment"]["title"] for r in current}
    # The new message 401cbc36 (MessageHeader 489de4f2) was modified, and the modification retracted.
    assert not any("489de4f2" in t or "07eb074b" in t for t in titles)
    assert [r["content"][0]["attachment"]["title"] for r in superseded] == [
        "Kommunale prøvesvar (HCOM-489de4f2-0d8d-4de2-a7ce-ccb93568799f)"]
    assert [r["content"][0]["attachment"]["title"] for r in retracted] == [
        "Kommunale prøvesvar (HCOM-07eb074b-be00-47e5-8bcb-484990a1a97e)"]
    assert len(current) == 4  # add5e7e2 and ReceiveTestExample1, 2, 4
    # The refused-consent message is nowhere in DDS.
    everything = current + superseded + retracted
    assert not any("e9f4cc68" in r["content"][0]["attachment"]["title"] for r in everything)

    # Shared documents are the exact message bytes, retrievable by ITI-68.
    doc = client.get(superseded[0]["content"][0]["attachment"]["url"], headers=citizen.headers)
    assert doc.status_code == 200
    assert doc.json()["id"] == "401cbc36-db1e-4fe0-bf90-6df331dde179"

    # Every example went to the GP emulator, and was acknowledged ok: each practice lists its own.
    received = {gp: stranger(client).get("/lps/received", headers=bearer(client, gp, "lps")).json()
                for gp in ("gp-skodstrup", "gp-agerskov")}
    assert all(received.values()) and sum(len(r) for r in received.values()) == 9
    assert {r["ack_code"] for rows in received.values() for r in rows} == {"ok"}

    # A second run changes nothing.
    assert send_hco_examples(client, "http://sandbox.test/eoj", examples, report=lines.append) == 0
    assert lines[-1] == "  demo data already present"


def test_reading_an_hco_message(packages) -> None:  # type: ignore[no-untyped-def]
    bundle = packages.get(HCO_PACKAGE).load("example/Bundle-73996cdc-3192-4d15-bd16-c365ef0085e7.json")
    facts = read_facts(bundle)
    assert facts is not None
    assert facts.activity == "modified-message"
    assert facts.previous_header == "489de4f2-0d8d-4de2-a7ce-ccb93568799f"
    meta = document_metadata(bundle)
    assert meta.patient.cpr == CPR
    assert meta.author.sor == "1144561000016002"
    assert meta.unique_id == "urn:uuid:73996cdc-3192-4d15-bd16-c365ef0085e7"
    assert read_facts({"resourceType": "Bundle", "entry": []}) is None


def test_the_hco_scenario_traces_new_modify_retract(client: TestClient) -> None:
    lines: list[str] = []
    seen: list[list[str]] = []
    final = hco_scenario(client, "http://sandbox.test", report=lines.append, after_step=seen.append)
    assert [m["activity"] for m in final["chain"]] == ["new-message", "modified-message", "retract-message"]
    assert [len(ids) for ids in seen] == [1, 2, 2]
    assert any(line.startswith("retract:") for line in lines)
    assert any("status cancelled" in line for line in lines)
    assert any("NPU19748 62 mg/L R" in line for line in lines)
    # EHMI: the envelope receipt, the DDS copy sent in parallel, and the stations that reported to EDS
    assert sum("SBDH receipt: ReceiptAcknowledgement" in line and "— received" in line for line in lines) == 4
    assert sum("DDS copy, sent in parallel with the message" in line for line in lines) == 2
    eds = [line for line in lines if line.startswith("  delivery status (EDS): ")]
    assert len(eds) == 4 and all("msg-created-and-sent (nsp-sandbox EOJ" in line and "msg-received (nsp-sandbox LPS"
                                 in line and "msg-received-and-finalized (nsp-sandbox LPS" in line for line in eds)
    # the register is left as it was: the scenario's envelope was for the scenario only
    endpoint = next(e for e in client.get("/eoj/endpoints").json() if e["sor"] == "52581000016005")
    assert endpoint["envelope"] == "none"


def test_demo_hco_command_exists() -> None:
    from sandbox.cli import app

    result = CliRunner().invoke(app, ["demo", "hco", "--help"])
    assert result.exit_code == 0
    assert "new → modify → retract" in result.output
