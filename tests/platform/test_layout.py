"""The house rules, checked from the code's own imports and definitions (``ast``, nothing is run):

* the platform (``nsp_sandbox``) imports no actor (``services``) and not the composition root
  (``sandbox``); no actor imports the composition root; an actor reaches another actor only over
  HTTP, never by importing its modules;
* no module imports itself around a loop (any import: top level, in a function, or for typing);
* no source file is over 500 lines and no function over 80 lines.

Run it as a script to see the figures: ``.venv/bin/python tests/platform/test_layout.py``.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("nsp_sandbox", "sandbox", "services")
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = list(path.relative_to(REPO).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports (resolved to the longest known module name)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    wanted: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            wanted.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            wanted.update(f"{base}.{alias.name}" for alias in node.names)
            wanted.add(base)
    resolved: set[str] = set()
    for target in wanted:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name and not name.startswith(target + "."):
            resolved.add(target)
    return resolved


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(name, path, known) for name, path in known.items()}


def actor_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "services" and len(parts) > 1 else None


def wrong_way_imports(edges: dict[str, set[str]]) -> list[str]:
    wrong = []
    for source, targets in sorted(edges.items()):
        for target in sorted(targets):
            top, target_top = source.split(".")[0], target.split(".")[0]
            if top == "nsp_sandbox" and target_top in ("services", "sandbox"):
                wrong.append(f"platform {source} imports {target}")
            elif top == "services" and target_top == "sandbox":
                wrong.append(f"actor {source} imports the composition root ({target})")
            elif top == "services" and target_top == "services" and actor_of(source) != actor_of(target):
                wrong.append(f"actor {source} imports another actor's {target}")
    return wrong


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def long_files() -> list[str]:
    return [f"{path.relative_to(REPO)}: {n} lines" for path in modules().values()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_FILE_LINES]


def functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def long_functions() -> list[str]:
    out = []
    for path in modules().values():
        for node in functions(ast.parse(path.read_text(encoding="utf-8"))):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - first + 1
            if length > MAX_FUNCTION_LINES:
                out.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}: {length} lines")
    return out


def test_imports_run_one_way() -> None:
    assert wrong_way_imports(graph()) == []


def test_no_import_loops() -> None:
    assert cycles(graph()) == []


def test_no_file_over_500_lines() -> None:
    assert long_files() == []


def test_no_function_over_80_lines() -> None:
    assert long_functions() == []


if __name__ == "__main__":
    edges = graph()
    for title, rows in (("imports the wrong way", wrong_way_imports(edges)),
                        ("import loops", [" -> ".join(c) for c in cycles(edges)]),
                        (f"files over {MAX_FILE_LINES} lines", long_files()),
                        (f"functions over {MAX_FUNCTION_LINES} lines", long_functions())):
        print(f"{title}: {len(rows)}")
        for row in rows:
            print(f"  {row}")
