"""Fixtures for the pytest plugin's tests: an ITI-65 Bundle built from the official examples, a sandbox
handle over the in-process sandbox, and how ``pytester`` runs load the plugin."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dds"))

from mhd_client import CPR, DR_EXAMPLE, HCO, XDSDOCUMENTS, Bundles, Examples, about

from nsp_sandbox.context import SandboxContext
from sandbox.pytest_plugin import Sandbox

ADMIN_TOKEN = "plugin-test-operator-token"
SOURCE = "system-eoj-aarhus"  # Aarhus Kommune's EOJ: provides documents
PATIENT = CPR  # Grethe KGBTest, listed at Skødstrup Lægepraksis (gp-skodstrup has a treatment relation)


@pytest.fixture(scope="session")
def provide_bundle(packages) -> Callable[[], dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Builds an ITI-65 transaction: one HCO message document about ``PATIENT``, fresh ids each time."""
    model = packages.get(*XDSDOCUMENTS)
    name, version, filename = HCO
    hco = about((packages.get(name, version).root / filename).read_bytes(), CPR)
    bundles = Bundles(Examples(model.load(DR_EXAMPLE), hco, b"", b""))
    return lambda: bundles.bundle((bundles.document_reference(cpr=PATIENT), hco), cpr=PATIENT)


@pytest.fixture
def operated(context: SandboxContext) -> SandboxContext:
    """The context with an operator's token set (the control face then answers only with it)."""
    context.settings = context.settings.model_copy(update={"admin_token": ADMIN_TOKEN})
    return context


@pytest.fixture
def sandbox(operated: SandboxContext) -> Iterator[Sandbox]:
    """The plugin's handle over the whole sandbox in process (as a caller on this machine)."""
    from sandbox.app import create_sandbox_app

    with TestClient(create_sandbox_app(operated, warm_packages=False), base_url="http://sandbox.test",
                    client=("127.0.0.1", 50000)) as http:
        yield Sandbox("http://sandbox.test", ADMIN_TOKEN, http=http)


@pytest.fixture
def vendor_pytester(pytester: pytest.Pytester) -> Iterator[pytest.Pytester]:
    """``pytester`` for runs in a subprocess (``runpytest_subprocess``), keeping the modules this process
    imported meanwhile. ``pytester`` drops them at its end, as its in-process runs need; but here they are
    the sandbox's own, imported by the sandbox served in this process, and importing them again in a
    later test would define their database tables twice."""
    yield pytester
    from _pytest.pytester import SysModulesSnapshot

    pytester._sys_modules_snapshot = SysModulesSnapshot()  # restored at pytester's end: nothing is dropped


def plugin_args() -> list[str]:
    """``-p`` for the plugin unless pytest loads it by itself from the installed entry point."""
    installed = any(ep.name == "nsp_sandbox" for ep in entry_points(group="pytest11"))
    autoload = not os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    return [] if installed and autoload else ["-p", "sandbox.pytest_plugin.plugin"]


def matches(response: Any) -> list[dict[str, Any]]:
    """The matched resources of an ITI-67 searchset."""
    assert response.status_code == 200, response.text
    return [e["resource"] for e in response.json().get("entry", []) if e["search"]["mode"] == "match"]
