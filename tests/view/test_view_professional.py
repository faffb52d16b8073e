"""What a health professional sees: CPR look-up, documents with a treatment relation, the empty
result of a block with the værdispring offer, and the data with a visible værdispring notice."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import httpx2 as httpx
import pytest
import seeding
from fastapi.testclient import TestClient
from starlette.concurrency import run_in_threadpool
from view_support import CITIZEN, GP, STRANGER, csrf, sign_in

from nsp_sandbox.context import SandboxContext
from services.nsp.sts import TOKEN_LIFETIME_SECONDS
from services.sundhed_view.nsp import Nsp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dds"))
from served import serve


def minlog(client: TestClient) -> list[dict]:  # type: ignore[type-arg]
    response = client.get("/nsp/minlog", headers={
        "Authorization": f"Bearer {seeding.token(client, f'citizen-{CITIZEN}', 'nsp')}"})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_cpr_look_up_shows_the_citizens_documents_and_is_logged(client: TestClient) -> None:
    seeding.hco(client, CITIZEN)
    seeding.diagnosis_card(client, CITIZEN)
    seeding.plsp_note(client, CITIZEN, "note-bt", "Kontrol af blodtryk", "2026-05-05T10:11:00+02:00")
    sign_in(client, GP)
    home = client.get("/view/hjem").text
    assert "Slå en borger op" in home and 'name="cpr"' in home
    overview = client.get("/view/opslag", params={"cpr": f"{CITIZEN[:6]}-{CITIZEN[6:]}"})
    assert overview.status_code == 200 and overview.url.path == f"/view/borger/{CITIZEN}"
    assert "Borger: <strong>Bruno Elmer</strong>" in overview.text
    assert "1 meddelelse" in overview.text and "1 oversigt" in overview.text and "1 notat" in overview.text
    assert "C-reaktivt protein" in client.get(f"/view/borger/{CITIZEN}/provesvar").text
    assert "Type 2-diabetes" in client.get(f"/view/borger/{CITIZEN}/diagnoser").text
    assert "Kontrol af blodtryk" in client.get(f"/view/borger/{CITIZEN}/journalnotater").text
    entries = minlog(client)
    assert entries and {e["user_name"] for e in entries} == {"Lars Lund"}
    assert {"ITI-67 Find Document References", "ITI-68 Retrieve Document"} <= {e["activity"] for e in entries}
    assert not any(e["consent_override"] for e in entries)


def test_a_malformed_cpr_is_refused_on_the_form(client: TestClient) -> None:
    sign_in(client, GP)
    answer = client.get("/view/opslag", params={"cpr": "12345"})
    assert answer.status_code == 400 and "Et CPR-nummer har 10 cifre" in answer.text
    assert 'aria-invalid="true"' in answer.text


def test_no_treatment_relation_means_no_access(client: TestClient) -> None:
    seeding.hco(client, CITIZEN)
    sign_in(client, STRANGER)
    answer = client.get(f"/view/borger/{CITIZEN}")
    assert answer.status_code == 403
    assert "Du har ingen behandlingsrelation til borgeren" in answer.text
    assert minlog(client) == []


def test_a_block_empties_the_view_and_vaerdispring_with_a_reason_shows_the_data(client: TestClient) -> None:
    seeding.hco(client, CITIZEN)
    seeding.block(client, CITIZEN, {"type": "professional", "id": "SK7T1"})
    sign_in(client, GP)
    empty = client.get(f"/view/borger/{CITIZEN}")
    assert empty.status_code == 200
    assert "Ingen dokumenter fundet" in empty.text and "kan have spærret" in empty.text
    assert 'name="reason" required' in empty.text
    assert "C-reaktivt protein" not in client.get(f"/view/borger/{CITIZEN}/provesvar").text
    assert minlog(client) == []  # a blocked look-up is not logged
    token = csrf(client, f"/view/borger/{CITIZEN}")
    no_reason = client.post(f"/view/borger/{CITIZEN}/vaerdispring", data={"csrf": token, "reason": "   "})
    assert no_reason.status_code == 400 and "Skriv en begrundelse" in no_reason.text
    shown = client.post(f"/view/borger/{CITIZEN}/vaerdispring", data={"csrf": token, "reason": "Akut indlæggelse"})
    assert shown.status_code == 200 and "Værdispring anvendt" in shown.text and "Akut indlæggelse" in shown.text
    observations = client.get(f"/view/borger/{CITIZEN}/provesvar").text
    assert "Værdispring anvendt" in observations and "C-reaktivt protein" in observations
    entries = minlog(client)
    assert entries and all(e["consent_override"] and e["reason"] == "Akut indlæggelse" for e in entries)
    # ending it: the block applies again
    client.post(f"/view/borger/{CITIZEN}/vaerdispring/afslut", data={"csrf": token})
    assert "Ingen dokumenter fundet" in client.get(f"/view/borger/{CITIZEN}").text


def test_a_citizen_cannot_use_vaerdispring(client: TestClient) -> None:
    seeding.hco(client, CITIZEN)
    sign_in(client, f"citizen-{CITIZEN}")
    token = csrf(client, "/view/minspaerring")
    client.post(f"/view/borger/{CITIZEN}/vaerdispring", data={"csrf": token, "reason": "Nysgerrig"})
    assert "Værdispring anvendt" not in client.get(f"/view/borger/{CITIZEN}/provesvar").text


def test_a_block_of_a_data_period_filters_and_says_so(client: TestClient) -> None:
    seeding.hco(client, CITIZEN, observations=[{"code": "NPU19748", "value": 26, "time": "2026-11-02T10:15:00+01:00"}])
    seeding.hco(client, CITIZEN, observations=[{"code": "NPU19748", "value": 12, "time": "2026-11-09T10:15:00+01:00"}])
    seeding.block(client, CITIZEN, {"type": "professional", "id": "SK7T1"},
                  data_from="2026-11-01", data_to="2026-11-03")
    sign_in(client, GP)
    page = client.get(f"/view/borger/{CITIZEN}/provesvar").text
    assert "Bemærk" in page and "du ser data fra et behandlingssted eller en periode" in page
    assert '<td class="value">12</td>' in page and '<td class="value">26</td>' not in page


def test_a_vaerdispring_ended_while_another_page_renews_the_token_stays_ended(
        client: TestClient, context: SandboxContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two requests of one session at once (two tabs, or two workers): one ends the værdispring while the other
    renews the session's token. The renewal writes only the token, so the ended værdispring is not brought
    back, and the block applies again."""
    seeding.hco(client, CITIZEN)
    seeding.block(client, CITIZEN, {"type": "professional", "id": "SK7T1"})
    real, started, ended = Nsp.token, [], []
    with serve(context) as base, httpx.Client(base_url=base, timeout=60) as tab:
        sign_in(tab, GP)  # type: ignore[arg-type]
        token = csrf(tab, f"/view/borger/{CITIZEN}")  # type: ignore[arg-type]
        shown = tab.post(f"/view/borger/{CITIZEN}/vaerdispring", data={"csrf": token, "reason": "Akut indlæggelse"},
                         follow_redirects=True)
        assert "Værdispring anvendt" in shown.text
        with httpx.Client(base_url=base, timeout=60, cookies=tab.cookies) as other_tab:

            async def renewed_while_ended(self: Nsp, persona_id: str) -> tuple[str, float]:
                if not started:  # the other tab ends the værdispring meanwhile (its own renewal: the real one)
                    started.append(persona_id)
                    ended.append(await run_in_threadpool(lambda: other_tab.post(
                        f"/view/borger/{CITIZEN}/vaerdispring/afslut", data={"csrf": token})))
                return await real(self, persona_id)

            monkeypatch.setattr(Nsp, "token", renewed_while_ended)
            context.clock.travel_to(context.clock.now() + timedelta(seconds=TOKEN_LIFETIME_SECONDS - 30))
            assert tab.get(f"/view/borger/{CITIZEN}").status_code == 200  # begun before the end
            assert ended and ended[0].status_code == 303
            assert "Ingen dokumenter fundet" in tab.get(f"/view/borger/{CITIZEN}").text
