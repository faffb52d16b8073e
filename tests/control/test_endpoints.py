"""The endpoint register through the control face (``/sandbox/endpoints``), read from and forwarded to
the EOJ's register over HTTP: a vendor registers its GP system by SOR or GLN, and the sandbox's EOJ
sends there."""

from __future__ import annotations

from fastapi.testclient import TestClient
from hco_flow import SKODSTRUP, send

AGERSKOV = ("73091000016008", "5790000147465")  # SOR, GLN in NSP's SOR register
HCO = "homecareobservation-message"


def test_the_register_lists_what_the_eoj_has(client: TestClient) -> None:
    listed = client.get("/sandbox/endpoints")
    assert listed.status_code == 200, listed.text
    eoj = {e["sor"]: e for e in client.get("/eoj/endpoints").json()}
    assert {e["sor"] for e in listed.json()} == set(eoj)
    assert all("hco_version" in e for e in listed.json())


def test_an_existing_receiver_keeps_what_is_not_given(client: TestClient) -> None:
    before = next(e for e in client.get("/eoj/endpoints").json() if e["sor"] == SKODSTRUP)
    changed = client.put(f"/sandbox/endpoints/{before['gln']}", json={"url": "http://127.0.0.1:9/ehmi",
                                                                      "hco_version": "1.2"})
    assert changed.status_code == 200, changed.text
    assert changed.json() == {**before, "url": "http://127.0.0.1:9/ehmi", "hco_version": "1.2"}
    stored = next(e for e in client.get("/sandbox/endpoints").json() if e["sor"] == SKODSTRUP)
    assert stored["hco_version"] == "1.2" and stored["url"] == "http://127.0.0.1:9/ehmi"
    assert "not delivered" in send(client)["send_result"]  # the EOJ sends where the register says


def test_a_new_receiver_by_sor_takes_its_name_and_gln_from_nsp(client: TestClient) -> None:
    inbox = next(e for e in client.get("/eoj/endpoints").json() if e["sor"] == SKODSTRUP)["url"]
    added = client.put(f"/sandbox/endpoints/{AGERSKOV[0]}", json={"url": inbox, "message_types": [HCO],
                                                                  "hco_version": "1.2.1"})
    assert added.status_code == 200, added.text
    assert added.json()["name"] == "Agerskov lægepraksis" and added.json()["gln"] == AGERSKOV[1]
    assert added.json()["message_types"] == [HCO] and added.json()["hco_version"] == "1.2.1"
    assert AGERSKOV[0] in {e["sor"] for e in client.get("/eoj/endpoints").json()}


def test_refusals(client: TestClient) -> None:
    unknown = client.put(f"/sandbox/endpoints/{SKODSTRUP}", json={"url": "http://x/ehmi", "adress": "typo"})
    assert unknown.status_code == 422 and unknown.json()["issue"][0]["expression"] == ["adress"]
    version = client.put(f"/sandbox/endpoints/{SKODSTRUP}", json={"hco_version": "latest"})
    assert version.status_code == 422 and version.json()["issue"][0]["expression"] == ["hco_version"]
    types = client.put(f"/sandbox/endpoints/{SKODSTRUP}", json={"message_types": "hco"})
    assert types.status_code == 422 and types.json()["issue"][0]["expression"] == ["message_types"]
    bad_url = client.put(f"/sandbox/endpoints/{SKODSTRUP}", json={"url": "ftp://x"})
    assert bad_url.status_code == 422 and "url" in bad_url.text  # the EOJ's own rule, passed on
    nowhere = client.put("/sandbox/endpoints/99999999999", json={"url": "http://x/ehmi"})
    assert nowhere.status_code == 404
