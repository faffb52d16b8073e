"""A vendor's world file for the control-face tests: its own clinic and acute team, three test citizens
(one listed at the GP emulator's clinic, a parent and a child), a relative, a professional, a GP system
with its certificate, a treatment relation and a block."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

import yaml
from fastapi.testclient import TestClient
from hco_flow import SKODSTRUP

from nsp_sandbox.dgws.keys import KeyPair, self_signed

CLINIC, TEAM = "900010000099016", "900011000099016"
ANNA = "1212821234"  # a vendor's test citizen, listed at Skødstrup (so the GP emulator takes her messages)
PARENT, CHILD = "0303751234", "0101154321"  # the child was born in 2015
VENDOR_GP = "gp-vendor-clinic"


@cache
def vendor_keys() -> KeyPair:
    """The vendor GP system's own key pair and certificate (made once: RSA generation is slow)."""
    return self_signed("Vendor GP system", "Vendor A/S", datetime.now(UTC))


def world_file() -> dict[str, Any]:
    certificate = vendor_keys().certificate_pem()
    return {
        "organisations": [
            {"sor": CLINIC, "name": "Vendor Lægehus", "kind": "gp-clinic", "parent": None, "municipality": "Aarhus",
             "gln": "5790000127092", "ydernummer": "099999"},
            {"sor": TEAM, "name": "Vendor Akutteam", "kind": "acute-team", "parent": "937961000016000",
             "gln": "5790009900115", "producent_id": "KAF"}],
        "citizens": [
            {"cpr": ANNA, "name": "Anna Vendortest", "gp": SKODSTRUP, "address": "Testvej 1, 8000 Aarhus C"},
            {"cpr": PARENT, "name": "Peter Vendortest", "gp": CLINIC},
            {"cpr": CHILD, "name": "Lille Vendortest", "gp": CLINIC}],
        "relatives": [{"cpr": PARENT, "acts_for": CHILD, "basis": "custody"},
                      {"cpr": PARENT, "acts_for": ANNA, "basis": "power-of-attorney", "valid_from": "2025-01-01"}],
        "professionals": [{"id": VENDOR_GP, "name": "Vera Vendor", "cpr": "0202801234", "authorisation": "VV1X1",
                           "role": "Læge", "organisation": CLINIC}],
        "systems": [{"id": "system-lps-vendor", "name": "Vendor GP system", "kind": "gp-system",
                     "organisation": CLINIC, "certificate": certificate}],
        "relations": [{"professional": "nurse-aarhus-acute", "cpr": ANNA, "valid_from": "2025-01-01"}],
        "blocks": [{"cpr": CHILD, "who": {"type": "all"}, "what": {"type": "organisation", "id": TEAM}}],
    }


def load(client: TestClient, body: dict[str, Any], as_yaml: bool = True) -> Any:
    if as_yaml:
        return client.post("/sandbox/world", content=yaml.safe_dump(body, allow_unicode=True).encode(),
                           headers={"Content-Type": "application/yaml"})
    return client.post("/sandbox/world", json=body)
