"""What the viewer's tests share: the personas of the scenarios and signing in through the page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

CITIZEN = "2509479989"  # Bruno Elmer: GP Skødstrup Lægepraksis; fuldmagt to Emil Elmer
GP = "gp-skodstrup"  # Lars Lund, Skødstrup Lægepraksis (treatment relation through the GP list)
GP_ORGANISATION = "52581000016005"
RELATIVE = "relative-0505059996"  # Emil Elmer, holds Bruno Elmer's power of attorney
STRANGER = "doctor-auh-acute"  # Rasmus Dahl, no treatment relation with Bruno Elmer


def login_csrf(client: TestClient) -> str:
    """The CSRF token of the sign-in form (its session's cookie stays on ``client``)."""
    page = client.get("/view/")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert page.status_code == 200 and found, page.text[:500]
    return found.group(1)


def sign_in(client: TestClient, persona: str) -> None:
    """Sign in through the page's form (the session cookie stays on ``client``)."""
    client.cookies.clear()
    response = client.post("/view/login", data={"persona": persona, "csrf": login_csrf(client)},
                           follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"].endswith("/view/hjem")


def main(html: str) -> str:
    """The page's main content (``<main id="indhold">``), without the menus around it."""
    return html.split('<main id="indhold"', 1)[1].split("</main>", 1)[0]


def csrf(client: TestClient, path: str) -> str:
    """The CSRF token of the signed-in session, read from a page's form."""
    page = client.get(path)
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)
