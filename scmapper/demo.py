"""`demo`: the main job on the bundled samples, end to end, printing what it wrote."""

from __future__ import annotations

import sys
from contextlib import closing
from pathlib import Path

from scmapper import runner
from scmapper.errors import UsageError
from scmapper.export import run_export
from scmapper.loading import load_rules
from scmapper.store import Store
from scmapper.validation import validate


def run_demo(mapping_path: Path, events_path: Path, out: Path) -> int:
    for path in (mapping_path, events_path):
        if not path.exists():
            raise UsageError(f"{path} not found: run the demo from the project root, or name the files")
    problems = validate(mapping_path)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"{mapping_path}: valid")
    rules = load_rules(mapping_path)
    out.mkdir(parents=True, exist_ok=True)
    db = out / "spendcloud.db"
    # A fresh database each run; the previous demo's files stay until the export replaces them.
    for stale in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        stale.unlink(missing_ok=True)
    failed = 0
    with closing(Store(db)) as store:
        mapping = rules.mapping
        store.prepare(mapping.key, mapping.column_names, mapping.unique, mapping.role_column_names,
                      mapping.fingerprint)
        print(f"\nApplying {events_path} to {db}:")
        for line in events_path.read_bytes().splitlines():
            if not line.strip():
                continue
            result, code = runner.run_event(line, rules, store)
            failed += code != 0
            for entry in result["auditLogs"]:
                print(f"  {result['action']:<8} {result['accountReference'] or '-':<8} {entry['message']}")
        _print_tables(store, mapping.column_names, mapping.role_column_names)
        outcome = run_export(mapping, store, out, check=False, force=False)
    print(f"\nExporting active persons to {out}:")
    print("\n".join(f"  {line}" for line in outcome.text))
    if outcome.status == "written":
        print("\nFiles for Spend Cloud:")
        for item in outcome.report["files"]:
            print(f"  {item['path']}")
    return 0 if failed == 0 and outcome.exit_code == 0 else 1


def _print_tables(store: Store, columns: tuple[str, ...], role_columns: tuple[str, ...]) -> None:
    persons = store.all_persons()
    print(f"\npersons ({len(persons)} rows):")
    _table(["active", *columns], [["yes" if p.active else "no", *p.row.values()] for p in persons])
    roles = [[*role.values()] for p in persons for role in p.roles]
    print(f"\nroles ({len(roles)} rows):")
    _table(list(role_columns), roles)
    sys.stdout.flush()


def _table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    for line in [header, *rows]:
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
