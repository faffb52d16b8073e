"""A FHIR package registry on loopback (the npm registry API the public FHIR package registry speaks),
serving the official ``.tgz`` files of a folder: ``GET /{name}`` lists the versions with
``dist.tarball`` and ``dist.shasum``; ``GET /{name}/-/{name}-{version}.tgz`` is the archive."""

from __future__ import annotations

import hashlib
import json
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def _index(folder: Path) -> dict[str, dict[str, tuple[Path, str]]]:
    packages: dict[str, dict[str, tuple[Path, str]]] = {}
    for archive in sorted(folder.glob("*.tgz")):
        with tarfile.open(archive) as tar:
            member = tar.extractfile("package/package.json")
            assert member is not None
            manifest = json.load(member)
        digest = hashlib.sha1(archive.read_bytes()).hexdigest()
        packages.setdefault(manifest["name"], {})[manifest["version"]] = (archive, digest)
    return packages


@contextmanager
def registry(folder: Path, *, wrong_shasum: bool = False) -> Iterator[str]:
    """The base URL of a registry serving ``folder``'s packages, for the duration of the block."""
    packages = _index(folder)
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            return

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            requests.append(self.path)
            base = f"http://127.0.0.1:{self.server.server_address[1]}"
            parts = self.path.strip("/").split("/")
            if len(parts) == 1 and parts[0] in packages:
                versions = {v: {"name": parts[0], "version": v, "dist": {
                    "tarball": f"{base}/{parts[0]}/-/{parts[0]}-{v}.tgz",
                    "shasum": ("0" * 40) if wrong_shasum else digest}} for v, (_, digest) in packages[parts[0]].items()}
                self._send(200, json.dumps({"name": parts[0], "versions": versions}).encode(), "application/json")
                return
            if len(parts) == 3 and parts[1] == "-" and parts[0] in packages:
                for version, (archive, _) in packages[parts[0]].items():
                    if parts[2] == f"{parts[0]}-{version}.tgz":
                        self._send(200, archive.read_bytes(), "application/tar+gzip")
                        return
            self._send(404, b'{"error": "not found"}', "application/json")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        registry.requests = requests  # type: ignore[attr-defined]
        yield url
    finally:
        server.shutdown()
        server.server_close()
