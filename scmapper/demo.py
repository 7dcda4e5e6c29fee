"""`demo`: the main job on the bundled samples, end to end, printing what it wrote.

First the HelloID path (lifecycle events applied one by one, then the export), then
every starter mapping that ships samples: sync its snapshot, export, and a line per
source system. Starters run on the date their test cases name, so the output is the
same every day.
"""

from __future__ import annotations

import sys
from contextlib import closing
from datetime import date
from pathlib import Path

from scmapper import inputs, runner, testing, yamlio
from scmapper.errors import UsageError
from scmapper.export import Outcome, run_export
from scmapper.loading import load_rules
from scmapper.rules import Rules
from scmapper.store import Store
from scmapper.sync import run_sync
from scmapper.validation import validate


def run_demo(mapping_path: Path, events_path: Path, out: Path) -> int:
    for path in (mapping_path, events_path):
        if not path.exists():
            raise UsageError(f"{path} not found: run the demo from the project root, or name the files")
    failed = _helloid(mapping_path, events_path, out / "helloid")
    starters = _starters(mapping_path.parent)
    if starters:
        print("\nSource systems (sync of each starter's samples, then export):")
        print(f"  {'system':<16}{'persons':>8}{'roles':>7}{'rejected':>10}  files")
    for starter, samples in starters:
        failed |= _starter(starter, samples, out / starter.stem)
    return 1 if failed else 0


def _helloid(mapping_path: Path, events_path: Path, out: Path) -> bool:
    rules = _validated(mapping_path)
    if rules is None:
        return True
    with closing(_fresh_store(out, rules)) as store:
        print(f"\nApplying {events_path} to {out / 'spendcloud.db'}:")
        failed = False
        for line in events_path.read_bytes().splitlines():
            if line.strip():
                result, code = runner.run_event(line, rules, store)
                failed |= code != 0
                for entry in result["auditLogs"]:
                    print(f"  {result['action']:<8} {result['accountReference'] or '-':<8} {entry['message']}")
        _print_tables(store, rules.mapping.column_names, rules.mapping.role_column_names)
        outcome = run_export(rules.mapping, store, out, check=False, force=False)
    print(f"\nExporting active persons to {out}:")
    print("\n".join(f"  {line}" for line in outcome.text))
    _print_files(outcome)
    return failed or outcome.exit_code != 0


def _starters(folder: Path) -> list[tuple[Path, list[Path]]]:
    """(mapping, sample files) for every mapping with a samples/<name>/ folder."""
    found = []
    for mapping in sorted(folder.glob("*.yaml")):
        samples = folder / "samples" / mapping.stem
        files = sorted(p for p in samples.glob("*.json")) if samples.is_dir() and mapping.stem != "spendcloud" else []
        if files and not mapping.name.endswith(".tests.yaml"):
            found.append((mapping, files))
    return found


def _starter(mapping_path: Path, samples: list[Path], out: Path) -> bool:
    rules = _validated(mapping_path, quiet=True)
    if rules is None:
        return True
    source = rules.mapping.source
    # Each sample file is named after its input (T4E_HelloID_Users_v2.json, users.2.json).
    snapshot = inputs.read(source, inputs.assign(source, [str(p) for p in samples]))
    with closing(_fresh_store(out, rules)) as store:
        report = run_sync(rules, store, snapshot, dry_run=False, today=_cases_today(mapping_path))
        outcome = run_export(rules.mapping, store, out, check=False, force=False)
    files = ", ".join(f["path"] for f in outcome.report["files"])
    counts = outcome.report["counts"]
    print(f"  {mapping_path.stem:<16}{counts['persons']:>8}{counts['roles']:>7}{report.counts['failed']:>10}  {files}")
    for failure in report.failures:
        print(f"  {'':<16}rejected {failure['origin']} (key {failure['key'] or '?'}): {failure['reason']}")
    return outcome.exit_code != 0


def _cases_today(mapping: Path) -> date | None:
    cases = testing.cases_path(mapping)
    if not cases.exists():
        return None
    data = yamlio.load_bytes(cases.read_bytes(), str(cases)).data
    return date.fromisoformat(data["today"]) if isinstance(data, dict) and data.get("today") else None


def _validated(mapping: Path, *, quiet: bool = False) -> Rules | None:
    problems = validate(mapping)
    for problem in problems:
        print(problem)
    if any(p.severity != "warning" for p in problems):
        return None
    if not quiet:
        print(f"{mapping}: valid")
    return load_rules(mapping)


def _fresh_store(out: Path, rules: Rules) -> Store:
    """A new database in out each run; the previous run's files stay until the export replaces them."""
    out.mkdir(parents=True, exist_ok=True)
    db = out / "spendcloud.db"
    for stale in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        stale.unlink(missing_ok=True)
    store = Store(db)
    mapping = rules.mapping
    store.prepare(mapping.key, mapping.column_names, mapping.unique, mapping.role_column_names, mapping.fingerprint)
    return store


def _print_tables(store: Store, columns: tuple[str, ...], role_columns: tuple[str, ...]) -> None:
    persons = store.all_persons()
    print(f"\npersons ({len(persons)} rows):")
    _table(["active", *columns], [["yes" if p.active else "no", *p.row.values()] for p in persons])
    roles = [[*role.values()] for p in persons for role in p.roles]
    print(f"\nroles ({len(roles)} rows):")
    _table(list(role_columns), roles)
    sys.stdout.flush()


def _print_files(outcome: Outcome) -> None:
    if outcome.status == "written":
        print("\nFiles for Spend Cloud:")
        for item in outcome.report["files"]:
            print(f"  {item['path']}")


def _table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    for line in [header, *rows]:
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
