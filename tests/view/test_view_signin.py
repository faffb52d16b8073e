"""Sign-in: the persona chooser from NSP, the signed session cookie, signing out."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

from fastapi.testclient import TestClient
from view_support import CITIZEN, GP, sign_in


def test_the_chooser_lists_people_from_nsp_but_no_systems(client: TestClient) -> None:
    page = client.get("/view/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="da">' in page.text
    for legend in ("Borger", "Pårørende", "Sundhedsperson"):
        assert f"<legend>{legend}</legend>" in page.text
    assert 'value="citizen-2509479989"' in page.text and f'value="{GP}"' in page.text
    assert "system-eoj-aarhus" not in page.text


def test_signing_in_sets_an_httponly_samesite_cookie(client: TestClient) -> None:
    response = client.post("/view/login", data={"persona": f"citizen-{CITIZEN}"}, follow_redirects=False)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/view" in cookie
    home = client.get("/view/hjem")
    assert home.status_code == 200 and "Bruno Elmer" in home.text
    assert "Prøvesvar fra kommunen" in home.text and "Min Spærring" in home.text


def test_pages_need_a_session_and_a_forged_cookie_is_no_session(client: TestClient) -> None:
    for path in ("/view/hjem", f"/view/borger/{CITIZEN}/provesvar", "/view/minlog"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].endswith("/view/"), path
    sign_in(client, f"citizen-{CITIZEN}")
    cookie = client.cookies.get("sundhed_session")
    assert cookie
    payload, mac = cookie.rsplit(".", 1)
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["acts_for"] = ["0201919990"]  # someone else's data: the signature no longer matches
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=") + "." + mac
    client.cookies.clear()
    client.cookies.set("sundhed_session", forged)
    assert client.get("/view/hjem", follow_redirects=False).status_code == 303


def test_an_unknown_persona_is_refused_on_the_page(client: TestClient) -> None:
    response = client.post("/view/login", data={"persona": "nobody"})
    assert response.status_code == 400 and "Vælg hvem du vil logge ind som" in response.text


def test_signing_out_ends_the_session(client: TestClient) -> None:
    sign_in(client, GP)
    assert client.get("/view/hjem").status_code == 200
    response = client.post("/view/logout", follow_redirects=False)
    assert response.status_code == 303
    assert client.get("/view/hjem", follow_redirects=False).status_code == 303


def test_an_expired_token_is_renewed_for_the_signed_in_persona(client: TestClient, context) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, f"citizen-{CITIZEN}")
    before = client.cookies.get("sundhed_session")
    context.clock.travel_to(context.clock.now() + timedelta(minutes=30))  # the STS token lives 10 minutes
    try:
        page = client.get(f"/view/borger/{CITIZEN}/provesvar")
        assert page.status_code == 200 and page.url.path == f"/view/borger/{CITIZEN}/provesvar"
        assert "<h1>Prøvesvar fra kommunen</h1>" in page.text
        renewed = client.cookies.get("sundhed_session")
        assert renewed and renewed != before
    finally:
        context.clock.reset()
