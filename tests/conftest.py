"""Shared fixtures: the official FHIR packages, and every database the suite runs against.

Tests that take ``database_url`` (directly or through ``context`` / ``client``) run once on SQLite
and once on PostgreSQL. PostgreSQL comes from ``NSP_SANDBOX_TEST_POSTGRES_URL`` (set by
``scripts/test.sh``, which finds or starts a server); without it those runs are skipped, and the
skip reason says so.
"""

from __future__ import annotations

import gc
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from actor_tokens import ActorTokens
from fastapi.testclient import TestClient
from prebuilt_databases import SchemaPool, build_sandbox, empty_sqlite, schema_of, sqlite_path
from prerequisites import missing

from nsp_sandbox.clock import Clock
from nsp_sandbox.config import Settings
from nsp_sandbox.context import SandboxContext
from nsp_sandbox.database import Database

pytest_plugins = ["pytester"]  # tests/plugin runs a vendor's test file with the pytest plugin

REPO = Path(__file__).resolve().parent.parent
FHIR_PACKAGES_DIR = Path(os.environ.get("NSP_SANDBOX_TEST_FHIR_PACKAGES", REPO.parent / "shared" / "fhir-packages"))
POSTGRES_URL = os.environ.get("NSP_SANDBOX_TEST_POSTGRES_URL", "")


def pytest_report_header(config: pytest.Config) -> list[str]:
    pg = POSTGRES_URL.rsplit("@", 1)[-1] if POSTGRES_URL else "not configured: PostgreSQL runs are SKIPPED"
    return [f"FHIR packages: {FHIR_PACKAGES_DIR}", f"PostgreSQL: {pg}"]


FUZZ = "tests/platform/test_openapi_fuzz.py::"
FREEZE_EVERY = 25  # tests between two freezes of what a worker keeps alive (see pytest_runtest_setup)
_started = [0]


def pytest_configure(config: pytest.Config) -> None:
    """A worker's full collections are the one every ``FREEZE_EVERY`` tests (``pytest_runtest_setup``), not also the
    collector's own in between. Each full collection walks every object not frozen: the garbage of the tests since
    the last freeze (their sandboxes' apps and routes hold cycles) and, each time again, what is still alive. Over
    ``tests/dds`` in one process: 109 full collections in 6.8 s of CPU, of which 74 the collector's own; without
    those, 35 in 2.9 s. The younger generations are collected as before, so cyclic garbage that dies young is still
    freed within its test (``docs/benchmarks.md``)."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 1_000_000)


@pytest.hookimpl(tryfirst=True)  # before the test's fixtures are set up
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Every ``FREEZE_EVERY`` tests, what the worker still keeps alive after a full collection is moved out of the
    garbage collector's sight (``gc.freeze``): the session's packages, conformance engine and compiled statements
    are most of a worker's heap and live to its end, yet every full collection walked them all again (11 % of a
    sample's CPU went to collections). Objects frozen are still freed when nothing refers to them; only a cycle
    among them is kept. FastAPI's caches of endpoint kinds hold the endpoints of the last tests' sandboxes: they
    are emptied first, so no test's sandbox (and no engine of its) is among what is frozen."""
    _started[0] += 1
    if _started[0] % FREEZE_EVERY:
        return
    from fastapi.dependencies import models

    for name in ("_is_gen_callable_cached", "_is_async_gen_callable_cached", "_is_coroutine_callable_cached"):
        cache_clear = getattr(getattr(models, name, None), "cache_clear", None)
        if cache_clear is not None:
            cache_clear()
    gc.collect()
    gc.freeze()


@pytest.hookimpl(trylast=True)  # after -m and -k have deselected theirs
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The schemathesis pass at a few examples is left out of a run that selects the slow pass over every face:
    that sends more requests of the same kinds to the same operations (``test_openapi_fuzz.py``)."""
    quick = [item for item in items if item.nodeid == FUZZ + "test_every_face_answers_as_described"]
    slow = [item for item in items if item.nodeid.startswith(FUZZ + "test_every_face_answers_as_described_at_fifty")]
    shards = {item.callspec.params["shard"] for item in slow if hasattr(item, "callspec")}
    if quick and shards and shards == set(getattr(quick[0].module, "SHARDS", ())):
        items.remove(quick[0])
        config.hook.pytest_deselected(items=quick)


@pytest.fixture(scope="session")
def fhir_packages_dir() -> Path:
    if not FHIR_PACKAGES_DIR.is_dir():
        missing(f"official FHIR packages not found at {FHIR_PACKAGES_DIR}")
    return FHIR_PACKAGES_DIR


@pytest.fixture(scope="session")
def empty_package_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fhir-cache")


@pytest.fixture(scope="session")
def settings_base(fhir_packages_dir: Path, empty_package_cache: Path,
                  tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        fhir_packages=str(fhir_packages_dir),
        fhir_package_cache=empty_package_cache,
        data_dir=tmp_path_factory.mktemp("data"),
        # The viewer's DSUBm subscription and prefetch run in the background; the tests that are about them
        # switch them on (tests/view/test_view_prefetch.py), the others are not raced by their requests.
        view_dsubm=False,
    )


@pytest.fixture(scope="session")
def packages(settings_base: Settings):  # type: ignore[no-untyped-def]
    """The official packages, loaded once for the whole session."""
    from nsp_sandbox.conformance.packages import PackageRegistry

    return PackageRegistry.load(settings_base.package_sources(), settings_base.fhir_package_cache)


@pytest.fixture(scope="session")
def validator(packages):  # type: ignore[no-untyped-def]
    from nsp_sandbox.conformance.validator import Validator

    return Validator(packages)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    if not POSTGRES_URL:
        missing("PostgreSQL not configured (set NSP_SANDBOX_TEST_POSTGRES_URL or run scripts/test.sh)")
    import psycopg

    name = f"nsp_test_{uuid.uuid4().hex[:10]}"
    admin = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at {POSTGRES_URL.rsplit('@', 1)[-1]} not reachable: {exc}")
    base, _, _ = admin.rpartition("/")
    yield f"{base}/{name}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory, settings_base: Settings, packages) -> Path:  # type: ignore[no-untyped-def]
    """A SQLite file with every table the whole sandbox makes on start, and no rows (see prebuilt_databases)."""
    path = tmp_path_factory.mktemp("template") / "sandbox.db"
    build_sandbox(f"sqlite:///{path}", settings_base, packages)
    empty_sqlite(path)
    return path


@pytest.fixture(scope="session")
def postgres_schemas(postgres_database: str, settings_base: Settings, packages) -> SchemaPool:  # type: ignore[no-untyped-def]
    """This worker's pool of PostgreSQL schemas with the whole sandbox's tables and no rows."""
    pool = SchemaPool(postgres_database)
    pool.start(lambda url: build_sandbox(url, settings_base, packages))
    return pool


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh schema in the session's PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    import psycopg

    db = request.getfixturevalue("postgres_database")
    pool: SchemaPool = request.getfixturevalue("postgres_schemas")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = db.replace("postgresql://", "postgresql+psycopg://", 1)
    # Commits need not wait for the disk: a test never outlives the server, only the sandbox (kill -9).
    yield f"{url}?options={quote(f'-csearch_path={schema} -csynchronous_commit=off')}"
    pool.recycle(schema)  # emptied for the next test if its tables are still the template's, else dropped


@pytest.fixture
def context(request: pytest.FixtureRequest, database_url: str, settings_base: Settings,
            packages, validator) -> Iterator[SandboxContext]:  # type: ignore[no-untyped-def]
    """The sandbox's context on ``database_url``, which holds the whole sandbox's tables, empty, already.
    The packages and the conformance engine are the session's: a sandbox builds them once and shares them
    with every actor, so a test gets them as a running sandbox has them after its first validation."""
    if database_url.startswith("sqlite"):
        if not sqlite_path(database_url).exists():
            shutil.copyfile(request.getfixturevalue("sqlite_template"), sqlite_path(database_url))
    else:
        request.getfixturevalue("postgres_schemas").adopt(schema_of(database_url))
    settings = settings_base.model_copy(update={"database_url": database_url})
    database = Database.from_url(database_url)
    ctx = SandboxContext(settings, Clock(), database)
    ctx._packages = packages
    ctx._validator = validator
    yield ctx
    database.engine.dispose()


@pytest.fixture
def client(context: SandboxContext) -> Iterator[TestClient]:
    """The whole sandbox in process, as an HTTP client on this machine sees it (so the operator endpoints,
    ``PUT /lps/switches`` & co., answer it as they answer a local caller). Each actor is built at the first
    request to it (``lazy_actors``): a test reaches two or three of them."""
    from sandbox.app import create_sandbox_app

    with TestClient(create_sandbox_app(context, warm_packages=False, lazy_actors=True), base_url="http://sandbox.test",
                    client=("127.0.0.1", 50000)) as c:
        c.auth = ActorTokens()  # the EOJ's and the GP system's faces take tokens
        yield c
