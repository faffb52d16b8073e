"""``NSP_SANDBOX_TRUSTED_PROXIES``: forwarded headers believed only from the proxies listed, in the
viewer and in the control face's loopback rule."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from starlette.requests import Request

from nsp_sandbox.config import Settings
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.trusted_proxies import normalise_origin, parse_networks, trusted_proxies
from sandbox.app import create_sandbox_app

PROXIES = trusted_proxies("10.0.0.0/8, 192.0.2.1, 2001:db8::/32")


def request(peer: str, headers: dict[str, str], scheme: str = "http") -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in {"host": "sandbox.test", **headers}.items()]
    return Request({"type": "http", "method": "GET", "path": "/", "scheme": scheme, "query_string": b"",
                    "server": ("sandbox.test", 80), "client": (peer, 1234), "headers": raw})


def test_the_setting_is_a_list_of_addresses_and_networks() -> None:
    assert [str(n) for n in parse_networks(" 10.0.0.0/8,192.0.2.1 ,, ::1")] == ["10.0.0.0/8", "192.0.2.1/32", "::1/128"]
    with pytest.raises(ValidationError, match=r"'proxy\.example'"):
        Settings(trusted_proxies="10.0.0.1, proxy.example")


def test_headers_from_an_untrusted_peer_are_ignored() -> None:
    forged = request("203.0.113.9", {"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "https",
                                     "X-Forwarded-Host": "elsewhere.example", "Forwarded": "for=127.0.0.1;proto=https"})
    assert PROXIES.client(forged) == "203.0.113.9"
    assert PROXIES.scheme(forged) == "http" and PROXIES.origin(forged) == "http://sandbox.test"
    assert trusted_proxies("").client(request("10.0.0.1", {"X-Forwarded-For": "127.0.0.1"})) == "10.0.0.1"


def test_the_client_is_the_rightmost_address_that_is_no_trusted_proxy() -> None:
    chain = request("10.0.0.1", {"X-Forwarded-For": "127.0.0.1, 198.51.100.7, 10.0.0.2"})
    assert PROXIES.client(chain) == "198.51.100.7"  # the first hop a proxy of ours did not add is not believed
    assert PROXIES.client(request("10.0.0.1", {"X-Forwarded-For": "10.0.0.3"})) == "10.0.0.3"
    assert PROXIES.client(request("10.0.0.1", {})) == "10.0.0.1"
    assert PROXIES.client(request("10.0.0.1", {"X-Forwarded-For": "unknown"})) is None


def test_rfc_7239_forwarded_wins_over_x_forwarded() -> None:
    forwarded = request("2001:db8::5", {"Forwarded": 'for="[2001:db8:cafe::17]:4711";proto=https;host=sundhed.example',
                                        "X-Forwarded-For": "127.0.0.1", "X-Forwarded-Proto": "http"})
    assert PROXIES.client(forwarded) == "2001:db8:cafe::17"
    assert PROXIES.scheme(forwarded) == "https" and PROXIES.origin(forwarded) == "https://sundhed.example"
    chained = request("192.0.2.1", {"Forwarded": "for=198.51.100.7:5000, for=10.9.9.9;proto=HTTPS"})
    assert PROXIES.client(chained) == "198.51.100.7" and PROXIES.scheme(chained) == "https"
    odd = request("192.0.2.1", {"Forwarded": "for=_hidden;proto=gopher"})
    assert PROXIES.client(odd) is None and PROXIES.scheme(odd) == "http"


def test_origins_leave_out_default_ports() -> None:
    assert normalise_origin("HTTPS://Sundhed.Example:443/x") == "https://sundhed.example"
    assert normalise_origin("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert normalise_origin("null") == "null"


@pytest.mark.parametrize(("peer", "headers", "status"), [
    (("10.1.2.3", 1), {"X-Forwarded-For": "127.0.0.1"}, 200),  # a trusted proxy on behalf of a local caller
    (("10.1.2.3", 1), {"X-Forwarded-For": "198.51.100.7"}, 403),  # … of a caller from the network
    (("10.1.2.3", 1), {}, 403),  # the proxy itself is not on this machine
    (("203.0.113.9", 1), {"X-Forwarded-For": "127.0.0.1", "Forwarded": "for=127.0.0.1"}, 403),  # not believed
    (("127.0.0.1", 1), {"X-Forwarded-For": "198.51.100.7"}, 200),  # a local peer, not a listed proxy
])
def test_the_control_face_judges_the_real_caller(context: SandboxContext, peer: tuple[str, int],
                                                 headers: dict[str, str], status: int) -> None:
    context.settings = context.settings.model_copy(update={"trusted_proxies": "10.1.2.0/24"})
    with TestClient(create_sandbox_app(context, warm_packages=False), client=peer) as client:
        assert client.get("/sandbox/clock", headers=headers).status_code == status
