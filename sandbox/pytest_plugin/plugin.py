"""The pytest plugin (entry point ``pytest11``: ``nsp_sandbox``): a sandbox for a vendor's tests.

Fixtures:

* ``nsp_sandbox`` (session): ``nsp-sandbox up`` started once for the run on a free port with its own
  data directory, SQLite database and clock — or, with ``--nsp-sandbox-url URL`` (``NSP_SANDBOX_URL``),
  a sandbox already running (a CI service), waited for until ready;
* ``nsp_sandbox_per_test`` (function): a sandbox of its own for one test (started, then stopped); with
  a URL, the running one emptied by ``reset()`` first. Either way the clock is back to real time and
  every fault switch off at its end.

Options: ``--nsp-sandbox-url``, ``--nsp-sandbox-keep`` (leave started sandboxes running); ini
``nsp_sandbox_world`` (world files loaded at start through ``/sandbox/world``), ``nsp_sandbox_database_url``
(``NSP_SANDBOX_DATABASE_URL`` overrides it), ``nsp_sandbox_demo``, ``nsp_sandbox_start_timeout``. The
operator's token is ``NSP_SANDBOX_ADMIN_TOKEN`` (a started sandbox gets a fresh one without it). When
a test fails, the part of a started sandbox's log written meanwhile is shown with it.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sandbox.pytest_plugin.errors import SandboxError
from sandbox.pytest_plugin.handle import Sandbox
from sandbox.pytest_plugin.process import SandboxProcess, SandboxStartError, StartOptions, wait_ready

SESSION, PER_TEST = "nsp_sandbox", "nsp_sandbox_per_test"
LOG_OFFSETS = pytest.StashKey[list[tuple[Sandbox, int]]]()
KEPT = pytest.StashKey[list[Sandbox]]()


@dataclass(frozen=True)
class PluginSettings:
    url: str | None
    keep: bool
    world_files: tuple[Path, ...]
    database_url: str | None
    demo: bool
    timeout: float
    admin_token: str | None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nsp-sandbox", "nsp-sandbox: the sandbox of the Danish health-data infrastructure")
    group.addoption("--nsp-sandbox-url", metavar="URL", default=None,
                    help="use the sandbox already running at URL (default: env NSP_SANDBOX_URL; without "
                         "either, the fixtures start nsp-sandbox up themselves)")
    group.addoption("--nsp-sandbox-keep", action="store_true", default=False,
                    help="leave the sandboxes the fixtures started running at the end (their URLs are printed)")
    parser.addini("nsp_sandbox_world", type="paths", default=[],
                  help="world files (YAML, or JSON by .json) loaded through /sandbox/world at start and after reset()")
    parser.addini("nsp_sandbox_database_url", default="",
                  help="database of the started sandboxes (env NSP_SANDBOX_DATABASE_URL wins; default: SQLite "
                       "in each one's own data directory)")
    parser.addini("nsp_sandbox_demo", type="bool", default=False,
                  help="start with the demo data (default: an empty sandbox)")
    parser.addini("nsp_sandbox_start_timeout", default="120", help="seconds to wait for a sandbox to be ready")


def plugin_settings(config: pytest.Config) -> PluginSettings:
    url = config.getoption("nsp_sandbox_url") or os.environ.get("NSP_SANDBOX_URL") or None
    timeout = str(config.getini("nsp_sandbox_start_timeout"))
    try:
        seconds = float(timeout)
    except ValueError:
        raise pytest.UsageError(f"nsp_sandbox_start_timeout: {timeout!r} is not a number of seconds") from None
    return PluginSettings(
        url=url.rstrip("/") if url else None,
        keep=bool(config.getoption("nsp_sandbox_keep")),
        world_files=tuple(Path(p) for p in config.getini("nsp_sandbox_world")),
        database_url=os.environ.get("NSP_SANDBOX_DATABASE_URL") or str(config.getini("nsp_sandbox_database_url"))
        or None,
        demo=bool(config.getini("nsp_sandbox_demo")),
        timeout=seconds,
        admin_token=os.environ.get("NSP_SANDBOX_ADMIN_TOKEN") or None,
    )


def _connect(settings: PluginSettings, url: str) -> Sandbox:
    try:
        wait_ready(url, settings.timeout)
    except SandboxStartError as exc:
        pytest.fail(f"--nsp-sandbox-url: {exc}", pytrace=False)
    sandbox = Sandbox(url, settings.admin_token, world_files=settings.world_files)
    try:
        sandbox.load_world_files()
    except (SandboxError, OSError) as exc:
        sandbox.close()
        pytest.fail(f"nsp_sandbox_world: {exc}", pytrace=False)
    return sandbox


def _start(settings: PluginSettings, factory: pytest.TempPathFactory) -> Sandbox:
    data_dir = Path(tempfile.mkdtemp(prefix="nsp-sandbox-")) if settings.keep else factory.mktemp("nsp-sandbox")
    admin_token = settings.admin_token or secrets.token_urlsafe(24)
    process = SandboxProcess(StartOptions(data_dir, admin_token, settings.database_url, settings.demo,
                                          settings.timeout))
    try:
        process.start()
    except SandboxStartError as exc:
        pytest.fail(str(exc), pytrace=False)
    sandbox = Sandbox(process.url, admin_token, process=process, world_files=settings.world_files)
    try:
        if settings.database_url and not settings.demo:  # a database other runs may have used: start empty
            _baseline(sandbox)
        else:
            sandbox.load_world_files()
    except Exception as exc:  # the world file refused, or the sandbox gone: stop it, say why, show its log
        sandbox.close()
        process.stop()
        pytest.fail(f"nsp-sandbox at {process.url}: {exc}\n--- its log ---\n{process.log_since(0)}", pytrace=False)
    return sandbox


def _baseline(sandbox: Sandbox) -> None:
    """Empty, with the configured world, the clock on real time and every fault switch off."""
    sandbox.reset()
    _clock_and_faults_back(sandbox)


def _clock_and_faults_back(sandbox: Sandbox) -> None:
    sandbox.clock.reset()
    sandbox.faults.off_all()


def _stop(sandbox: Sandbox, config: pytest.Config, keep: bool) -> None:
    sandbox.close()
    if sandbox.process is None:
        return
    if keep:
        config.stash.setdefault(KEPT, []).append(sandbox)
    else:
        sandbox.process.stop()


@pytest.fixture(scope="session")
def nsp_sandbox(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """One sandbox for the whole run: started (own port, data directory, database, clock), or the one at
    ``--nsp-sandbox-url``."""
    settings = plugin_settings(request.config)
    sandbox = _connect(settings, settings.url) if settings.url else _start(settings, tmp_path_factory)
    try:
        yield sandbox
    finally:
        _stop(sandbox, request.config, settings.keep)


@pytest.fixture
def nsp_sandbox_per_test(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A sandbox for this test alone: started for it and stopped after; with ``--nsp-sandbox-url``, the
    running one emptied (``reset()``), on real time and with every fault switch off. At the end the clock
    is back to real time and every fault switch off."""
    settings = plugin_settings(request.config)
    if settings.url:
        sandbox: Sandbox = request.getfixturevalue(SESSION)
        _baseline(sandbox)
        yield sandbox
        _clock_and_faults_back(sandbox)
        return
    sandbox = _start(settings, tmp_path_factory)
    try:
        yield sandbox
        _clock_and_faults_back(sandbox)
    finally:
        _stop(sandbox, request.config, settings.keep)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing test shows what its started sandboxes logged while it ran (a per-test one: all of it)."""
    report: pytest.TestReport = yield  # type: ignore[misc]
    funcargs = getattr(item, "funcargs", {})
    if call.when == "setup":
        item.stash[LOG_OFFSETS] = [
            (value, 0 if name == PER_TEST else value.process.log_size())
            for name, value in funcargs.items()
            if name in (SESSION, PER_TEST) and isinstance(value, Sandbox) and value.process is not None]
    elif report.failed:
        for sandbox, offset in item.stash.get(LOG_OFFSETS, []):
            text = sandbox.log_since(offset).strip()
            report.sections.append((f"nsp-sandbox log ({sandbox.url})", text or "(nothing logged during the test)"))
    return report  # type: ignore[return-value]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    for sandbox in config.stash.get(KEPT, []):
        process = sandbox.process
        assert process is not None
        terminalreporter.write_line(
            f"nsp-sandbox left running at {sandbox.url} (pid {process.pid}, data {process.options.data_dir}, "
            f"admin token {sandbox.admin_token}); stop it with: kill {process.pid}")
