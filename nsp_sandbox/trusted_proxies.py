"""Who really sent a request, and over what: the one place forwarded headers are read.

A TLS-terminating reverse proxy in front of the sandbox talks plain HTTP to it and says in headers
what the client sent: ``Forwarded`` (RFC 7239: ``for=``, ``proto=``, ``host=``) or the de-facto
``X-Forwarded-For`` / ``X-Forwarded-Proto`` / ``X-Forwarded-Host``. Anyone can send those headers,
so they are believed only when the TCP peer is one of the proxies named in
``NSP_SANDBOX_TRUSTED_PROXIES`` (comma-separated addresses or CIDR networks); from any other peer
they are ignored and the peer itself is the client. With ``Forwarded`` present the ``X-Forwarded-*``
headers are not read. The client address walks the ``for`` chain from the right over trusted
proxies (OWASP: the rightmost address not a trusted proxy); the scheme and host are the ones the
nearest proxy reports.

Users: the viewer's session cookie (``Secure`` when the client used HTTPS) and its Origin check, and
the control face's loopback rule (the client must be on this machine, unless the peer is a trusted
proxy, when the client it forwards for must be).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache

from starlette.requests import HTTPConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_networks(spec: str) -> tuple[Network, ...]:
    """``"10.0.0.5, 192.168.0.0/16, ::1"`` → the networks; ``ValueError`` naming a bad entry."""
    out: list[Network] = []
    for entry in (e.strip() for e in spec.split(",")):
        if not entry:
            continue
        try:
            out.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or CIDR network: {entry!r}") from None
    return tuple(out)


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address as a ``for=`` value or an ``X-Forwarded-For`` entry writes it (port, brackets, quotes)."""
    value = value.strip().strip('"')
    if value.startswith("["):
        value = value[1:].split("]", 1)[0]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _forwarded_elements(header: str) -> list[dict[str, str]]:
    """RFC 7239 ``Forwarded``: one dict of lower-cased parameter names per element, nearest proxy last."""
    elements: list[dict[str, str]] = []
    for element in header.split(","):
        pairs: dict[str, str] = {}
        for pair in element.split(";"):
            name, sep, value = pair.partition("=")
            if sep:
                pairs[name.strip().lower()] = value.strip().strip('"')
        elements.append(pairs)
    return elements


def _last(header: str | None) -> str | None:
    """The last comma-separated value of a header (the nearest proxy's), or None."""
    if not header:
        return None
    value = header.split(",")[-1].strip()
    return value or None


@dataclass(frozen=True)
class TrustedProxies:
    networks: tuple[Network, ...] = ()

    def trusts(self, host: str | None) -> bool:
        address = _address(host) if host else None
        return address is not None and any(address in network for network in self.networks)

    @staticmethod
    def peer(connection: HTTPConnection) -> str | None:
        """The TCP peer's address, as the server saw it."""
        return connection.client.host if connection.client else None

    def _forwarded(self, connection: HTTPConnection) -> list[dict[str, str]] | None:
        """The forwarded elements when the peer is trusted and sent any; None otherwise."""
        if not self.trusts(self.peer(connection)):
            return None
        headers = connection.headers
        if "forwarded" in headers:
            return _forwarded_elements(", ".join(headers.getlist("forwarded")))
        elements = [{"for": f.strip()} for f in ", ".join(headers.getlist("x-forwarded-for")).split(",") if f.strip()]
        if not elements:
            elements = [{}]
        proto, host = _last(headers.get("x-forwarded-proto")), _last(headers.get("x-forwarded-host"))
        if proto:
            elements[-1]["proto"] = proto
        if host:
            elements[-1]["host"] = host
        return elements

    def client(self, connection: HTTPConnection) -> str | None:
        """The client's address: the peer, or through trusted proxies the rightmost address that is not
        one; None when a hop is not an address (``unknown``, an obfuscated name)."""
        host = self.peer(connection)
        elements = self._forwarded(connection)
        if elements is None:
            return host
        for element in reversed(elements):
            if not self.trusts(host):
                return host
            forwarded_for = element.get("for")
            if forwarded_for is None:
                return host
            address = _address(forwarded_for)
            if address is None:
                return None
            host = str(address)
        return host

    def scheme(self, connection: HTTPConnection) -> str:
        """``https`` or ``http`` as the client used it: the nearest trusted proxy's ``proto``, else the server's."""
        elements = self._forwarded(connection)
        proto = (elements[-1].get("proto") or "").lower() if elements else ""
        return proto if proto in DEFAULT_PORTS else connection.url.scheme

    def origin(self, connection: HTTPConnection) -> str:
        """The origin the client addressed (``scheme://host[:port]``, default port left out)."""
        elements = self._forwarded(connection)
        host = (elements[-1].get("host") if elements else None) or connection.headers.get("host") or ""
        return normalise_origin(f"{self.scheme(connection)}://{host}")


def normalise_origin(origin: str) -> str:
    """``scheme://host[:port]`` in lower case, without the scheme's default port."""
    scheme, sep, rest = origin.strip().lower().partition("://")
    if not sep:
        return origin.strip().lower()
    host = rest.split("/", 1)[0]
    if host.rsplit(":", 1)[-1] == str(DEFAULT_PORTS.get(scheme)) and not host.endswith("]"):
        host = host.rsplit(":", 1)[0]
    return f"{scheme}://{host}"


@lru_cache(maxsize=16)
def trusted_proxies(spec: str) -> TrustedProxies:
    """The proxies of a ``NSP_SANDBOX_TRUSTED_PROXIES`` value (parsed once per value)."""
    return TrustedProxies(parse_networks(spec))
