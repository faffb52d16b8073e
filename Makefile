.PHONY: run test lint bench

# Install into .venv (first time) and start the whole sandbox with demo data.
run:
	@test -x .venv/bin/python || python3 -m venv .venv
	@.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
	.venv/bin/nsp-sandbox up

# Install with test extras and run the whole suite on SQLite and PostgreSQL.
test:
	./scripts/test.sh

lint:
	.venv/bin/ruff check .

bench:
	.venv/bin/python bench/dds.py
	.venv/bin/python bench/conformance.py
