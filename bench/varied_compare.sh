#!/usr/bin/env bash
# ../shared/peers/compare.sh with the HCO messages varied as a sender's are (bench/varied_load.py): the same two
# servers, the same settings (N, C, M, REPEAT, MEDPLUM_ARGS, NSP_SANDBOX, OUT, ...), the same table.
#
#   N=1000 C=8 M=200 REPEAT=2 MEDPLUM_ARGS=--validate-binary NSP_SANDBOX=$PWD/.venv/bin/nsp-sandbox \
#     bash bench/varied_compare.sh nsp medplum
#
# compare.sh runs the load.py beside it and gives the sandbox the fhir-packages beside its own folder. So this
# makes a throwaway folder holding links to compare.sh, the peer's setup and the packages, and a load.py that
# starts bench/varied_load.py, and runs compare.sh from there. Nothing is copied.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SHARED="$(cd "$HERE/../../shared" && pwd)"
PLACE="$(mktemp -d "${TMPDIR:-/tmp}/varied-compare.XXXXXX")"
trap 'rm -rf "$PLACE"' EXIT

mkdir "$PLACE/peers"
ln -s "$SHARED/peers/compare.sh" "$PLACE/peers/compare.sh"
ln -s "$SHARED/peers/medplum" "$PLACE/peers/medplum"
ln -s "${NSP_SANDBOX_FHIR_PACKAGES:-$SHARED/fhir-packages}" "$PLACE/fhir-packages"
cat > "$PLACE/peers/load.py" <<PY
import os, sys
os.execv(sys.executable, [sys.executable, "$HERE/varied_load.py", *sys.argv[1:]])
PY
bash "$PLACE/peers/compare.sh" "$@"
