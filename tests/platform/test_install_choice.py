"""``scripts/install.sh`` makes ``.venv`` with the fastest Python it finds, timing each candidate with
``scripts/interpreter_speed.py``: a moment's load on the machine while one candidate is timed must not decide."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _fake_python(folder: Path, first_ms: str, later_ms: str) -> Path:
    """A ``python3`` that answers as ``interpreter_speed.py`` does: ``first_ms`` the first time, then ``later_ms``."""
    calls = folder / "calls"
    fake = folder / "python3"
    fake.write_text(f"""#!/bin/sh
n=$(cat {calls} 2>/dev/null || echo 0); echo $((n + 1)) > {calls}
if [ "$n" = 0 ]; then ms={first_ms}; else ms={later_ms}; fi
echo "ok $ms {fake} 3.11.99"
""")
    fake.chmod(0o755)
    return fake


def _choose(path: str) -> subprocess.CompletedProcess[str]:
    script = 'set -euo pipefail; source <(sed -n "/^choose_python()/,/^}/p" scripts/install.sh); choose_python'
    return subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PATH": path}, check=True)


def test_a_candidate_timed_slow_once_is_still_chosen_when_it_is_the_fastest(tmp_path: Path) -> None:
    fake = _fake_python(tmp_path, "999.0", "0.1")  # slow while the machine was busy, then faster than any real one
    chosen = _choose(f"{tmp_path}:/usr/bin:/bin")
    assert chosen.stdout.strip() == str(fake)
    assert f"{fake} (3.11.99) 0.1 ms" in chosen.stderr
    assert int((tmp_path / "calls").read_text()) == 5  # five rounds, each candidate once per round


def test_a_candidate_fast_once_and_slow_after_keeps_its_best(tmp_path: Path) -> None:
    fake = _fake_python(tmp_path, "0.1", "999.0")
    chosen = _choose(f"{tmp_path}:/usr/bin:/bin")
    assert chosen.stdout.strip() == str(fake)
    assert f"{fake} (3.11.99) 0.1 ms" in chosen.stderr


def test_a_python_that_cannot_hold_the_venv_is_named_and_passed_over(tmp_path: Path) -> None:
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\necho 'no Python 3.9 is older than 3.11'\n")
    fake.chmod(0o755)
    chosen = _choose(f"{tmp_path}:/usr/bin:/bin")
    assert f"{fake}: Python 3.9 is older than 3.11" in chosen.stderr
    assert chosen.stdout.strip() != str(fake)
