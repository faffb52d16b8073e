"""FHIR NPM package loader: finds packages, resolves their dependencies, indexes canonical resources.

Sources, in order of precedence:

1. the configured sources (``NSP_SANDBOX_FHIR_PACKAGES``): ``.tgz`` files, folders of ``.tgz`` files,
   unpacked packages (a folder holding ``package/package.json``) or folders of unpacked packages;
2. the standard FHIR package cache (``~/.fhir/packages/<name>#<version>/package``).

A ``.tgz`` is unpacked once into a derived cache (``~/.cache/nsp-sandbox/packages``, keyed by the
archive's path, size and modification time) together with an index of its resources, so a start
reads two small JSON files per package and loads resources only when they are asked for.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from nsp_sandbox.archive_unpack import refusal, unpack_data
from nsp_sandbox.digits import all_digits

log = logging.getLogger(__name__)
T = TypeVar("T")

INDEX_FILE = ".nsp-index.json"
INDEX_VERSION = 1
CANONICAL_TYPES = frozenset({
    "StructureDefinition", "ValueSet", "CodeSystem", "SearchParameter", "OperationDefinition",
    "CapabilityStatement", "ConceptMap", "NamingSystem", "ImplementationGuide", "MessageDefinition",
    "GraphDefinition", "StructureMap", "Questionnaire", "ActivityDefinition", "PlanDefinition",
})


def default_derived_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nsp-sandbox" / "packages"


@dataclass(frozen=True)
class IndexEntry:
    """One resource file of a package, as listed in its index."""

    filename: str
    resource_type: str
    id: str | None
    url: str | None
    version: str | None
    kind: str | None = None  # StructureDefinition.kind
    type: str | None = None  # StructureDefinition.type
    derivation: str | None = None


def _numbers(version: str) -> tuple[int, ...]:
    main = version.partition("-")[0]
    return tuple(int(p) if all_digits(p) else 0 for p in main.split("."))


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key for package versions: numeric parts numerically; a pre-release sorts before its release."""
    main, _, pre = version.partition("-")
    parts: list[tuple[int, int | str]] = [(0, int(p)) if all_digits(p) else (1, p) for p in main.split(".")]
    parts.append((1, "~") if not pre else (0, pre))
    return tuple(parts)


@dataclass
class FhirPackage:
    """An unpacked FHIR package: its manifest, index and lazily loaded resources."""

    name: str
    version: str
    root: Path  # the 'package/' folder
    manifest: dict[str, Any]
    origin: str  # where it came from: a .tgz path, a folder, or the package cache
    entries: list[IndexEntry] = field(default_factory=list)
    _cache: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    _derived: dict[Hashable, Any] = field(default_factory=dict, repr=False)

    @cached_property
    def id(self) -> str:
        """``name#version``: it keys every per-package cache, so it is made once."""
        return f"{self.name}#{self.version}"

    @property
    def canonical(self) -> str | None:
        return self.manifest.get("canonical")

    @property
    def dependencies(self) -> dict[str, str]:
        return dict(self.manifest.get("dependencies") or {})

    @property
    def fhir_versions(self) -> list[str]:
        return list(self.manifest.get("fhirVersions") or self.manifest.get("fhir-version-list") or [])

    def load(self, filename: str) -> dict[str, Any]:
        """A resource file of the package, parsed once and kept: always the same object, also when threads
        load it at once (``setdefault`` keeps the first one stored). The library's caches key compiled
        structures and owners by the object's ``id``, so a second copy, dropped and collected, could leave
        its ``id`` to another resource and a validation would be judged by the wrong profile."""
        cached = self._cache.get(filename)
        if cached is None:
            with open(self.root / filename, "rb") as fh:
                parsed = json.load(fh)
            cached = self._cache.setdefault(filename, parsed)
        return cached

    def derived(self, key: Hashable, make: Callable[[], T]) -> T:
        """What ``make()`` works out from the package's files, worked out once and kept under ``key``: a
        package's files never change once loaded. The value is shared: a caller must not change it."""
        try:
            return self._derived[key]  # type: ignore[no-any-return]
        except KeyError:
            return self._derived.setdefault(key, make())  # type: ignore[no-any-return]

    def examples(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every example instance of the package (``package/example/*.json``), sorted by file name."""
        folder = self.root / "example"
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("*.json")):
            if path.name.startswith("."):
                continue
            with open(path, "rb") as fh:
                yield path.name, json.load(fh)

    def count(self, resource_type: str) -> int:
        return sum(1 for e in self.entries if e.resource_type == resource_type)


class PackageError(Exception):
    """A package that cannot be read (bad archive, no manifest)."""


class PackageRegistry:
    """All loaded packages and their canonical resources, by ``url`` and ``url|version``."""

    def __init__(self, packages: Sequence[FhirPackage], warnings: Sequence[str] = ()) -> None:
        self._packages: dict[tuple[str, str], FhirPackage] = {}
        for pkg in packages:
            self._packages.setdefault((pkg.name, pkg.version), pkg)
        self.warnings: list[str] = list(warnings)
        self._by_url: dict[str, list[tuple[FhirPackage, IndexEntry]]] = {}
        for pkg in self._packages.values():
            for entry in pkg.entries:
                if entry.url:
                    self._by_url.setdefault(entry.url, []).append((pkg, entry))
        self._owner: dict[int, FhirPackage] = {}
        self._closures: dict[str, list[FhirPackage]] = {}
        # What _find and canonical_versions work out, kept: the packages of a registry do not change.
        self._found: dict[tuple[str, str | None, str | None], tuple[FhirPackage, IndexEntry]] = {}
        self._versions: dict[tuple[str, str | None], tuple[str, ...]] = {}
        self._named: dict[str, tuple[FhirPackage, ...]] = {}  # versions(name), oldest first
        self._fingerprint: tuple[str, ...] | None = None
        self._lock = threading.Lock()
        for pkg in self._packages.values():
            self._dependency_warnings(pkg)

    # ---- loading -------------------------------------------------------------------------------

    @classmethod
    def load(cls, sources: Sequence[Path], cache: Path | None, *, derived: Path | None = None) -> PackageRegistry:
        """Load every package found in ``sources`` and in the FHIR package cache ``cache``."""
        derived = derived or default_derived_cache()
        found: list[FhirPackage] = []
        warnings: list[str] = []
        for source in sources:
            source = Path(source).expanduser()
            if not source.exists():
                warnings.append(f"package source {source} does not exist")
                continue
            for candidate in _candidates(source):
                try:
                    found.append(_open_package(candidate, derived))
                except PackageError as exc:
                    warnings.append(str(exc))
        if cache is not None and Path(cache).is_dir():
            for folder in sorted(Path(cache).iterdir()):
                if "#" in folder.name and (folder / "package" / "package.json").is_file():
                    try:
                        found.append(_open_package(folder, derived))
                    except PackageError as exc:
                        warnings.append(str(exc))
        return cls(found, warnings)

    # ---- packages ------------------------------------------------------------------------------

    def all_packages(self) -> list[FhirPackage]:
        return sorted(self._packages.values(), key=lambda p: (p.name, version_key(p.version)))

    @property
    def fingerprint(self) -> tuple[str, ...]:
        """Which packages are loaded (``name#version`` of each, sorted): two registries with the same
        fingerprint validate alike (a package's files do not change under one name and version)."""
        if self._fingerprint is None:
            self._fingerprint = tuple(sorted(p.id for p in self._packages.values()))
        return self._fingerprint

    def versions(self, name: str) -> list[FhirPackage]:
        """The loaded releases of package ``name``, oldest first (worked out once per name)."""
        found = self._named.get(name)
        if found is None:
            found = tuple(sorted((p for (n, _), p in self._packages.items() if n == name),
                                 key=lambda p: version_key(p.version)))
            self._named[name] = found
        return list(found)

    def get(self, name: str, version: str | None = None) -> FhirPackage | None:
        """The package ``name#version``; without a version the newest loaded one."""
        if version is not None:
            return self._packages.get((name, version))
        versions = self.versions(name)
        return versions[-1] if versions else None

    def nearest(self, name: str, version: str) -> FhirPackage | None:
        """``name#version`` if loaded, else the nearest loaded version of ``name`` (same major.minor first)."""
        exact = self._packages.get((name, version))
        if exact is not None:
            return exact
        candidates = self.versions(name)
        if not candidates:
            return None
        wanted = _numbers(version)

        def distance(pkg: FhirPackage) -> tuple[int, ...]:
            have = _numbers(pkg.version)
            width = max(len(have), len(wanted))
            have += (0,) * (width - len(have))
            want = wanted + (0,) * (width - len(wanted))
            return (*(abs(h - w) for h, w in zip(have, want, strict=True)), int(have < want))

        return min(candidates, key=distance)

    def closure(self, package: FhirPackage) -> list[FhirPackage]:
        """``package`` followed by its dependencies (breadth first), each resolved to a loaded version."""
        with self._lock:
            cached = self._closures.get(package.id)
        if cached is not None:
            return cached
        order: list[FhirPackage] = [package]
        seen = {package.name}
        queue = [package]
        while queue:
            current = queue.pop(0)
            for name, version in current.dependencies.items():
                if name in seen:
                    continue
                seen.add(name)
                dep = self.nearest(name, version)
                if dep is not None:
                    order.append(dep)
                    queue.append(dep)
        with self._lock:
            self._closures[package.id] = order
        return order

    def _dependency_warnings(self, package: FhirPackage) -> None:
        for name, version in package.dependencies.items():
            dep = self.nearest(name, version)
            if dep is None:
                self.warnings.append(f"{package.id}: dependency {name}#{version} is not available; "
                                     "its profiles and value sets cannot be checked")
            elif dep.version != version:
                self.warnings.append(f"{package.id}: dependency {name}#{version} is not available; "
                                     f"using {dep.id} instead")

    # ---- canonical resources -------------------------------------------------------------------

    def resolve(self, canonical: str, resource_type: str | None = None,
                context: FhirPackage | None = None) -> dict[str, Any] | None:
        """The resource with canonical URL ``canonical`` (``url`` or ``url|version``).

        Without a version, a resource from ``context``'s dependency closure wins (so a package sees
        the versions it was built against); otherwise the newest version loaded.
        """
        found = self._find(canonical, resource_type, context)
        if found is None:
            return None
        pkg, entry = found
        resource = pkg.load(entry.filename)
        with self._lock:
            self._owner[id(resource)] = pkg
        return resource

    def _find(self, canonical: str, resource_type: str | None,
              context: FhirPackage | None) -> tuple[FhirPackage, IndexEntry] | None:
        key = (canonical, resource_type, context.id if context is not None else None)
        found = self._found.get(key)  # read without the lock: dict.get is atomic
        if found is None:
            found = self._choose(canonical, resource_type, context)
            if found is not None:  # only what is loaded is kept: a document can name any URL
                self._found[key] = found
        return found

    def _choose(self, canonical: str, resource_type: str | None,
                context: FhirPackage | None) -> tuple[FhirPackage, IndexEntry] | None:
        url, _, version = canonical.partition("|")
        candidates = self._by_url.get(url, [])
        if resource_type is not None:
            candidates = [c for c in candidates if c[1].resource_type == resource_type]
        if not candidates:
            return None
        if version:
            exact = [c for c in candidates if c[1].version == version]
            if exact:
                return exact[0]
            # "1.2" matches "1.2.x" as FHIR's partial version matching allows.
            partial = [c for c in candidates if (c[1].version or "").startswith(version + ".")]
            return max(partial, key=lambda c: version_key(c[1].version or "")) if partial else None
        if context is not None:
            for pkg in self.closure(context):
                for candidate in candidates:
                    if candidate[0] is pkg:
                        return candidate
        return max(candidates, key=lambda c: (version_key(c[1].version or "0"), version_key(c[0].version)))

    def canonical_versions(self, url: str, resource_type: str | None = None) -> list[str]:
        """Every loaded version of the canonical resource ``url``, oldest first."""
        key = (url, resource_type)
        found = self._versions.get(key)  # read without the lock: dict.get is atomic
        if found is None:
            versions = {e.version for _, e in self._by_url.get(url, [])
                        if e.version and (resource_type is None or e.resource_type == resource_type)}
            found = tuple(sorted(versions, key=version_key))
            if found:  # only what is loaded is kept: a document can name any URL
                self._versions[key] = found
        return list(found)

    def package_of(self, resource: dict[str, Any]) -> FhirPackage | None:
        """The package a resource returned by :meth:`resolve` came from."""
        with self._lock:
            return self._owner.get(id(resource))

    def structure_definition(self, url: str, context: FhirPackage | None = None) -> dict[str, Any] | None:
        return self.resolve(url, "StructureDefinition", context)

    def value_set(self, url: str, context: FhirPackage | None = None) -> dict[str, Any] | None:
        return self.resolve(url, "ValueSet", context)

    def code_system(self, url: str, context: FhirPackage | None = None) -> dict[str, Any] | None:
        return self.resolve(url, "CodeSystem", context)

    def iter_resources(self, resource_type: str | None = None) -> Iterator[tuple[FhirPackage, IndexEntry]]:
        for pkg in self.all_packages():
            for entry in pkg.entries:
                if resource_type is None or entry.resource_type == resource_type:
                    yield pkg, entry


# ---- finding and opening packages --------------------------------------------------------------


def _candidates(source: Path) -> list[Path]:
    if source.is_file():
        return [source]
    if (source / "package" / "package.json").is_file():
        return [source]
    found = sorted(source.glob("*.tgz"))
    found += sorted(p for p in source.iterdir() if p.is_dir() and (p / "package" / "package.json").is_file())
    return found


def _open_package(path: Path, derived: Path) -> FhirPackage:
    if path.is_file():
        folder = _unpack(path, derived)
        origin = str(path)
    else:
        folder = path
        origin = str(path)
    root = folder / "package"
    try:
        manifest = json.loads((root / "package.json").read_text(encoding="utf-8"))
        name, version = manifest["name"], manifest["version"]
    except (OSError, ValueError, KeyError) as exc:
        raise PackageError(f"{path}: not a FHIR package ({exc})") from None
    entries = _load_index(root, derived)
    return FhirPackage(name, version, root, manifest, origin, entries)


def _unpack(archive: Path, derived: Path) -> Path:
    """Unpack ``archive`` once into the derived cache; answer the folder holding ``package/``."""
    stat = archive.stat()
    key = hashlib.sha1(f"{archive.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = derived / f"{archive.name.removesuffix('.tgz')}-{key}"
    if (target / ".complete").is_file():
        return target
    derived.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".unpack-", dir=derived))
    try:
        with tarfile.open(archive, "r:gz") as tar:
            # Anything but plain data inside the folder is left out.
            unpack_data(tar, tmp, [m for m in tar.getmembers() if refusal(m) is None])
        if not (tmp / "package" / "package.json").is_file():
            raise PackageError(f"{archive}: no package/package.json inside")
        (tmp / ".complete").write_text(str(archive))
        try:
            tmp.rename(target)
        except OSError:  # another process unpacked it first
            shutil.rmtree(tmp, ignore_errors=True)
    except (tarfile.TarError, OSError, EOFError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise PackageError(f"{archive}: cannot unpack ({exc})") from None
    except PackageError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _load_index(root: Path, derived: Path) -> list[IndexEntry]:
    """The package's resource index, built once (from the files, so nothing is missed) and kept."""
    index_path = root / INDEX_FILE
    if not os.access(root, os.W_OK):
        key = hashlib.sha1(str(root.resolve()).encode()).hexdigest()[:16]
        index_path = derived / "indexes" / f"{key}.json"
    stamp = _folder_stamp(root)
    if index_path.is_file():
        try:
            data = json.loads(index_path.read_text(encoding="utf-8"))
            if data.get("index-version") == INDEX_VERSION and data.get("stamp") == stamp:
                return [IndexEntry(**e) for e in data["files"]]
        except (ValueError, TypeError, KeyError):
            pass
    entries = _scan(root)
    try:
        index_path.parent.mkdir(parents=True, exist_ok=True)
        index_path.write_text(json.dumps({
            "index-version": INDEX_VERSION, "stamp": stamp,
            "files": [e.__dict__ for e in entries],
        }), encoding="utf-8")
    except OSError as exc:
        log.debug("cannot write package index %s: %s", index_path, exc)
    return entries


def _folder_stamp(root: Path) -> str:
    st = root.stat()
    return f"{st.st_mtime_ns}|{sum(1 for _ in root.glob('*.json'))}"




def _scan(root: Path) -> list[IndexEntry]:
    entries: list[IndexEntry] = []
    for path in sorted(root.glob("*.json")):
        if path.name in ("package.json",) or path.name.startswith("."):
            continue
        try:
            resource = json.loads(path.read_bytes())
        except ValueError:
            log.warning("skipping unreadable JSON %s", path)
            continue
        if not isinstance(resource, dict) or "resourceType" not in resource:
            continue
        rtype = resource["resourceType"]
        url = resource.get("url") if rtype in CANONICAL_TYPES else None
        entries.append(IndexEntry(
            filename=path.name, resource_type=rtype, id=resource.get("id"),
            url=url if isinstance(url, str) else None,
            version=resource.get("version") if isinstance(resource.get("version"), str) else None,
            kind=resource.get("kind") if rtype == "StructureDefinition" else None,
            type=resource.get("type") if rtype == "StructureDefinition" else None,
            derivation=resource.get("derivation") if rtype == "StructureDefinition" else None,
        ))
    return entries
