"""`demo`: the main job on the bundled samples, end to end, printing what it wrote.

First the HelloID path (lifecycle events applied one by one, then the export), then
each starter scmapper ships (STARTERS, named here: a customer's own mapping and samples
beside them are not the demo's business): sync its snapshot, export, and a line per
source system. Starters run on the date their test cases name, so the output is the
same every day. The samples hold records *broken on purpose* (the starter's test cases
expect them to fail); the demo names them, and fails on any other rejection.
"""

from __future__ import annotations

import sys
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

from scmapper.authoring import cases as testing
from scmapper.authoring.validation import validate
from scmapper.errors import UsageError
from scmapper.export.pipeline import ExportReport, run_export
from scmapper.lifecycle import runner
from scmapper.lifecycle.sync import run_sync
from scmapper.mapping import yamlio
from scmapper.mapping.loading import load_rules
from scmapper.mapping.rules import Rules
from scmapper.sources import inputs
from scmapper.store import Shape, Store

STARTERS = ("afas", "raet", "adp", "successfactors", "entra", "ad")


def run_demo(mapping_path: Path, events_path: Path, out: Path) -> int:
    for path in (mapping_path, events_path):
        if not path.exists():
            raise UsageError(f"{path} not found: name an existing file, or leave --mapping and --events out")
    failed = _helloid(mapping_path, events_path, out / "helloid")
    starters = _starters(mapping_path.parent)
    if starters:
        print("\nSource systems (sync of each starter's samples, then export). The samples hold records broken")
        print("on purpose (the starter's test cases expect them to fail), to show how a bad record is reported:")
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
    print("\n".join(f"  {line}" for line in outcome.text()))
    _print_files(outcome)
    return failed or outcome.exit_code != 0


def _starters(folder: Path) -> list[tuple[Path, list[Path]]]:
    """(mapping, sample files) of each starter scmapper ships that is in `folder`."""
    found = []
    for name in STARTERS:
        mapping, samples = folder / f"{name}.yaml", folder / "samples" / name
        files = sorted(samples.glob("*.json")) if samples.is_dir() else []
        if mapping.is_file() and files:
            found.append((mapping, files))
    return found


def _starter(mapping_path: Path, samples: list[Path], out: Path) -> bool:
    rules = _validated(mapping_path, quiet=True)
    if rules is None:
        return True
    cases = _cases(mapping_path)
    source = rules.mapping.source
    # Each sample file is named after its input (T4E_HelloID_Users_v2.json, users.2.json).
    snapshot = inputs.read(source, inputs.assign(source, [str(p) for p in samples]))
    today = date.fromisoformat(cases["today"]) if cases.get("today") else None
    with closing(_fresh_store(out, rules)) as store:
        report = run_sync(rules, store, snapshot, dry_run=False, today=today)
        outcome = run_export(rules.mapping, store, out, check=False, force=False)
    files = ", ".join(f["path"] for f in outcome.files)
    counts = outcome.counts
    print(f"  {mapping_path.stem:<16}{counts['persons']:>8}{counts['roles']:>7}{report.counts['failed']:>10}  {files}")
    expected = _broken_on_purpose(rules, cases)
    unexpected = False
    for failure in report.failures:
        meant = any(key == failure["key"] and error in (failure["reason"] or "") for key, error in expected)
        unexpected |= not meant
        why = "rejected on purpose" if meant else "rejected, NOT one of the samples broken on purpose"
        print(f"  {'':<16}{failure['origin']} (key {failure['key'] or '?'}) {why}: {failure['reason']}")
    return unexpected or outcome.exit_code != 0


def _cases(mapping: Path) -> dict[str, Any]:
    """The starter's test cases (its date, the records expected to fail), or nothing."""
    cases = testing.cases_path(mapping)
    if not cases.exists():
        return {}
    data = yamlio.load_bytes(cases.read_bytes(), str(cases)).data
    return data if isinstance(data, dict) else {}


def _broken_on_purpose(rules: Rules, cases: dict[str, Any]) -> list[tuple[str | None, str]]:
    """(key, expected error) of each case that expects its record to fail."""
    found = []
    for case in cases.get("cases") or []:
        if isinstance(case, dict) and case.get("error"):
            snapshot = testing.case_snapshot(rules.mapping.source, case)
            records = list(snapshot.records)
            key = rules.key_of(records[0].data, snapshot.tables) if len(records) == 1 else None
            found.append((key, str(case["error"])))
    return found


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
    store.prepare(Shape.of(rules.mapping))
    return store


def _print_tables(store: Store, columns: tuple[str, ...], role_columns: tuple[str, ...]) -> None:
    persons = store.persons.all()
    print(f"\npersons ({len(persons)} rows):")
    _table(["active", *columns], [["yes" if p.active else "no", *p.row.values()] for p in persons])
    roles = [[*role.values()] for p in persons for role in p.roles]
    print(f"\nroles ({len(roles)} rows):")
    _table(list(role_columns), roles)
    sys.stdout.flush()


def _print_files(outcome: ExportReport) -> None:
    if outcome.status == "written":
        print("\nFiles for Spend Cloud:")
        for item in outcome.files:
            print(f"  {item['path']}")


def _table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    for line in [header, *rows]:
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
