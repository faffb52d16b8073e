"""Viewer sessions (server-side, ``view_session``): revoked at sign-out, idle and absolute expiry on
the sandbox clock, shared by every process on the database; CSRF on sign-in and sign-out, the Origin
check, and the ``Secure`` cookie behind a trusted TLS-terminating proxy only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from event_loop import database_work_on_the_loop, threads_it_runs_on, where_it_runs
from fastapi.testclient import TestClient
from view_support import CITIZEN, GP, csrf, login_csrf, sign_in

from nsp_sandbox.clock import Clock
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.database import Database
from sandbox.app import create_sandbox_app
from services.sundhed_view.session import SessionStore
from services.sundhed_view.site import Pages

PROXY = ("10.1.2.3", 40000)  # a TLS-terminating reverse proxy, listed as trusted below
STRANGER = ("203.0.113.9", 40000)  # any other peer


def signed_in(client: TestClient) -> bool:
    response = client.get("/view/hjem", follow_redirects=False)
    assert response.status_code in (200, 303), response.text
    return response.status_code == 200


def test_a_page_reads_its_session_off_the_event_loop(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each page reads the session's row and writes its last use: on a worker thread, not on the loop."""
    sign_in(client, f"citizen-{CITIZEN}")
    calls = where_it_runs(monkeypatch, SessionStore, "load")
    assert signed_in(client)
    assert client.get(f"/view/borger/{CITIZEN}/provesvar").status_code == 200
    assert calls == ["thread", "thread"]


def test_a_page_is_rendered_in_the_cpu_lane_and_nothing_of_it_touches_the_database_on_the_loop(
        client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """Signing in, the citizen's pages, a page that does not exist: each rendered in the CPU lane and counted on a
    worker thread; no unit of database work of the viewer's on the event loop."""
    on_the_loop = database_work_on_the_loop(monkeypatch, "services/sundhed_view/")
    rendered = threads_it_runs_on(monkeypatch, Pages, "_html")
    sign_in(client, f"citizen-{CITIZEN}")
    for page in ("hjem", f"borger/{CITIZEN}/provesvar", f"borger/{CITIZEN}/diagnoser", "minlog", "ingen-side"):
        assert client.get(f"/view/{page}").status_code in (200, 404), page
    assert rendered and set(rendered) == {"cpu-lane_0"}, rendered
    assert on_the_loop == []


def test_a_cookie_replayed_after_sign_out_is_no_session(client: TestClient) -> None:
    sign_in(client, f"citizen-{CITIZEN}")
    old = client.cookies.get("sundhed_session")
    assert old and signed_in(client)
    response = client.post("/view/logout", data={"csrf": csrf(client, "/view/hjem")}, follow_redirects=False)
    assert response.status_code == 303 and 'sundhed_session=""' in response.headers["set-cookie"]
    client.cookies.clear()
    client.cookies.set("sundhed_session", old)
    assert not signed_in(client)
    assert client.get(f"/view/borger/{CITIZEN}/provesvar", follow_redirects=False).status_code == 303


def test_sign_in_needs_the_forms_csrf_token(client: TestClient) -> None:
    """A login posted from another site (no form session, or not its token) signs no one in."""
    response = client.post("/view/login", data={"persona": f"citizen-{CITIZEN}"}, follow_redirects=False)
    assert response.status_code == 403 and "Log ind-siden var udløbet" in response.text
    assert not signed_in(client)
    login_csrf(client)  # a real form session on this browser, but the attacker cannot read its token
    forged = client.post("/view/login", data={"persona": f"citizen-{CITIZEN}", "csrf": "guessed"},
                         follow_redirects=False)
    assert forged.status_code == 403 and not signed_in(client)
    cross_site = client.post("/view/login", data={"persona": GP, "csrf": login_csrf(client)},
                             headers={"Origin": "https://attacker.example"}, follow_redirects=False)
    assert cross_site.status_code == 403 and not signed_in(client)


def test_a_form_session_token_is_used_once(client: TestClient) -> None:
    token = login_csrf(client)
    form_cookie = client.cookies.get("sundhed_session")
    first = client.post("/view/login", data={"persona": GP, "csrf": token}, follow_redirects=False)
    assert first.status_code == 303 and client.cookies.get("sundhed_session") != form_cookie  # a new id
    client.cookies.clear()
    client.cookies.set("sundhed_session", form_cookie or "")
    again = client.post("/view/login", data={"persona": GP, "csrf": token}, follow_redirects=False)
    assert again.status_code == 403


def test_a_failed_csrf_check_leaves_the_victim_signed_in(client: TestClient) -> None:
    sign_in(client, f"citizen-{CITIZEN}")
    for form in ({}, {"csrf": "wrong"}):
        response = client.post("/view/logout", data=form, follow_redirects=False)
        assert response.status_code == 403 and "Formularen blev afvist" in response.text
        assert "set-cookie" not in response.headers
        assert signed_in(client)
    response = client.post("/view/handler-for", data={"cpr": CITIZEN, "csrf": "wrong"}, follow_redirects=False)
    assert response.status_code == 403 and signed_in(client)
    # a login attempt from another site while signed in: refused, the session stays the victim's own
    response = client.post("/view/login", data={"persona": GP, "csrf": "x"}, follow_redirects=False)
    assert response.status_code == 403 and "set-cookie" not in response.headers
    assert "Bruno Elmer" in client.get("/view/hjem").text


def test_a_cross_origin_post_is_refused_even_with_the_token(client: TestClient) -> None:
    sign_in(client, f"citizen-{CITIZEN}")
    token = csrf(client, "/view/hjem")
    for headers in ({"Origin": "https://attacker.example"}, {"Origin": "null"},
                    {"Referer": "https://attacker.example/page"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Origin": "https://sandbox.test"}):  # another scheme is another origin
        response = client.post("/view/logout", data={"csrf": token}, headers=headers, follow_redirects=False)
        assert response.status_code == 403, headers
        assert signed_in(client)
    same = client.post("/view/logout", data={"csrf": token}, headers={"Origin": "http://sandbox.test"},
                       follow_redirects=False)
    assert same.status_code == 303 and not signed_in(client)


def test_idle_and_absolute_expiry_on_the_sandbox_clock(client: TestClient, context: SandboxContext) -> None:
    sign_in(client, GP)
    context.clock.travel_to(context.clock.now() + timedelta(minutes=29))
    assert signed_in(client)  # used within 30 minutes; the STS token is renewed server-side
    context.clock.travel_to(context.clock.now() + timedelta(minutes=31))
    assert not signed_in(client)
    sign_in(client, GP)
    for _ in range(23):  # 7 h 40 min, never idle
        context.clock.travel_to(context.clock.now() + timedelta(minutes=20))
        assert signed_in(client)
    context.clock.travel_to(context.clock.now() + timedelta(minutes=25))
    assert not signed_in(client)  # 8 hours after sign-in


def test_sessions_live_in_the_database_for_every_process(client: TestClient, context: SandboxContext) -> None:
    """Two processes on one database: a session started in one is used and ended in the other."""
    database = Database.from_url(context.settings.resolved_database_url())
    other_context = SandboxContext(context.settings, Clock(), database)
    other_context._packages = context._packages
    other_app = create_sandbox_app(other_context, warm_packages=False)
    try:
        with TestClient(other_app, base_url="http://sandbox.test") as other:
            sign_in(client, f"citizen-{CITIZEN}")
            other.cookies.set("sundhed_session", client.cookies.get("sundhed_session") or "")
            assert "Bruno Elmer" in other.get("/view/hjem").text
            token = csrf(other, "/view/hjem")
            assert other.post("/view/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
            assert not signed_in(client)
    finally:
        other_context.database.engine.dispose()


@pytest.fixture
def behind_proxy(context: SandboxContext) -> Iterator[dict[str, TestClient]]:
    """The sandbox with ``NSP_SANDBOX_TRUSTED_PROXIES`` naming 10.1.2.0/24, reached from the proxy and from
    a stranger."""
    context.settings = context.settings.model_copy(update={"trusted_proxies": "192.0.2.1, 10.1.2.0/24"})
    app = create_sandbox_app(context, warm_packages=False)
    with (TestClient(app, base_url="http://sandbox.test", client=PROXY) as proxy,
          TestClient(app, base_url="http://sandbox.test", client=STRANGER) as stranger):
        yield {"proxy": proxy, "stranger": stranger}


def _login(client: TestClient, headers: dict[str, str]) -> str:
    client.cookies.clear()
    token = login_csrf(client)
    response = client.post("/view/login", data={"persona": GP, "csrf": token}, headers=headers, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response.headers["set-cookie"].lower()


@pytest.mark.parametrize("forwarded", [{"X-Forwarded-Proto": "https"}, {"Forwarded": "for=198.51.100.7;proto=https"}])
def test_secure_cookie_behind_a_trusted_proxy_only(behind_proxy: dict[str, TestClient],
                                                   forwarded: dict[str, str]) -> None:
    assert "; secure" in _login(behind_proxy["proxy"], forwarded)
    proxy = behind_proxy["proxy"]
    ended = proxy.post("/view/logout", data={"csrf": csrf(proxy, "/view/hjem")}, headers=forwarded,
                       follow_redirects=False)
    assert ended.status_code == 303 and "; secure" in ended.headers["set-cookie"].lower()  # removed as it was set
    assert "; secure" not in _login(behind_proxy["proxy"], {})  # the proxy says nothing: plain HTTP
    assert "; secure" not in _login(behind_proxy["stranger"], forwarded)  # not believed


def test_the_origin_a_trusted_proxy_forwards_is_the_viewers_own(behind_proxy: dict[str, TestClient]) -> None:
    public = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "sundhed.example"}
    for name, client in behind_proxy.items():
        client.cookies.clear()
        token = login_csrf(client)
        response = client.post("/view/login", data={"persona": GP, "csrf": token},
                               headers={**public, "Origin": "https://sundhed.example"}, follow_redirects=False)
        assert response.status_code == (303 if name == "proxy" else 403), name


def test_ended_sessions_are_purged_and_no_token_is_kept_after_sign_out(client: TestClient,
                                                                       context: SandboxContext) -> None:
    from sqlalchemy import select

    from services.sundhed_view.models import SessionRow

    def rows() -> list[SessionRow]:
        with context.database.session() as s:
            return list(s.scalars(select(SessionRow)))

    sign_in(client, GP)
    cookie = client.cookies.get("sundhed_session") or ""
    [signed] = [r for r in rows() if r.signed_in]
    assert signed.token and cookie not in {r.id_hash for r in rows()}  # only the id's hash is stored
    client.post("/view/logout", data={"csrf": csrf(client, "/view/hjem")})
    [ended] = [r for r in rows() if r.signed_in]
    assert ended.revoked_at is not None and ended.token is None
    context.clock.travel_to(context.clock.now() + timedelta(hours=9, days=1))
    client.cookies.clear()
    login_csrf(client)  # a new form session: the old ones are purged
    assert len(rows()) == 1 and not rows()[0].signed_in


def test_a_link_to_a_page_that_is_not_there_signs_no_one_out(client: TestClient) -> None:
    sign_in(client, f"citizen-{CITIZEN}")
    for path in ("/view/borger/not-a-cpr", "/view/borger/12345/provesvar", "/view/no-such-page",
                 f"/view/borger/{CITIZEN}/no/such/page"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 404 and "Siden findes ikke" in response.text, path
        assert "set-cookie" not in response.headers
    assert signed_in(client)
