"""Conformance runs against a vendor's system: suites, their cases, runs and reports (docs/runs.md)."""
