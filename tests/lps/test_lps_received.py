"""``GET /lps/received`` for testers: who sent each message to whom and when, and with ``?message=true`` the
message itself as the GP inbox received it (what a conformance run checks a vendor's EOJ by)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from hco_flow import SKODSTRUP, send

AARHUS_ACUTE = "900001000099016"  # the sandbox EOJ's producer organisation


def test_received_names_sender_receiver_and_time_and_gives_the_message_on_request(client: TestClient) -> None:
    sent = send(client)
    plain = client.get("/lps/received", params={"header_id": sent["id"]}).json()
    assert len(plain) == 1 and "message" not in plain[0]
    assert (plain[0]["sender_sor"], plain[0]["receiver_sor"]) == (AARHUS_ACUTE, SKODSTRUP)
    assert plain[0]["received_at"].startswith(client.get("/sandbox/clock").json()["now"][:10])
    full = client.get("/lps/received", params={"header_id": sent["id"], "message": "true"}).json()
    message = full[0]["message"]
    assert message["id"] == plain[0]["bundle_id"] and message["entry"][0]["resource"]["id"] == sent["id"]
    assert {k: v for k, v in full[0].items() if k != "message"} == plain[0]
