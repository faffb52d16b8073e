"""What a citizen (and a relative acting for them) sees: Prøvesvar fra kommunen, Diagnoser,
Journalnotater, Min Log and Min Spærring — read through DDS with their own token."""

from __future__ import annotations

import re
from pathlib import Path

import seeding
from fastapi.testclient import TestClient
from view_support import CITIZEN, GP, GP_ORGANISATION, RELATIVE, csrf, main, sign_in

from nsp_sandbox.config import Strictness


def test_observations_per_analysis_with_chart_correction_and_cancellation(client: TestClient) -> None:
    first = seeding.hco(client, CITIZEN)
    seeding.hco_modify(client, first, observations=[{"code": "NPU19748", "value": 30, "comment": "Rettet værdi"}])
    seeding.hco(client, CITIZEN, observations=[{"code": "NPU19748", "value": 12,
                                                "time": "2026-11-09T08:30:00+01:00"}])
    wrong = seeding.hco(client, CITIZEN, observations=[{"code": "NPU19748", "value": 99,
                                                        "time": "2026-11-10T08:30:00+01:00"}])
    seeding.hco_retract(client, wrong, "Cancellation due to incorrect CPR-number")
    sign_in(client, f"citizen-{CITIZEN}")
    page = client.get(f"/view/borger/{CITIZEN}/provesvar")
    assert page.status_code == 200
    body = main(page.text)
    crp = body.split("C-reaktivt protein", 1)[1].split("</section>", 1)[0]
    # newest results only, the corrected one marked R; the original value and the cancelled one are not results
    assert re.search(r'<td class="value">30 <strong class="mark"[^>]*>R</strong><span[^>]*> \(rettet resultat\)', crp)
    assert '<td class="value">12</td>' in crp
    assert '<td class="value">26' not in crp and '<td class="value">99' not in crp
    assert "mg/L" in crp and "Rettet værdi" in crp and "Akutteam Aarhus" in crp and "02.11.2026 kl. 10:15" in crp
    # the trend chart: inline SVG with title and description, a square marker for the corrected value
    assert '<svg class="trend"' in crp and "<title id=" in crp and "<desc id=" in crp
    assert 'class="point corrected"' in crp and "(rettet, R)" in crp
    # glucose keeps its analysis comment
    assert "Ikke fastende" in body and "6,8" in body
    # the cancelled message is listed as cancelled, never as results
    cancelled = body.split('id="annullerede"', 1)[1]
    assert "Annulleret" in cancelled and "Årsag" in cancelled
    # history: one click away, with the original value
    link = re.search(rf'href="(/view/borger/{CITIZEN}/provesvar/{first})"', body)
    assert link, body
    history = main(client.get(link.group(1)).text)
    assert "Nyeste version" in history and "Oprindelig meddelelse" in history and "(erstattet)" in history
    assert '<td class="value">26</td>' in history and "30 <strong" in history


def test_a_cancellation_shared_to_dds_shows_its_reason(client: TestClient) -> None:
    """A retract-message in DDS (from a sender that shares it) gives the reason from DiagnosticReport.conclusion."""
    header = seeding.hco(client, CITIZEN)
    retraction = seeding.hco_retract(client, header, "Cancellation due to incorrect CPR-number")
    bundle = client.get(f"/eoj/hco/{retraction}").json()["bundle"]
    seeding.provide_hco_message(client, bundle)
    sign_in(client, f"citizen-{CITIZEN}")
    body = main(client.get(f"/view/borger/{CITIZEN}/provesvar").text)
    assert "Årsag: Cancellation due to incorrect CPR-number" in body
    assert 'id="analyse-' not in body  # no results at all: the only message is cancelled


def test_diagnoses_show_codes_text_status_and_dates_but_never_display_or_note(client: TestClient,
                                                                            packages_dir: Path) -> None:
    sign_in(client, f"citizen-{CITIZEN}")
    empty = main(client.get(f"/view/borger/{CITIZEN}/diagnoser").text)
    assert "Der er ingen diagnoser registreret" in empty
    seeding.conditionlist(client, packages_dir, CITIZEN)
    body = main(client.get(f"/view/borger/{CITIZEN}/diagnoser").text)
    bundle = seeding.example(packages_dir, "medcom.fhir.dk.conditionlist", seeding.CONDITIONLIST_MAXIMUM)
    assert "Diagnoseoversigt fra Skødstrup Lægepraksis" in body and "Senest opdateret" in body  # Bruno's GP
    for text in ("Type 2-diabetes", "T90", "DE11", "Modermærkekræft", "S77", "DC43", "Aktuel", "Relevant",
                 "Forløbsdiagnose", "Kontaktdiagnose", "20.03.2023", "07.06.2023"):
        assert text in body, text
    for condition in seeding.resources(bundle, "Condition"):
        for note in condition.get("note", []):
            assert note["text"] not in body
        for coding in condition["code"].get("coding", []):
            if coding.get("display") and coding["display"] != condition["code"].get("text"):
                assert coding["display"] not in body


def test_a_document_that_fails_validation_is_shown_as_invalid_only(client: TestClient, context,  # type: ignore[no-untyped-def]
                                                                  packages_dir: Path) -> None:
    def without_status(bundle: dict) -> None:  # type: ignore[type-arg]
        for condition in seeding.resources(bundle, "Condition"):
            condition["category"] = [c for c in condition["category"]
                                     if c["coding"][0]["system"] != "http://snomed.info/sct"]

    context.settings.validation_profile = Strictness.OFF  # DDS stores it; the viewer must refuse to show it
    seeding.conditionlist(client, packages_dir, CITIZEN, change=without_status)
    sign_in(client, f"citizen-{CITIZEN}")
    body = main(client.get(f"/view/borger/{CITIZEN}/diagnoser").text)
    assert "Ugyldigt dokument" in body
    assert "Type 2-diabetes" not in body and "DE11" not in body


def test_notes_newest_first_verbatim_names_and_safe_bodies(client: TestClient, packages_dir: Path) -> None:
    seeding.note(client, packages_dir, CITIZEN, body="<p>Ældste notat</p>", created="2026-05-05T10:11:00+02:00")
    seeding.note(client, packages_dir, CITIZEN, body="Aktuelt: hoste\r\nPlan: kontrol",
                 created="2026-05-10T09:00:00+02:00", updated="2026-05-11T07:32:00+02:00",
                 organisation="Lægeklinikken Algade 59 v. Læge Ane Ejsing",
                 family="ADRESSEBESKYTTET", given=["ADRESSEBESKYTTET"])
    seeding.note(client, packages_dir, CITIZEN, created="2026-05-15T08:00:00+02:00",
                 body='<x:p>Nyeste <x:b>fed</x:b></x:p><script>alert(1)</script><img src=x onerror="alert(2)">'
                      '<a href="javascript:alert(3)">klik</a><iframe src="https://x.example"></iframe>'
                      '<svg onload="alert(4)"></svg><p style="color:red">stil</p>')
    sign_in(client, f"citizen-{CITIZEN}")
    body = main(client.get(f"/view/borger/{CITIZEN}/journalnotater").text)
    assert body.count('<article class="card note"') == 3
    assert body.index("15.05.2026") < body.index("10.05.2026") < body.index("05.05.2026")
    cards = body.split('<article class="card note"')[1:]
    middle = next(c for c in cards if "10.05.2026" in c)
    assert "Senest opdateret</dt><dd>11.05.2026 kl. 07:32" in middle
    assert "Lægeklinikken Algade 59 v. Læge Ane Ejsing" in middle
    assert "ADRESSEBESKYTTET ADRESSEBESKYTTET" in middle
    assert "Aktuelt: hoste<br/>Plan: kontrol" in middle
    newest = cards[0]
    assert "<p>Nyeste <b>fed</b></p>" in newest
    for bad in ("<script", "onerror", "javascript:", "<iframe", "<svg", "style=", "<img", "onload"):
        assert bad not in newest, bad
    oldest = cards[-1]
    assert "Senest opdateret" not in oldest  # never updated


def test_notes_breaking_the_business_rules_are_invalid(client: TestClient, packages_dir: Path) -> None:
    seeding.note(client, packages_dir, CITIZEN, body=" ")
    seeding.note(client, packages_dir, CITIZEN, created="2026-04-15T08:33:00+02:00",
                 updated="2026-04-12T18:10:00+02:00", body="<p>Byttede tider</p>")
    seeding.note(client, packages_dir, CITIZEN, body="<p>Svimmel\\tlet svimmelhed\\turo</p>")
    sign_in(client, f"citizen-{CITIZEN}")
    body = main(client.get(f"/view/borger/{CITIZEN}/journalnotater").text)
    assert body.count("Ugyldigt dokument") == 3
    assert "Byttede tider" not in body and "Svimmel" not in body


def test_min_log_shows_who_looked_and_marks_vaerdispring(client: TestClient) -> None:
    seeding.hco(client, CITIZEN)
    seeding.block(client, CITIZEN, {"type": "professional", "id": "SK7T1"})
    sign_in(client, GP)
    override = {"csrf": csrf(client, f"/view/borger/{CITIZEN}"), "reason": "Bevidstløs, akut indlæggelse"}
    assert client.post(f"/view/borger/{CITIZEN}/vaerdispring", data=override).status_code == 200
    sign_in(client, f"citizen-{CITIZEN}")
    body = main(client.get("/view/minlog").text)
    assert "Lars Lund" in body and "Skødstrup Lægepraksis" in body
    assert "<strong>Værdispring</strong>: Bevidstløs, akut indlæggelse" in body


def test_min_spaerring_create_and_revoke(client: TestClient) -> None:
    sign_in(client, f"citizen-{CITIZEN}")
    page = client.get("/view/minspaerring")
    assert "Du har ingen spærringer" in page.text and "Lars Lund" in page.text
    token = csrf(client, "/view/minspaerring")
    created = client.post("/view/minspaerring", data={"csrf": token, "who_type": "all", "what_type": "organisation",
                                                      "organisation": GP_ORGANISATION, "include_sub_units": "ja",
                                                      "data_from": "2026-01-01"})
    assert created.status_code == 200 and "Spærringen er oprettet" in created.text
    assert "Data fra Skødstrup Lægepraksis med underenheder, fra perioden" in created.text and "Aktiv" in created.text
    assert "Bruno Elmer" in main(created.text)  # who registered it
    block_id = re.search(r'/minspaerring/([0-9a-f-]+)/tilbagekald', created.text)
    assert block_id
    revoked = client.post(f"/view/minspaerring/{block_id.group(1)}/tilbagekald", data={"csrf": token})
    assert "Spærringen er tilbagekaldt" in revoked.text and "Tilbagekaldt" in revoked.text
    # a form without the session's CSRF token changes nothing
    client.post("/view/minspaerring", data={"who_type": "all"})
    sign_in(client, f"citizen-{CITIZEN}")
    assert main(client.get("/view/minspaerring").text).count("Alle sundhedspersoner</td>") == 1  # the revoked one


def test_min_spaerring_refuses_an_unknown_organisation_on_the_page(client: TestClient) -> None:
    sign_in(client, f"citizen-{CITIZEN}")
    answer = client.post("/view/minspaerring", data={"csrf": csrf(client, "/view/minspaerring"),
                                                     "who_type": "all", "what_type": "organisation",
                                                     "organisation_sor": "123"})
    assert answer.status_code == 400 and "Spærringen blev ikke oprettet" in answer.text


def test_a_relative_switches_to_the_grantor_and_sees_their_data(client: TestClient) -> None:
    seeding.diagnosis_card(client, CITIZEN)
    sign_in(client, RELATIVE)
    home = client.get("/view/hjem").text
    assert "Hvem handler du for?" in home and "Bruno Elmer" in home and "(dig selv)" in home
    switched = client.post("/view/handler-for", data={"csrf": csrf(client, "/view/hjem"), "cpr": CITIZEN})
    assert switched.status_code == 200 and switched.url.path == f"/view/borger/{CITIZEN}"
    body = client.get(f"/view/borger/{CITIZEN}/diagnoser").text
    assert "Du ser oplysninger for <strong>Bruno Elmer</strong>" in body and "Type 2-diabetes" in body
    assert f'href="/view/borger/{CITIZEN}/provesvar"' in body  # the menu follows whom they act for
    # someone they do not act for: DDS refuses
    refused = client.get("/view/borger/1502829995/diagnoser")
    assert refused.status_code == 403 and "Ingen adgang" in refused.text


def test_a_parent_sees_their_child(client: TestClient, packages_dir: Path) -> None:
    child = "0505239996"  # Ida Holm, under 15; custodial parents Anna and Jens Holm
    seeding.note(client, packages_dir, child, body="<p>Barnets notat</p>")
    sign_in(client, "relative-1502829995")
    assert "Ida Holm" in client.get("/view/hjem").text
    assert "Barnets notat" in client.get(f"/view/borger/{child}/journalnotater").text


def test_a_citizen_cannot_read_someone_else(client: TestClient) -> None:
    sign_in(client, f"citizen-{CITIZEN}")
    refused = client.get("/view/borger/0602631234/provesvar")
    assert refused.status_code == 403 and "Du kan kun se dine egne oplysninger" in refused.text


def test_an_invalid_hco_message_is_not_half_shown(client: TestClient, context) -> None:  # type: ignore[no-untyped-def]
    header = seeding.hco(client, CITIZEN, observations=[{"code": "NPU19748", "value": 26}])
    bundle = client.get(f"/eoj/hco/{header}").json()["bundle"]
    bundle["id"] = "0b5f0c5e-8d5e-4d0e-9a57-2d4f1b0e7a11"
    for resource in seeding.resources(bundle, "Observation"):
        resource["valueQuantity"]["value"] = 777
        del resource["status"]  # Observation.status is 1..1
    context.settings.validation_profile = Strictness.OFF
    seeding.provide_hco_message(client, bundle)
    sign_in(client, f"citizen-{CITIZEN}")
    body = main(client.get(f"/view/borger/{CITIZEN}/provesvar").text)
    assert "Ugyldigt dokument" in body
    shown = body.split("Ugyldigt dokument")[0]
    assert not re.search(r"(?<![\w-])777(?![\w-])", shown)  # as a value, not inside an id
    assert "Observation" in body.split("Ugyldigt dokument", 1)[1]  # the reason names the element
    token = seeding.token(client, f"citizen-{CITIZEN}")
    answer = client.get(f"/view/api/citizens/{CITIZEN}/observations",
                        headers={"Authorization": f"Bearer {token}"}).json()
    assert len(answer["invalid"]) == 1 and answer["invalid"][0]["reasons"]
    assert [r["numeric"] for a in answer["analyses"] for r in a["results"]] == [26]


def test_an_hco_message_is_judged_as_the_version_its_format_code_names(client: TestClient, context) -> None:  # type: ignore[no-untyped-def]
    """A code only the 1.2 terminology has (NPU03963) is wrong in an entry whose formatCode says v1.1."""
    header = seeding.hco(client, CITIZEN, observations=[{"code": "NPU19748", "value": 26}])
    template = client.get(f"/eoj/hco/{header}").json()["bundle"]
    context.settings.validation_profile = Strictness.OFF  # DDS would refuse the v1.1 one (as 1.1)
    token = seeding.token(client, f"citizen-{CITIZEN}")
    entries = {}
    for bundle_id, format_code in (("3c1f6a52-6f0e-4b8e-9d51-1d2c3e4f5a61", seeding.HCOM_FORMAT),
                                   ("3c1f6a52-6f0e-4b8e-9d51-1d2c3e4f5a62", seeding.HCOM_FORMAT_1_1)):
        bundle = {**template, "id": bundle_id}
        for resource in seeding.resources(bundle, "Observation"):
            resource["code"]["coding"] = [{"system": "urn:oid:1.2.208.176.2.1", "code": "NPU03963",
                                           "display": "U—Erythrocytter; arb.k.(proc.) = ?"}]
        entries[format_code.code] = seeding.provide_hco_message(client, bundle, format_code)
    answer = client.get(f"/view/api/citizens/{CITIZEN}/observations",
                        headers={"Authorization": f"Bearer {token}"}).json()
    # only the v1.1 entry is invalid: the same message under the v1.2 formatCode is judged valid
    assert [i["entry"] for i in answer["invalid"]] == [entries[seeding.HCOM_FORMAT_1_1.code]], answer["invalid"]
    assert any("NPU03963" in r and "2.0.0-draft" in r for r in answer["invalid"][0]["reasons"])


def test_long_series_show_the_newest_rows_and_all_are_one_link_away(client: TestClient) -> None:
    for day in range(1, 15):
        seeding.hco(client, CITIZEN, observations=[{"code": "NPU19748", "value": day,
                                                    "time": f"2026-10-{day:02d}T09:00:00+02:00"}])
    sign_in(client, f"citizen-{CITIZEN}")
    body = main(client.get(f"/view/borger/{CITIZEN}/provesvar").text)
    assert body.count('<td class="value">') == 12 and "(12 af 14)" in body
    assert "14.10.2026" in body and "01.10.2026 kl." not in body.split("<table", 1)[1]
    assert body.count('class="point"') == 14  # the chart has every measurement
    assert f'href="/view/borger/{CITIZEN}/provesvar?alle=1#analyse-1">Vis alle 14 målinger' in body
    everything = main(client.get(f"/view/borger/{CITIZEN}/provesvar", params={"alle": "1"}).text)
    assert everything.count('<td class="value">') == 14 and "Vis alle" not in everything


def test_min_log_shows_the_assistant_the_criticality_and_the_relatives_own_look_ups(client: TestClient) -> None:
    from sts_client import auth

    seeding.hco(client, CITIZEN)
    search = {"patient.identifier": f"urn:oid:1.2.208.176.1.2|{CITIZEN}", "status": "current"}
    assert client.get("/dds/fhir/DocumentReference", params=search,
                      headers=auth(client, "secretary-skodstrup")).status_code == 200
    seeding.block(client, CITIZEN, {"type": "all"})
    overridden = client.get("/dds/fhir/DocumentReference", params=search, headers={
        **auth(client, GP), "X-Consent-Override": "Bevidstl%C3%B8s", "X-Consent-Override-Criticality": "akut"})
    assert overridden.status_code == 200
    assert client.get("/dds/fhir/DocumentReference", params=search, headers=auth(client, RELATIVE)).status_code == 200
    sign_in(client, f"citizen-{CITIZEN}")
    body = main(client.get("/view/minlog").text)
    assert "Birgitte Juul (Lægesekretær), medhjælper for Lars Lund (autorisation SK7T1)" in body
    assert "<strong>Værdispring</strong>: Bevidstløs (hastegrad: akut)" in body
    assert "Emil Elmer (Fuldmagtshaver)" in body and "<td>Bruno Elmer</td>" in body
    sign_in(client, RELATIVE)  # Emil's own log: his look-up as fuldmagtshaver
    client.post("/view/handler-for", data={"csrf": csrf(client, "/view/hjem"), "cpr": "0505059996"})
    own = main(client.get("/view/minlog").text)
    assert "Dit opslag med fuldmagt for Bruno Elmer" in own


def test_min_spaerring_registers_a_positive_consent_with_its_end(client: TestClient) -> None:
    sign_in(client, f"citizen-{CITIZEN}")
    token = csrf(client, "/view/minspaerring")
    form = {"csrf": token, "kind": "positive", "who_type": "professional", "professional": "SK7T1"}
    refused = client.post("/view/minspaerring", data=form)
    assert refused.status_code == 400 and "Spærringen blev ikke oprettet" in refused.text
    assert "must have a validity period" in refused.text
    made = client.post("/view/minspaerring", data={**form, "valid_to": "2099-12-31"})
    assert made.status_code == 200 and "Spærringen er oprettet" in made.text
    row = main(made.text).split('<tr class="positive">', 1)[1].split("</tr>", 1)[0]
    assert "Samtykke" in row and "Lars Lund" in row and "31.12.2099" in row
