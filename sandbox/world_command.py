"""``nsp-sandbox up --world FILE``: a vendor's world file (YAML, or JSON by its ``.json`` suffix) posted to
the sandbox's own ``POST /sandbox/world`` once it answers, before it says it is ready."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx2 as httpx

JSON_SUFFIXES = (".json",)


def load_world_file(path: Path, origin: str, token: str | None, report: Callable[[str], object]) -> str | None:
    """Post ``path`` to ``{origin}/sandbox/world``; None when loaded, else what is missing (reported)."""
    content_type = "application/json" if path.suffix.lower() in JSON_SUFFIXES else "application/yaml"
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = httpx.post(f"{origin}/sandbox/world", content=path.read_bytes(), headers=headers, timeout=120)
    except (OSError, httpx.HTTPError) as exc:
        report(f"World file {path}: not loaded ({type(exc).__name__}: {exc})")
        return f"the world file {path}"
    if response.status_code == 200:
        loaded = response.json()["loaded"]
        report(f"World file {path} loaded: " + ", ".join(f"{n} {name}" for name, n in loaded.items() if n))
        return None
    report(f"World file {path}: refused (HTTP {response.status_code}):")
    try:
        issues = response.json().get("issue", [])
    except ValueError:
        issues = [{"diagnostics": response.text[:500]}]
    for issue in issues:
        where = ", ".join(issue.get("expression", [])) or "-"
        report(f"  {where}: {issue.get('diagnostics', '')}")
    return f"the world file {path}"
