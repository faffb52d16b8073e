"""Sign-in: the persona chooser from NSP, the session cookie (a random id, nothing else), signing out."""

from __future__ import annotations

from fastapi.testclient import TestClient
from view_support import CITIZEN, GP, csrf, login_csrf, sign_in


def test_the_chooser_lists_people_from_nsp_but_no_systems(client: TestClient) -> None:
    page = client.get("/view/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<html lang="da">' in page.text
    for legend in ("Borger", "Pårørende", "Sundhedsperson"):
        assert f"<legend>{legend}</legend>" in page.text
    assert 'value="citizen-2509479989"' in page.text and f'value="{GP}"' in page.text
    assert "system-eoj-aarhus" not in page.text


def test_signing_in_sets_an_httponly_samesite_cookie_holding_no_token(client: TestClient) -> None:
    form = login_csrf(client)
    response = client.post("/view/login", data={"persona": f"citizen-{CITIZEN}", "csrf": form},
                           follow_redirects=False)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/view" in cookie
    assert "secure" not in cookie  # plain HTTP, no proxy
    value = client.cookies.get("sundhed_session")
    assert value and len(value) == 43 and "." not in value  # 32 random bytes, base64url: no token, no payload
    home = client.get("/view/hjem")
    assert home.status_code == 200 and "Bruno Elmer" in home.text
    assert "Prøvesvar fra kommunen" in home.text and "Min Spærring" in home.text
    assert form not in home.text  # a new session, with a CSRF token of its own


def test_pages_need_a_session_and_a_made_up_cookie_is_no_session(client: TestClient) -> None:
    for path in ("/view/hjem", f"/view/borger/{CITIZEN}/provesvar", "/view/minlog"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].endswith("/view/"), path
    sign_in(client, f"citizen-{CITIZEN}")
    real = client.cookies.get("sundhed_session")
    assert real
    client.cookies.clear()
    client.cookies.set("sundhed_session", real[:-1] + ("A" if real[-1] != "A" else "B"))
    assert client.get("/view/hjem", follow_redirects=False).status_code == 303


def test_the_sign_in_forms_session_is_not_a_signed_in_one(client: TestClient) -> None:
    login_csrf(client)
    assert client.cookies.get("sundhed_session")
    response = client.get("/view/hjem", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].endswith("/view/")


def test_an_unknown_persona_is_refused_on_the_page(client: TestClient) -> None:
    response = client.post("/view/login", data={"persona": "nobody", "csrf": login_csrf(client)})
    assert response.status_code == 400 and "Vælg hvem du vil logge ind som" in response.text


def test_signing_out_ends_the_session(client: TestClient) -> None:
    sign_in(client, GP)
    assert client.get("/view/hjem").status_code == 200
    response = client.post("/view/logout", data={"csrf": csrf(client, "/view/hjem")}, follow_redirects=False)
    assert response.status_code == 303
    assert client.get("/view/hjem", follow_redirects=False).status_code == 303
