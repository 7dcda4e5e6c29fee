"""`scmapper test`: a mapping's test cases, kept beside it, run offline.

Vocabulary: a *case* is a source record (or the records that make one person, or for a
source of several inputs the records of each input) and what the mapping must make of it:
person columns, role rows, active or not, warnings, or an error.
The cases file for `mappings/afas.yaml` is `mappings/afas.tests.yaml`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from scmapper import inputs, schema, sources, yamlio
from scmapper.errors import EXIT_DATA, EXIT_OK, DataError, MappingError, Problem, SandboxViolation
from scmapper.inputs import Snapshot
from scmapper.loading import load_rules
from scmapper.mapping import Source
from scmapper.rules import MappedPerson, Rules


def cases_path(mapping: Path) -> Path:
    return mapping.with_name(f"{mapping.stem}.tests.yaml")


def pair(name: Path, cases: str | None = None) -> tuple[Path, Path]:
    """(mapping, cases file) from either one; a NAME.tests.yaml names its mapping NAME.yaml."""
    if name.name.endswith(".tests.yaml"):
        return name.with_name(name.name.removesuffix(".tests.yaml") + ".yaml"), name
    return name, Path(cases) if cases else cases_path(name)


@dataclass
class CaseResult:
    name: str
    differences: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.differences


@dataclass
class TestOutcome:
    file: str
    results: list[CaseResult] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if all(r.passed for r in self.results) else EXIT_DATA

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "passed": sum(r.passed for r in self.results),
            "failed": sum(not r.passed for r in self.results),
            "cases": [{"name": r.name, "passed": r.passed, "differences": r.differences} for r in self.results],
        }

    def text(self) -> list[str]:
        lines = []
        for result in self.results:
            lines.append(f"{'ok  ' if result.passed else 'FAIL'} {result.name}")
            lines += [f"       {d}" for d in result.differences]
        summary = self.as_dict()
        lines.append(f"{self.file}: {summary['passed']} cases passed, {summary['failed']} failed")
        return lines


def load_cases(path: Path) -> yamlio.Document:
    """The cases file, checked against its own schema; MappingError lists every problem."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MappingError([Problem(str(path), 1, 1, f"cannot read test cases: {exc.strerror}")]) from None
    doc = yamlio.load_bytes(raw, str(path))
    problems = schema.validate_tests(doc)
    if problems:
        raise MappingError(problems)
    return doc


def run_cases(mapping: Path, cases: Path) -> TestOutcome:
    rules = load_rules(mapping)
    doc = load_cases(cases)
    default_today = doc.data.get("today")
    outcome = TestOutcome(str(cases))
    for case in doc.data["cases"]:
        today = case.get("today", default_today)
        outcome.results.append(_run(rules, case, date.fromisoformat(today) if today else None))
    return outcome


def _run(rules: Rules, case: dict[str, Any], today: date | None) -> CaseResult:
    result = CaseResult(case["name"])
    snapshot = case_snapshot(rules.mapping.source, case)
    records = list(snapshot.records)
    if len(records) != 1:
        result.differences.append(f"the case's records make {len(records)} persons, not one")
        return result
    try:
        mapped = rules.map_person(records[0].data, today, inputs=snapshot.tables)
    except (DataError, SandboxViolation) as exc:
        if "error" not in case:
            result.differences.append(f"unexpected error: {exc}")
        elif case["error"] not in str(exc):
            result.differences.append(f"error: expected text {case['error']!r}, got {str(exc)!r}")
        return result
    if "error" in case:
        result.differences.append(f"expected an error containing {case['error']!r}, but the record mapped cleanly")
        return result
    result.differences += _compare(case["expect"], mapped)
    return result


def case_snapshot(source: Source, case: dict[str, Any]) -> Snapshot:
    """What sync would make of the case's records: grouped, or its inputs joined."""
    if "inputs" in case:
        return inputs.from_items(source, case["inputs"])
    return Snapshot(sources.records_from(case.get("records", [case.get("record")]), source.group_by, "case"))


def _compare(expect: dict[str, Any], mapped: MappedPerson) -> list[str]:
    found = []
    for column, wanted in expect.get("person", {}).items():
        if column not in mapped.row:
            found.append(f"person.{column}: no such column")
        elif mapped.row[column] != wanted:
            found.append(f"person.{column}: expected {wanted!r}, got {mapped.row[column]!r}")
    if "roles" in expect:
        wanted_roles = expect["roles"]
        for role in wanted_roles:
            if role not in mapped.roles:
                found.append(f"roles: missing {_show(role)}")
        for role in mapped.roles:
            if role not in wanted_roles:
                found.append(f"roles: unexpected {_show(role)}")
        if not found and mapped.roles != wanted_roles:
            found.append("roles: same rows in another order")
    if "active" in expect and expect["active"] != mapped.active:
        found.append(f"active: expected {expect['active']}, got {mapped.active}")
    for text in expect.get("warnings", []):
        if not any(text in w for w in mapped.warnings):
            found.append(f"warnings: none contains {text!r} (got {mapped.warnings})")
    return found


def _show(row: dict[str, str]) -> str:
    return json.dumps(row, ensure_ascii=False)
