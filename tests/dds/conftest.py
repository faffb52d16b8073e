"""Fixtures for the DDS tests: the official examples, and an IHE MHD client over the sandbox."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from mhd_client import CONDITION_LIST, CPR, DR_EXAMPLE, HCO, NOTES, XDSDOCUMENTS, Examples, Mhd, about

from nsp_sandbox.config import Strictness
from nsp_sandbox.context import SandboxContext


@pytest.fixture(scope="session")
def examples(packages) -> Examples:  # type: ignore[no-untyped-def]
    """The official example documents, each about the patient ``CPR``."""
    def raw(name: str, version: str, filename: str) -> bytes:
        package = packages.get(name, version)
        assert package is not None, f"{name}#{version} is not loaded"
        return about((package.root / filename).read_bytes(), CPR)

    model = packages.get(*XDSDOCUMENTS)
    assert model is not None
    return Examples(copy.deepcopy(model.load(DR_EXAMPLE)), raw(*HCO), raw(*CONDITION_LIST), raw(*NOTES))


@pytest.fixture
def mhd(client: TestClient, examples: Examples) -> Mhd:
    return Mhd(client, examples)


@pytest.fixture
def lenient_context(context: SandboxContext) -> Iterator[SandboxContext]:
    """The context with profile validation and Danish metadata rules switched off."""
    original = context.settings
    context.settings = original.model_copy(update={
        "validation_profile": Strictness.OFF, "dds_rules_patient": Strictness.OFF,
        "dds_rules_codes": Strictness.OFF, "dds_rules_metadata": Strictness.OFF,
        "dds_rules_author": Strictness.OFF})
    yield context
    context.settings = original
