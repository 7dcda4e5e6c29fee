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


def test_every_module_stays_under_400_lines():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text("utf-8").splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {name: n for name, n in sizes.items() if n >= 400} == {}


# The layers, lowest first: a module may import its own layer and those below it, never above.
# The bottom (errors, files, jsontext and core/) is what every layer shares. docs/architecture.md
# says what each owns.
LAYERS = [
    {"scmapper", "scmapper.errors", "scmapper.files", "scmapper.jsontext", "scmapper.core"},
    {"scmapper.store"},
    {"scmapper.mapping"},
    {"scmapper.sources"},
    {"scmapper.lifecycle"},
    {"scmapper.export"},
    {"scmapper.migration"},
    {"scmapper.authoring"},
    {"scmapper.cli"},
]


def layer_of(module):
    parts = module.split(".")
    for depth in (2, 1):
        name = ".".join(parts[:depth])
        for index, layer in enumerate(LAYERS):
            if name in layer:
                return index
    raise AssertionError(f"{module} is in no layer: add its package to LAYERS")


def every_import(path):
    """The scmapper modules a module imports anywhere (inside functions too)."""
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("scmapper"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("scmapper"))
    return found


def test_no_layer_imports_one_above_it():
    crossings = []
    for path in PACKAGE.rglob("*.py"):
        importer = module_name(path)
        if importer == "scmapper.__main__":
            continue  # `python -m scmapper`: the command itself
        for target in every_import(path):
            if layer_of(target) > layer_of(importer):
                crossings.append(f"{importer} -> {target}")
    assert sorted(crossings) == []


def test_the_package_reads_as_its_architecture():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 5, top
    packages = [p for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()]
    assert len(packages) >= 5
    for package in packages:
        doc = ast_docstring(package / "__init__.py")
        assert doc and "never" in doc.lower(), f"{package.name}/__init__.py must say what it owns and never does"


def ast_docstring(path):
    import ast

    return ast.get_docstring(ast.parse(path.read_text("utf-8")))
