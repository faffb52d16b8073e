"""The FHIR packages the sandbox declares (``fhir-packages.json``: exact versions, by flow), and their
installation from a FHIR package registry into the standard package cache, as FHIR tools (SUSHI,
the HL7 validator, Firely Terminal) do on first use.

The registry speaks the npm registry API (FHIR package registry, "Package server API"):
``GET {registry}/{name}`` lists the versions, each with ``dist.tarball`` (the ``.tgz``, followed) and,
when published, ``dist.shasum`` (the SHA-1 of the ``.tgz``, checked). ``NSP_SANDBOX_FHIR_REGISTRY`` is a
comma-separated list of registries tried in order. A package lands in
``{cache}/{name}#{version}/package/…``, the layout every FHIR tool reads.

When a declared package is neither in ``NSP_SANDBOX_FHIR_PACKAGES`` nor in the cache and no registry
gives it, :class:`PackagesUnavailable` names every missing package and the two ways to provide it.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx2 as httpx

from nsp_sandbox.archive_unpack import unpack_data

DECLARATION = Path(__file__).with_name("fhir-packages.json")
DEFAULT_REGISTRY = "https://packages.fhir.org"
_ARCHIVE_NAME = re.compile(r"^(?P<name>[A-Za-z0-9._]+?)[-#](?P<version>\d[^/]*)\.tgz\Z", re.ASCII)

Report = Callable[[str], None]
# Download progress: (package, bytes so far, total bytes or 0 when the server does not say).
Progress = Callable[["PackageId", int, int], None]


@dataclass(frozen=True, order=True)
class PackageId:
    name: str
    version: str

    @property
    def key(self) -> str:
        return f"{self.name}#{self.version}"

    @classmethod
    def parse(cls, text: str) -> PackageId:
        name, sep, version = text.partition("#")
        if not sep or not name or not version:
            raise ValueError(f"'{text}' is not NAME#VERSION")
        return cls(name, version)


@cache
def _declaration() -> dict[str, Any]:
    return json.loads(DECLARATION.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def flows() -> list[str]:
    return list(_declaration()["flows"])


def declared(only: Iterable[str] | None = None) -> list[PackageId]:
    """The packages of the named flows (default: every flow), each once."""
    wanted = set(only) if only is not None else None
    found = {PackageId.parse(key) for flow, keys in _declaration()["flows"].items()
             if wanted is None or flow in wanted for key in keys}
    return sorted(found)


def optional() -> frozenset[str]:
    """Dependencies the sandbox does without (bindings to them are reported as not checked)."""
    return frozenset(_declaration()["optional"])


def registries(setting: str | None) -> list[str]:
    """The registries to try, in order (``NSP_SANDBOX_FHIR_REGISTRY``, comma-separated)."""
    listed = [r.strip().rstrip("/") for r in (setting or "").split(",") if r.strip()]
    return listed or [DEFAULT_REGISTRY]


def present(sources: Sequence[Path], cache_dir: Path) -> set[PackageId]:
    """The packages found by name in ``sources`` (``.tgz`` named ``name-version.tgz`` or folders with a
    ``package/package.json``) and in the package cache — a quick look that reads no archive."""
    found: set[PackageId] = set()
    folders = [Path(cache_dir)] if Path(cache_dir).is_dir() else []
    for source in (Path(s).expanduser() for s in sources):
        if source.is_file():
            match = _ARCHIVE_NAME.match(source.name)
            found |= {PackageId(match["name"], match["version"])} if match else set()
        elif source.is_dir():
            folders.append(source)
    for folder in folders:
        for entry in [folder, *folder.iterdir()]:
            manifest = entry / "package" / "package.json"
            if manifest.is_file():
                try:
                    data = json.loads(manifest.read_text(encoding="utf-8"))
                    found.add(PackageId(str(data["name"]), str(data["version"])))
                except (OSError, ValueError, KeyError):
                    continue
            elif entry.is_file() and (match := _ARCHIVE_NAME.match(entry.name)):
                found.add(PackageId(match["name"], match["version"]))
    return found


class PackagesUnavailable(Exception):
    """Declared packages that are missing and could not be installed; the message says how to provide them."""

    def __init__(self, missing: Sequence[PackageId], reasons: dict[str, str]) -> None:
        self.missing = list(missing)
        self.reasons = reasons
        listed = "\n".join(f"  {p.key}: {reasons.get(p.key, 'not installed')}" for p in self.missing)
        super().__init__(
            f"{len(self.missing)} FHIR package(s) the sandbox needs are missing and could not be installed:\n"
            f"{listed}\nProvide them in either of two ways:\n"
            "  1. NSP_SANDBOX_FHIR_PACKAGES=<folder of their .tgz files> (':'-separated list of files or folders);\n"
            "  2. nsp-sandbox packages install NAME#VERSION (into the package cache ~/.fhir/packages), "
            "with NSP_SANDBOX_FHIR_REGISTRY naming a registry this machine can reach.")


class InstallError(Exception):
    """One package could not be installed from one registry; the message says why. ``unreachable``:
    the registry itself could not be reached (not asked again for the other packages)."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def install(package: PackageId, registry: str, cache_dir: Path, report: Report, *, timeout: float = 60.0,
            archives: Path | None = None, progress: Progress | None = None) -> Path:
    """Install ``package`` from ``registry`` into ``cache_dir`` (the folder that holds ``package/`` is
    returned) or, with ``archives``, keep its ``.tgz`` there as ``name-version.tgz`` (a package source
    folder, like ``NSP_SANDBOX_FHIR_PACKAGES`` takes)."""
    target = Path(archives) / f"{package.name}-{package.version}.tgz" if archives else Path(cache_dir) / package.key
    if target.is_file() or (target / "package" / "package.json").is_file():
        return target
    with httpx.Client(timeout=timeout, follow_redirects=True) as http:
        tarball, shasum = _locate(http, registry, package)
        archive = _download(http, tarball, shasum, package, report, progress)
    if archives:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        partial.write_bytes(archive)
        partial.rename(target)
    else:
        _unpack_into(archive, target, package)
    return target


def _locate(http: httpx.Client, registry: str, package: PackageId) -> tuple[str, str | None]:
    try:
        listing = http.get(f"{registry}/{package.name}", headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise InstallError(f"{registry} could not be reached ({type(exc).__name__})", unreachable=True) from None
    if listing.status_code == 404:
        raise InstallError(f"{registry} has no package {package.name}")
    if listing.status_code != 200:
        raise InstallError(f"{registry} answered HTTP {listing.status_code} for {package.name}")
    try:
        version = listing.json()["versions"][package.version]
        dist = version["dist"]
        return str(dist["tarball"]), (str(dist["shasum"]) if dist.get("shasum") else None)
    except KeyError:
        raise InstallError(f"{registry} lists no version {package.version} of {package.name}") from None
    except (ValueError, TypeError):
        raise InstallError(f"{registry} answered something that is not a package listing") from None


def _download(http: httpx.Client, url: str, shasum: str | None, package: PackageId, report: Report,
              progress: Progress | None = None) -> bytes:
    digest = hashlib.sha1()
    chunks: list[bytes] = []
    try:
        with http.stream("GET", url) as response:
            if response.status_code != 200:
                raise InstallError(f"{url} answered HTTP {response.status_code}")
            size = int(response.headers.get("content-length") or 0)
            report(f"{package.key}: downloading {size // 1024 or '?'} KB from {url}")
            done = 0
            for chunk in response.iter_bytes():
                digest.update(chunk)
                chunks.append(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(package, done, size)
    except httpx.HTTPError as exc:
        raise InstallError(f"{url} could not be downloaded ({type(exc).__name__})") from None
    if shasum and digest.hexdigest() != shasum.lower():
        raise InstallError(f"{url} does not match the registry's shasum {shasum} (got {digest.hexdigest()})")
    return b"".join(chunks)


def _unpack_into(archive: bytes, target: Path, package: PackageId) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".install-", dir=target.parent))
    try:
        with tempfile.TemporaryFile() as file:
            file.write(archive)
            file.seek(0)
            with tarfile.open(fileobj=file, mode="r:gz") as tar:
                unpack_data(tar, staging)
        manifest = json.loads((staging / "package" / "package.json").read_text(encoding="utf-8"))
        if (manifest.get("name"), manifest.get("version")) != (package.name, package.version):
            raise InstallError(f"the archive holds {manifest.get('name')}#{manifest.get('version')}, "
                               f"not {package.key}")
        staging.rename(target)
    except (tarfile.TarError, OSError, ValueError, KeyError) as exc:
        raise InstallError(f"the archive of {package.key} could not be unpacked ({type(exc).__name__}: {exc})") \
            from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def ensure(sources: Sequence[Path], cache_dir: Path, registry_setting: str | None, report: Report, *,
           only: Iterable[str] | None = None, confirm: Callable[[], set[PackageId]] | None = None,
           archives: Path | None = None, progress: Progress | None = None) -> list[PackageId]:
    """Install every declared package that is missing; the ones installed. ``confirm`` is asked (it
    loads the packages for real) before anything is downloaded, in case the quick look missed one.
    With ``archives`` the ``.tgz`` files are kept in that folder instead of unpacked into the cache."""
    wanted = declared(only)
    have = present([archives], archives / ".none") if archives else present(sources, cache_dir)
    missing = [p for p in wanted if p not in have]
    if missing and confirm is not None:
        loaded = confirm()
        missing = [p for p in missing if p not in loaded]
    reasons: dict[str, str] = {}
    installed: list[PackageId] = []
    unreachable: dict[str, str] = {}
    for number, package in enumerate(missing, start=1):
        report(f"[{number}/{len(missing)}] {package.key}")
        for registry in registries(registry_setting):
            if registry in unreachable:
                reasons[package.key] = unreachable[registry]
                continue
            try:
                install(package, registry, cache_dir, report, archives=archives, progress=progress)
            except InstallError as exc:
                reasons[package.key] = str(exc)
                if exc.unreachable:
                    unreachable[registry] = str(exc)
                continue
            installed.append(package)
            reasons.pop(package.key, None)
            break
    failed = [p for p in missing if p not in installed]
    if failed:
        raise PackagesUnavailable(failed, reasons)
    return installed
