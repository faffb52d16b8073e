"""STS: signed tokens for personas whose claims model a DGWS ID card and the HSUID header."""

from __future__ import annotations

import jwt
import pytest
from fastapi.testclient import TestClient
from sts_client import token

from nsp_sandbox.context import SandboxContext
from nsp_sandbox.tokens import audience, verify
from sandbox.app import create_sandbox_app


def claims(client: TestClient, persona: str, **kwargs) -> dict:  # type: ignore[no-untyped-def]
    jwks = client.get("/nsp/sts/jwks").json()
    raw = token(client, persona, **kwargs)
    return jwt.decode(raw, jwt.PyJWK(jwks["keys"][0]).key, algorithms=["ES256"], audience=audience("dds"))


def test_token_response(client: TestClient) -> None:
    response = client.post("/nsp/sts/token", json={"persona": "gp-skodstrup"})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and 0 < body["expires_in"] <= 3600
    assert response.headers["cache-control"] == "no-store"


def test_professional_claims(client: TestClient) -> None:
    c = claims(client, "gp-skodstrup")
    assert (c["id_card_type"], c["assurance_level"], c["user_type"]) == ("user", 4, "nsi:HealthcareProfessional")
    assert c["authorisation"] == "SK7T1" and c["role"] == "Læge" and c["acting_cpr"] == "1203701235"
    assert c["organisation"] == {"sor": "52581000016005", "name": "Skødstrup Lægepraksis"}
    assert c["exp"] - c["iat"] == 600
    assert set(c["aud"]) == {audience("dds"), audience("nsp")}


def test_citizen_relative_and_system_claims(client: TestClient) -> None:
    citizen = claims(client, "citizen-2509479989")
    assert (citizen["user_type"], citizen["acting_cpr"], citizen["acts_for"]) == ("nsi:Citizen", "2509479989", [])
    relative = claims(client, "relative-0505059996")
    assert relative["acts_for"] == ["2509479989"] and relative["citizen_user_relation"] == "nsi:Representative"
    assert relative["acting_as"] == {"2509479989": "fuldmagt"}
    assert relative["fuldmagt_scopes"] == {"2509479989": "sundhedsjournal"}
    assert citizen["pseudonymised_cvrs"] == []
    system = claims(client, "system-eoj-aarhus")
    assert (system["id_card_type"], system["assurance_level"], system["user_type"]) == ("system", 3, None)
    assert system["system_name"] == "Cura (EOJ) Aarhus Kommune"


@pytest.mark.parametrize(("body", "status"), [
    ({"persona": "nobody"}, 404), ({}, 400), ({"persona": "gp-skodstrup", "audience": "elsewhere"}, 400),
    ({"persona": "gp-skodstrup", "audience": []}, 400), ({"persona": "citizen-1010401230"}, 403)])
def test_refused_token_requests(client: TestClient, body: dict, status: int) -> None:
    response = client.post("/nsp/sts/token", json=body)
    assert response.status_code == status
    assert response.json()["resourceType"] == "OperationOutcome"


def test_the_signing_key_survives_a_restart(client: TestClient, context: SandboxContext) -> None:
    raw = token(client, "gp-skodstrup")
    with TestClient(create_sandbox_app(context, warm_packages=False, only={"nsp"})) as again:
        jwks = again.get("/nsp/sts/jwks").json()
    principal = verify(raw, jwks, audience("dds"), context.clock.now())
    assert principal.authorisation == "SK7T1"


def test_nsp_faces_need_an_nsp_token(client: TestClient) -> None:
    assert client.get("/nsp/minlog").status_code == 401
    dds_only = token(client, "citizen-2509479989", audience="dds")
    assert client.get("/nsp/minlog", headers={"Authorization": f"Bearer {dds_only}"}).status_code == 401


def test_assistant_claims_name_the_responsible_professional(client: TestClient) -> None:
    c = claims(client, "secretary-skodstrup")
    assert (c["persona_kind"], c["user_type"], c["assurance_level"]) == ("assistant", "nsi:HealthcareProfessional", 4)
    assert c["acting_cpr"] == "1811751232" and "authorisation" not in c
    assert c["responsible"] == "SK7T1" and c["responsible_name"] == "Lars Lund"


def test_citizen_tokens_list_the_pseudonymised_cvrs_of_the_setting(context: SandboxContext) -> None:
    context.settings = context.settings.model_copy(update={"nsp_pseudonymised_cvrs": ["99000601"]})
    with TestClient(create_sandbox_app(context, warm_packages=False, only={"nsp"}),
                    base_url="http://sandbox.test") as again:
        assert claims(again, "citizen-2509479989")["pseudonymised_cvrs"] == ["99000601"]
        assert "pseudonymised_cvrs" not in claims(again, "gp-skodstrup")
