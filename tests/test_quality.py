"""The project holds its own code to the rules in pyproject.toml: ruff (with bugbear and the
security rules) and mypy on the package."""

import subprocess
import sys

from conftest import ROOT


def run(*args):
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff():
    done = run("ruff", "check", "scmapper", "tests", "tools", "benchmarks")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy():
    done = run("mypy")
    assert done.returncode == 0, done.stdout + done.stderr


# --- the package's shape (docs: ../shared/design/architecture.md) ------------------------------

PACKAGE = ROOT / "scmapper"


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def load_time_imports(path):
    """The scmapper modules a module imports as it loads: its top-level imports, not those inside
    functions (deferred on purpose) or under `if TYPE_CHECKING:`."""
    import ast

    found = set()
    for node in ast.parse(path.read_text("utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("scmapper"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("scmapper"))
    return found


def test_no_import_cycle():
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: {m for m in load_time_imports(path) if m in modules and m != name} for name, path in modules.items()}
    # A package's __init__ loads before its modules: importing scmapper.store.x imports scmapper.store.
    for name in modules:
        parent = name.rpartition(".")[0]
        for importer, targets in graph.items():
            if name in targets and parent in modules and parent != importer and not importer.startswith(parent + "."):
                targets.add(parent)
    cycles, state = [], {}

    def visit(node, trail):
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(trail[trail.index(target) :] + [target])
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_only_the_store_touches_sqlite():
    outside = [
        str(path.relative_to(ROOT))
        for path in PACKAGE.rglob("*.py")
        if "store" not in path.relative_to(PACKAGE).parts
        and any(marker in path.read_text("utf-8") for marker in ("import sqlite3", ".execute(", ".executemany("))
    ]
    assert outside == []


def test_store_modules_and_the_export_pipeline_stay_small():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text("utf-8").splitlines()) for p in PACKAGE.glob("store/*.py")}
    sizes["scmapper/export.py"] = len((PACKAGE / "export.py").read_text("utf-8").splitlines())
    assert {name: n for name, n in sizes.items() if n >= 300} == {}
