"""``POST /sandbox/world``: a vendor's own test persons, organisations, systems, relations and blocks,
from YAML or JSON, checked strictly, shared by every NSP process, and working in every flow."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from hco_flow import dds_entries, order
from sts_client import auth
from world_support import ANNA, CHILD, CLINIC, PARENT, TEAM, VENDOR_GP, load, vendor_keys, world_file

from nsp_sandbox.context import SandboxContext
from services.nsp.world import shipped_world
from services.nsp.world_additions import LiveWorld


def test_a_vendor_s_world_makes_personas_that_get_tokens(client: TestClient) -> None:
    loaded = load(client, world_file())
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["loaded"] == {"organisations": 2, "citizens": 3, "relatives": 2, "professionals": 1,
                                       "systems": 1, "relations": 1, "blocks": 1}
    personas = {p["id"]: p for p in client.get("/nsp/personas").json()}
    for persona in (f"citizen-{ANNA}", f"relative-{PARENT}", VENDOR_GP, "system-lps-vendor"):
        assert persona in personas
        assert client.post("/nsp/sts/token", json={"persona": persona}).status_code == 200
    assert personas[f"relative-{PARENT}"]["acts_for"] == sorted([ANNA, CHILD])
    assert sorted(personas[VENDOR_GP]["relations"]) == sorted([PARENT, CHILD])  # the clinic's listed citizens
    assert ANNA in personas["nurse-aarhus-acute"]["relations"]
    assert client.get(f"/nsp/organisations/{TEAM}").json()["ancestors"] == ["937961000016000"]
    person = client.get(f"/nsp/persons/{ANNA}", headers=auth(client, VENDOR_GP, ["nsp"]))
    assert person.status_code == 200 and person.json()["name"] == "Anna Vendortest"
    blocks = client.get("/nsp/consent/blocks", params={"cpr": CHILD},
                        headers=auth(client, f"relative-{PARENT}", ["nsp"])).json()
    assert [(b["kind"], b["who"]["type"], b["what"]["type"], b["what"]["id"], b["status"]) for b in blocks] == [
        ("negative", "all", "organisation", TEAM, "active")]


def test_a_world_file_loaded_again_adds_no_second_copy_of_its_blocks(client: TestClient) -> None:
    first = load(client, world_file())
    again = load(client, world_file(), as_yaml=False)
    assert first.status_code == again.status_code == 200, again.text
    assert again.json()["blocks"] == first.json()["blocks"]  # the same item answered, not a new one
    blocks = client.get("/nsp/consent/blocks", params={"cpr": CHILD},
                        headers=auth(client, f"relative-{PARENT}", ["nsp"])).json()
    assert len(blocks) == 1 and blocks[0]["status"] == "active"
    revoked = client.post(f"/nsp/consent/blocks/{blocks[0]['id']}/revoke",
                          headers=auth(client, f"relative-{PARENT}", ["nsp"]))
    assert revoked.status_code == 200, revoked.text
    third = load(client, world_file())  # a revoked block is history: loading the file registers it anew
    assert third.status_code == 200 and third.json()["blocks"] != first.json()["blocks"]
    statuses = [b["status"] for b in client.get("/nsp/consent/blocks", params={"cpr": CHILD},
                                                headers=auth(client, f"relative-{PARENT}", ["nsp"])).json()]
    assert sorted(statuses) == ["active", "revoked"]


def test_a_vendor_s_test_citizen_goes_through_the_hco_flow_dds_and_min_log(client: TestClient) -> None:
    assert load(client, world_file(), as_yaml=False).status_code == 200
    sent = client.post("/eoj/hco", json=order(cpr=ANNA, family="Vendortest", given=["Anna"]))
    assert sent.status_code == 201, sent.text
    assert sent.json()["ack"] == "ok"
    (entry,) = dds_entries(client, ANNA)  # shared to DDS, found with the citizen's own token
    nurse = client.get("/dds/fhir/DocumentReference", headers=auth(client, "nurse-aarhus-acute"),
                       params={"patient.identifier": f"urn:oid:1.2.208.176.1.2|{ANNA}", "status": "current"})
    assert nurse.status_code == 200 and entry["id"] in nurse.text  # the relation from the world file
    log = client.get("/nsp/minlog", params={"cpr": ANNA}, headers=auth(client, f"citizen-{ANNA}", ["nsp"]))
    assert log.status_code == 200 and any(e["user_name"] == "Pia Sørensen" for e in log.json())


def test_every_nsp_process_on_the_database_follows_a_loaded_world(client: TestClient,
                                                                  context: SandboxContext) -> None:
    other = LiveWorld(context.database, shipped_world())  # another worker's NSP
    other.refresh(force=True)
    assert ANNA not in other.world.citizens
    assert load(client, world_file()).status_code == 200
    other.refresh(force=True)
    assert other.world.citizens[ANNA].name == "Anna Vendortest"
    assert other.world.systems["system-lps-vendor"].certificate.startswith("-----BEGIN CERTIFICATE-----")
    assert ANNA not in shipped_world().citizens  # the shipped world itself is never changed


@pytest.mark.parametrize("change, where", [
    ({"patients": []}, "patients"),
    ({"citizens": [{"cpr": ANNA, "name": "A", "nmae": "typo"}]}, "citizens[0].nmae"),
    ({"citizens": [{"cpr": "3213821234", "name": "A"}]}, "citizens[0].cpr"),
    ({"citizens": [{"cpr": ANNA, "name": "A", "gp": "999999999999"}]}, "citizens[0].gp"),
    ({"citizens": [{"cpr": ANNA}]}, "citizens[0].name"),
    ({"organisations": [{"sor": "12", "name": "X", "kind": "gp-clinic"}]}, "organisations[0].sor"),
    ({"relatives": [{"cpr": ANNA, "acts_for": "0602631234", "basis": "friendship"}]}, "relatives[0].cpr"),
    ({"relations": [{"professional": "nobody", "cpr": "0602631234"}]}, "relations[0].professional"),
    ({"systems": [{"id": "s", "name": "S", "kind": "eoj", "certificate": "not PEM"}]}, "systems[0].certificate"),
    ({"blocks": [{"cpr": "0602631234", "who": {"type": "professional", "id": "XX"}}]}, "blocks[0].who.id"),
    ({"blocks": [{"cpr": "0602631234", "who": {"type": "all"}, "what": {"type": "organisation", "id": "1"}}]},
     "blocks[0].what.id"),
    ({"blocks": [{"cpr": "0602631234", "who": {"type": "organisation", "id": "937961000016000"}}]},
     "blocks[0].who.type"),
    ({"blocks": [{"cpr": "0602631234", "who": {"type": "all"}, "valid_from": "2026-01-01T00:00"}]},
     "blocks[0].valid_from"),
])
def test_a_wrong_world_file_is_refused_naming_where(client: TestClient, change: dict[str, Any], where: str) -> None:
    refused = load(client, change)
    assert refused.status_code == 422, refused.text
    assert where in [e for i in refused.json()["issue"] for e in i.get("expression", [])]
    assert ANNA not in {p.get("cpr") for p in client.get("/nsp/personas").json()}  # nothing loaded


def test_unreadable_bodies(client: TestClient) -> None:
    twice = client.post("/sandbox/world", content=b"citizens: []\ncitizens: []\n",
                        headers={"Content-Type": "application/yaml"})
    assert twice.status_code == 400 and "given twice" in twice.text
    assert client.post("/sandbox/world", content=b"- a\n", headers={"Content-Type": "text/yaml"}).status_code == 422
    assert client.post("/sandbox/world", content=b"x", headers={"Content-Type": "text/plain"}).status_code == 415
    unquoted = client.post("/sandbox/world", content=f"citizens:\n- {{cpr: {ANNA}, name: A}}\n".encode(),
                           headers={"Content-Type": "application/yaml"})
    assert unquoted.status_code == 422 and "quote" in unquoted.text


def test_a_vendor_s_gp_system_shares_through_plsp_and_its_professional_gets_an_id_card(client: TestClient) -> None:
    from nsp_sandbox.plsp_client import PlspClient, approval, diagnosis

    assert load(client, world_file()).status_code == 200
    vendor = PlspClient.for_persona(client, "system-lps-vendor")  # type: ignore[arg-type]
    card = {"diagnoses": [diagnosis("dx-t90", "current", recorded="2019-03-04T09:00:00+01:00", sks="DE119a",
                                    icpc2="T90", text="Type 2-diabetes", type="problem-list-item")],
            "approval": approval("VV1X1", ["Vera"], "Vendor", "2026-05-06T11:20:00+02:00")}
    vendor.put_card(PARENT, card)
    found = client.get("/dds/fhir/DocumentReference", headers=auth(client, VENDOR_GP),
                       params={"patient.identifier": f"urn:oid:1.2.208.176.1.2|{PARENT}", "status": "current"})
    assert found.status_code == 200, found.text
    assert [e["resource"]["type"]["coding"][0]["code"] for e in found.json().get("entry", [])
            if e.get("search", {}).get("mode") == "match"] == ["11450-4"]  # the ConditionList entry
    for persona in (VENDOR_GP, "system-lps-vendor"):
        card_xml = client.post("/nsp/sts/idcard", json={"persona": persona})
        assert card_xml.status_code == 200 and b"Vendor" in card_xml.content


def test_a_system_with_its_own_certificate_gets_id_cards_only_for_requests_signed_with_it(client: TestClient) -> None:
    from datetime import UTC, datetime, timedelta

    from nsp_sandbox.dgws.faults import read_fault
    from nsp_sandbox.dgws.idcard import SOR, SYSTEM, CareProvider, IdCard, build_idcard
    from nsp_sandbox.dgws.keys import self_signed
    from nsp_sandbox.dgws.signing import sign_enveloped
    from nsp_sandbox.dgws.wstrust import build_request

    assert load(client, world_file()).status_code == 200
    now = datetime.now(UTC).replace(microsecond=0)
    card = IdCard(card_id="v1", card_type=SYSTEM, authentication_level=3, issuer="vendor", name_id="CN=vendor",
                  name_id_format="medcom:other", issue_instant=now, not_before=now,
                  not_on_or_after=now + timedelta(hours=1), it_system_name="Vendor GP system",
                  care_provider=CareProvider(CLINIC, SOR, "Vendor Lægehus"))

    def ask(keys: Any) -> Any:
        requested = sign_enveloped(build_idcard(card), keys.key, keys.certificate)
        return client.post("/nsp/sts/services/NewSecurityTokenService", content=build_request(
            requested, "vendor", now), headers={"Content-Type": "text/xml"})

    assert ask(vendor_keys()).status_code == 200
    refused = ask(self_signed("Someone else", "Elsewhere", now))
    fault = read_fault(refused.content)
    assert refused.status_code == 500 and fault is not None and fault.code == "invalid_certificate"
    assert "not with the certificate registered for Vendor GP system" in fault.message


def test_yaml_dates_may_be_written_bare(client: TestClient) -> None:
    text = ("citizens:\n- {cpr: '1111111118', name: Jens Yamltest, gp: '52581000016005'}\n"
            "relations:\n- {professional: nurse-aarhus-acute, cpr: '1111111118', valid_from: 2020-01-01}\n"
            "blocks:\n- {cpr: '1111111118', who: {type: all}, valid_from: 2020-01-01T00:00:00+01:00}\n")
    loaded = client.post("/sandbox/world", content=text.encode(), headers={"Content-Type": "application/yaml"})
    assert loaded.status_code == 200, loaded.text
    nurse = next(p for p in client.get("/nsp/personas").json() if p["id"] == "nurse-aarhus-acute")
    assert "1111111118" in nurse["relations"]
