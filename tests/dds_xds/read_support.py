"""Documents and look-ups for the ITI-18/43 tests: documents provided through the MHD face
(ITI-65, as Aarhus Kommune's EOJ), and DGWS look-ups as the personas of the sandbox's world."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from lxml import etree
from sts_client import auth
from xds_support import (
    GP,
    REGISTRY,
    SOURCE_SYSTEM,
    citizen_hsuid,
    envelope,
    idcard,
    persona,
    post,
    professional_hsuid,
)

from nsp_sandbox.dgws.hsuid import Hsuid
from nsp_sandbox.mhd_source import Coding, DocumentMetadata, Organisation, PatientInfo, provide_bundle
from nsp_sandbox.xds import vocabulary as v

GRETHE = "0602631234"  # listed at Skødstrup Lægepraksis: the GP there has a treatment relation
BRUNO = "2509479989"  # has given Emil Elmer (0505059996) a power of attorney (fuldmagt)
EMIL = "0505059996"
LARS = ("1203701235", "SK7T1", "52581000016005")  # gp-skodstrup: CPR, authorisation, SOR
HANNE = ("0408781238", "SK7T2")  # gp-skodstrup-2, at the same clinic
SKODSTRUP = "52581000016005"
PERIODS = {2024: ("2024-03-01T10:00:00+01:00", "2024-03-02T10:00:00+01:00"),
           2026: ("2026-04-01T10:00:00+02:00", "2026-04-02T10:00:00+02:00")}


def unique_id(cpr: str, n: int) -> str:
    return f"urn:uuid:00000000-0000-4000-8000-{cpr}{n:02d}"


def metadata(n: int, cpr: str = GRETHE, year: int = 2026, **change: Any) -> tuple[DocumentMetadata, bytes]:
    """Document ``n`` of ``cpr``: an HCO message with its service period in ``year``."""
    start, stop = PERIODS[year]
    values: dict[str, Any] = dict(
        patient=PatientInfo(cpr, "KGBTest", ("Grethe",), "female", "1963-02-06"),
        author=Organisation("937961000016000", "Aarhus Kommune", "5790000123117"),
        unique_id=unique_id(cpr, n), title=f"Kommunale prøvesvar {n}",
        type=Coding("urn:oid:1.2.208.184.100.1", "HCOM"),
        category=Coding("http://medcomfhir.dk/ig/document/CodeSystem/MedCom-ihe-classcode-CS-TEMP", "001"),
        format=Coding("http://medcomfhir.dk/ig/xdsdocuments/CodeSystem/MedComHCOFormatCodeCS",
                      "urn:ad:dk:medcom:msg:hco-v1.2:full"),
        facility_type=Coding("http://snomed.info/sct", "550621000005101"),
        practice_setting=Coding("http://snomed.info/sct", "658161000005107"),
        creation=datetime.fromisoformat(start), service_start=datetime.fromisoformat(start),
        service_stop=datetime.fromisoformat(stop), content_type="text/xml")
    values.update(change)
    return DocumentMetadata(**values), f"<prøvesvar nr=\"{n}\">{cpr}</prøvesvar>".encode()


def provide(client: TestClient, *documents: tuple[DocumentMetadata, bytes],
            replaces: dict[str, str] | None = None) -> list[str]:
    """ITI-65 as Aarhus Kommune's EOJ; the new DocumentReference ids."""
    bundle = provide_bundle(list(documents), source_id="urn:oid:1.2.208.176.43210.8.10.99",
                            submitted=datetime.fromisoformat("2026-04-28T10:00:00+02:00"), replaces=replaces)
    response = client.post("/dds/fhir", json=bundle, headers={"Content-Type": "application/fhir+json",
                                                              **auth(client, SOURCE_SYSTEM)})
    assert response.status_code == 200, response.text
    return [e["response"]["location"].split("/")[1] for e in response.json()["entry"]
            if e["response"]["location"].startswith("DocumentReference/")]


def provide_years(client: TestClient, cpr: str = GRETHE) -> None:
    """Document 1 (service time 2024) and document 2 (2026) of ``cpr``."""
    provide(client, metadata(1, cpr, 2024), metadata(2, cpr, 2026))


def call(client: TestClient, body: etree._Element, card_persona: str, hsuid: Hsuid | None,
         path: str = REGISTRY) -> Any:
    action = v.ACTION_ITI18 if path == REGISTRY else v.ACTION_ITI43
    return post(client, path, envelope(idcard(client, card_persona), body, action, hsuid=hsuid))


def as_gp(client: TestClient, body: etree._Element, cpr: str = GRETHE, override: bool = False,
          path: str = REGISTRY) -> Any:
    """Lars Lund, GP at Skødstrup (employee card, level 4), looking at ``cpr``."""
    return call(client, body, GP, professional_hsuid(LARS[0], LARS[1], cpr, LARS[2], override=override), path)


def as_professional(client: TestClient, persona_id: str, body: etree._Element, cpr: str = GRETHE,
                    path: str = REGISTRY) -> Any:
    """Another professional of the world, with their own employee card."""
    who = persona(client, persona_id)
    return call(client, body, persona_id, professional_hsuid("0101010101", who["authorisation"], cpr,
                                                             who["organisation"]), path)


def as_citizen(client: TestClient, body: etree._Element, cpr: str, citizen: str | None = None,
               path: str = REGISTRY) -> Any:
    """A citizen (``cpr``) through a portal's system card, looking at ``citizen`` (default themselves)."""
    return call(client, body, SOURCE_SYSTEM, citizen_hsuid(cpr, citizen), path)


def min_log(client: TestClient, cpr: str) -> list[dict[str, Any]]:
    response = client.get("/nsp/minlog", headers=auth(client, f"citizen-{cpr}"))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def block(client: TestClient, cpr: str, who: dict[str, Any], **fields: Any) -> dict[str, Any]:
    response = client.post("/nsp/consent/blocks", headers=auth(client, f"citizen-{cpr}"), json={"who": who, **fields})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]

