#!/usr/bin/env bash
# Install the project with its test extras into .venv and run the whole test suite,
# on SQLite and on PostgreSQL. PostgreSQL comes from, in this order:
#   1. NSP_SANDBOX_TEST_POSTGRES_URL, if set;
#   2. a server already answering on 127.0.0.1:5432;
#   3. a throwaway cluster started with pg_createcluster (Debian's postgresql-common), removed afterwards.
# Without any of them the PostgreSQL runs are skipped, and the test report says so; under CI (CI set)
# they fail instead, naming what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install.sh test

# The official FHIR packages the tests read: ../shared/fhir-packages when it is there, else the declared
# packages fetched from the FHIR package registry (NSP_SANDBOX_FHIR_REGISTRY) into .fhir-packages/.
if [ -z "${NSP_SANDBOX_TEST_FHIR_PACKAGES:-}" ]; then
  if [ -d ../shared/fhir-packages ]; then
    export NSP_SANDBOX_TEST_FHIR_PACKAGES="$(cd ../shared/fhir-packages && pwd)"
  else
    echo "==> FHIR packages: no ../shared/fhir-packages; fetching the declared packages into .fhir-packages/"
    .venv/bin/nsp-sandbox packages ensure --into .fhir-packages
    export NSP_SANDBOX_TEST_FHIR_PACKAGES="$PWD/.fhir-packages"
  fi
fi
echo "==> FHIR packages: $NSP_SANDBOX_TEST_FHIR_PACKAGES"

cleanup=""
if [ -z "${NSP_SANDBOX_TEST_POSTGRES_URL:-}" ]; then
  if command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432 -t 2; then
    export NSP_SANDBOX_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:5432/postgres"
    echo "==> PostgreSQL: using the server on 127.0.0.1:5432"
  elif command -v pg_createcluster >/dev/null 2>&1; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -n1)
    port=${NSP_SANDBOX_TEST_POSTGRES_PORT:-54329}
    cluster="nsptest$$"
    echo "==> PostgreSQL: starting throwaway cluster $version/$cluster on port $port"
    pg_createcluster "$version" "$cluster" --port "$port" --start -- --auth=trust >/dev/null
    cleanup="pg_dropcluster --stop $version $cluster"
    export NSP_SANDBOX_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$port/postgres"
  else
    echo "==> PostgreSQL: none found and pg_createcluster unavailable; PostgreSQL tests will be SKIPPED (and fail when CI is set)"
  fi
fi
trap '[ -n "$cleanup" ] && $cleanup || true' EXIT

if [ -x /usr/bin/chromium ]; then
  echo "==> browser tests: /usr/bin/chromium"
else
  echo "==> browser tests: /usr/bin/chromium missing; they are SKIPPED (and fail when CI is set)"
fi

echo "==> ruff"
.venv/bin/ruff check .
# Wall-clock assertions first, while nothing else runs; then the rest in parallel.
echo "==> pytest: timing tests, alone on the machine"
set +e
.venv/bin/python -m pytest -q -m timing "$@"
status=$?
set -e
if [ $status -ne 0 ] && [ $status -ne 5 ]; then  # 5: the arguments selected no timing test
  exit $status
fi
# One worker more than the machine's cores: several tests wait on processes of their own (a served sandbox,
# nsp-sandbox up, kill -9), and work stealing keeps the long tests at the end from leaving a core idle.
workers=${NSP_SANDBOX_TEST_WORKERS:-$(( $(nproc 2>/dev/null || echo 2) + 1 ))}
echo "==> pytest: everything else, $workers workers"
set +e
.venv/bin/python -m pytest -n "$workers" --dist worksteal -m "not timing" "$@"
status=$?
set -e
exit $status  # (not exec: the EXIT trap removes a throwaway PostgreSQL cluster)
