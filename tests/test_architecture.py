"""The layout's rules, checked on the source itself: the library never imports the Dagster code location,
no two modules of `llmusage` import each other (directly or round a loop, function-local imports included),
no module is too long to hold in one's head, and every SQL file is named by the code that runs it (a grep
for the file finds its caller)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from llmusage.config import sql_dir
from llmusage.entities import KINDS, LITELLM_BUDGET_ONLY
from llmusage.lake.layout import DIM_TABLES
from support.db import ROOT

SRC = ROOT / "src"
MAX_LINES = 450
LOADED_BY_NAME = ("proxy", "reconcile", "reports", "sources", "ledger", "alerts", "retention")
"""The sql/ folders whose files are loaded one by one (migrations/ and warehouse/ are read as folders)."""
FLAVOURS = ("llmusage", "litellm")
LOADED_BY_PATTERN = {
    *(f"sources/{flavour}/dim_{table}.sql" for flavour in FLAVOURS for table in DIM_TABLES),
    *(f"sources/litellm/entities_{kind.label}.sql" for kind in KINDS),
    *(f"sources/litellm/entities_{label}.sql" for label in LITELLM_BUDGET_ONLY),
}
"""Loaded through a pattern: one query per dimension table and flavour (`lake/dims.py` loads
`sources/{flavour}/dim_{table}.sql`), and LiteLLM's entities per kind, budget-only kinds included
(`reconcile/snapshot.py`)."""
PER_FLAVOUR = ("spend_logs_range", "spend_logs_day_fingerprints", "spend_logs_span", "newest_spend_log",
               "spend_state", "status_over_budget", "status_spend_summary", "spend_logs_day_totals",
               "spend_logs_delete_batch")  # fmt: skip
"""Queries loaded by flavour (`sources/{flavour}/<name>.sql`): each flavour must have every one."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted((SRC / "llmusage").rglob("*.py"))}


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Every module named by an import anywhere in the file (top level or inside a function)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in known else base)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(path, name, known) & known for name, path in modules.items()}


def test_the_library_never_imports_pipelines() -> None:
    offenders = {
        name
        for name, path in _modules().items()
        if any(m == "pipelines" or m.startswith("pipelines.") for m in _imports(path, name, set()))
    }
    assert not offenders, f"src/llmusage imports the Dagster code location: {sorted(offenders)}"


def test_no_import_cycle_in_the_library() -> None:
    graph = _graph()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_no_module_is_too_long() -> None:
    long = {
        str(path.relative_to(ROOT)): n
        for path in (SRC / "llmusage").rglob("*.py")
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines (split them along what they do): {long}"


@pytest.mark.parametrize("folder", LOADED_BY_NAME)
def test_every_sql_file_is_named_by_its_caller(folder: str) -> None:
    code = "\n".join(path.read_text() for path in (SRC / "llmusage").rglob("*.py"))
    files = sorted(p.relative_to(sql_dir()).as_posix() for p in (sql_dir() / folder).rglob("*.sql"))
    assert files
    unnamed = [f for f in files if not _named(f, code) and f not in LOADED_BY_PATTERN]
    assert not unnamed, f"SQL files no code names (a grep for them finds no caller): {unnamed}"


def _named(path: str, code: str) -> bool:
    """The file's path is in the code, or, for a per-flavour query, its name is (`PER_FLAVOUR`)."""
    stem = Path(path).stem
    per_flavour = path.startswith("sources/") and stem in PER_FLAVOUR
    return f'"{path}"' in code or (per_flavour and (f'"{stem}"' in code or f'/{stem}.sql"' in code))


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_every_flavour_has_every_per_flavour_query(flavour: str) -> None:
    expected = {*PER_FLAVOUR, *(f"dim_{table}" for table in DIM_TABLES)}
    present = {p.stem for p in (sql_dir() / "sources" / flavour).glob("*.sql")}
    assert expected <= present, f"sources/{flavour} lacks {sorted(expected - present)}"
