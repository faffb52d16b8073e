.PHONY: run test lint bench

# FHIR packages: NSP_SANDBOX_FHIR_PACKAGES if set, else ../shared/fhir-packages when it exists; the
# standard cache ~/.fhir/packages is always read too, and declared packages missing from both are
# fetched into it from the FHIR package registry (NSP_SANDBOX_FHIR_REGISTRY) when the sandbox starts.
SHARED_PACKAGES := $(abspath ../shared/fhir-packages)
export NSP_SANDBOX_FHIR_PACKAGES ?= $(if $(wildcard $(SHARED_PACKAGES)),$(SHARED_PACKAGES),)

# Install into .venv (when its sources changed) and start the whole sandbox with demo data; URLs are printed.
run:
	@./scripts/install.sh
	.venv/bin/nsp-sandbox up

# Install with test extras and run the whole suite on SQLite and PostgreSQL.
test:
	./scripts/test.sh

lint:
	.venv/bin/ruff check .

bench:
	.venv/bin/python bench/dds.py
	.venv/bin/python bench/conformance.py
