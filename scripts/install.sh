#!/usr/bin/env bash
# Install nsp-sandbox into .venv (editable), with the extras given ("test" for the suite), unless the same
# install is already there: pip builds the package again at every install, and the build compiles the
# conformance engine (setup.py), which takes half a minute. .venv/.nsp-sandbox-installed records what
# the install was built from (pyproject.toml, setup.py, the conformance engine's sources) and its extras.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=${1:-}

# The Python .venv is made with: PYTHON if set; else the fastest of python3 on PATH and the system's python3
# that can hold it (scripts/interpreter_speed.py times each on a short run of the sandbox's kind of Python: one
# CPython release built two ways can differ by a third or more). The candidates are timed in turn, five rounds,
# and each keeps its best: a machine busy with something else for a moment (a package install beside this one)
# slows every candidate timed in that moment, not only the one timed first.
choose_python() {
  local candidate line round i best="" best_ms="" report="" ms
  local -a fit=() fit_ms=() fit_version=()
  for candidate in "$(command -v python3 || true)" /usr/bin/python3 /usr/local/bin/python3; do
    [ -n "$candidate" ] && [ -x "$candidate" ] || continue
    line=$("$candidate" scripts/interpreter_speed.py 2>/dev/null) || continue
    set -- $line
    if [ "$1" != ok ]; then
      echo "    $candidate: ${line#no }" >&2
      continue
    fi
    case " ${fit[*]} " in *" $3 "*) continue ;; esac
    fit+=("$3") fit_ms+=("$2") fit_version+=("$4")
  done
  for round in 2 3 4 5; do
    for i in "${!fit[@]}"; do
      line=$("${fit[$i]}" scripts/interpreter_speed.py 2>/dev/null) || continue
      set -- $line
      [ "$1" = ok ] || continue
      if awk -v a="$2" -v b="${fit_ms[$i]}" 'BEGIN { exit !(a < b) }'; then fit_ms[$i]=$2; fi
    done
  done
  for i in "${!fit[@]}"; do
    ms=${fit_ms[$i]}
    report="$report, ${fit[$i]} (${fit_version[$i]}) $ms ms"
    if [ -z "$best" ] || awk -v a="$ms" -v b="$best_ms" 'BEGIN { exit !(a < b) }'; then
      best=${fit[$i]} best_ms=$ms
    fi
  done
  [ -n "$report" ] && echo "    timed: ${report#, }; PYTHON=... chooses another" >&2
  echo "${best:-python3}"
}

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  PY=${PYTHON:-$(choose_python)}
  echo "    with $PY"
  "$PY" -m venv .venv
fi
# What the install was built from (the extras apart: an install with the test extras serves a plain one too).
stamp=$( { cat pyproject.toml setup.py; find nsp_sandbox/conformance -name '*.py' | sort | xargs cat; } \
        | sha256sum | cut -d' ' -f1)
built="" built_extras=""
[ -f .venv/.nsp-sandbox-installed ] && read -r built built_extras < .venv/.nsp-sandbox-installed
if [ "${built:-}" = "$stamp" ] && { [ -z "$extras" ] || [ "$extras" = "${built_extras:-}" ]; } \
   && .venv/bin/python -c 'import nsp_sandbox' 2>/dev/null; then
  echo "==> nsp-sandbox${extras:+[$extras]} is installed in .venv, built from these sources"
  exit 0
fi
echo "==> installing nsp-sandbox${extras:+[$extras]} into .venv; the build compiles the conformance engine (half a minute)"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
started=$SECONDS
( while sleep 15; do echo "    ... $(( SECONDS - started )) s"; done ) &
ticker=$!
trap 'kill $ticker 2>/dev/null || true' EXIT
.venv/bin/python -m pip install -qq --disable-pip-version-check -e ".${extras:+[$extras]}"
kill $ticker 2>/dev/null || true
echo "$stamp $extras" > .venv/.nsp-sandbox-installed
echo "==> installed in $(( SECONDS - started )) s; conformance engine: $(.venv/bin/python -c \
  'import nsp_sandbox.conformance.compiled as c; print(c.state)')"
