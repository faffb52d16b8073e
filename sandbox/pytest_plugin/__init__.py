"""A pytest plugin for vendors' test suites: a sandbox per run or per test, its clock, fault switches,
world and tokens, and ready clients of its actors (``docs/ci.md``). The hooks and fixtures are in
:mod:`sandbox.pytest_plugin.plugin` (entry point ``pytest11``: ``nsp_sandbox``); the names a test uses
for type hints are here."""

from sandbox.pytest_plugin.clients import GpInbox, HcoSender, Mhd
from sandbox.pytest_plugin.errors import SandboxError
from sandbox.pytest_plugin.handle import Sandbox

__all__ = ["GpInbox", "HcoSender", "Mhd", "Sandbox", "SandboxError"]
