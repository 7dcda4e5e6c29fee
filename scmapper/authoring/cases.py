"""`scmapper test`: a mapping's test cases, kept beside it, run offline.

Vocabulary: a *case* is a source record (or the records that make one person, or for a
source of several inputs the records of each input) and what the mapping must make of it:
person columns, role rows, active or not, warnings, or an error. A case may set some of the
mapping's `vars` to other expressions (a mapping whose vars are settings, such as
`spendcloud-legacy.yaml`, is tested under each setting that way).
The cases file for `mappings/afas.yaml` is `mappings/afas.tests.yaml`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from scmapper.errors import EXIT_DATA, EXIT_OK, DataError, MappingError, Problem, SandboxViolation
from scmapper.mapping import schema, yamlio
from scmapper.mapping.document import Document, expression_source
from scmapper.mapping.loading import load_rules
from scmapper.mapping.model import Mapping, Var
from scmapper.mapping.rules import MappedPerson, Rules
from scmapper.mapping.source import Source
from scmapper.mapping.trust import Root
from scmapper.sources import inputs
from scmapper.sources import records as sources
from scmapper.sources.inputs import Snapshot


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
    """The cases of one file run against one mapping; `warnings` (a `mapping:` key naming
    another mapping) come first, so a run of failures says why before it says what."""

    file: str
    results: list[CaseResult] = field(default_factory=list)
    mapping: str = ""
    warnings: list[Problem] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_OK if all(r.passed for r in self.results) else EXIT_DATA

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "mapping": self.mapping,
            "passed": sum(r.passed for r in self.results),
            "failed": sum(not r.passed for r in self.results),
            "warnings": [w.as_dict() for w in self.warnings],
            "cases": [{"name": r.name, "passed": r.passed, "differences": r.differences} for r in self.results],
        }

    def text(self) -> list[str]:
        lines = [str(w) for w in self.warnings]
        for result in self.results:
            lines.append(f"{'ok  ' if result.passed else 'FAIL'} {result.name}")
            lines += [f"       {d}" for d in result.differences]
        summary = self.as_dict()
        ran = f" (ran against {self.mapping}; see the warning above)" if self.warnings else ""
        lines.append(f"{self.file}: {summary['passed']} cases passed, {summary['failed']} failed{ran}")
        return lines


@dataclass
class TestReport:
    """The outcomes of several mappings' cases."""

    outcomes: list[TestOutcome]

    @property
    def exit_code(self) -> int:
        return max(o.exit_code for o in self.outcomes)

    def as_dict(self) -> Any:
        reports = [o.as_dict() for o in self.outcomes]
        return reports[0] if len(reports) == 1 else reports

    def text(self) -> list[str]:
        return [line for o in self.outcomes for line in o.text()]


def run_files(names: list[Path], cases: str | None = None, root: str | None = None) -> TestReport:
    """The cases of each mapping (or of each cases file's mapping)."""
    return TestReport([run_cases(*pair(name, cases), root, found=_found(name, cases)) for name in names])


def _found(name: Path, cases: str | None) -> bool:
    """Whether the cases file is the one found beside the mapping, not one the user named."""
    return cases is None and not name.name.endswith(".tests.yaml")


def load_cases(path: Path, root: Root | None = None) -> Document:
    """The cases file, checked against its own schema; MappingError lists every problem. With
    `root` (a cases file found beside the mapping, not named by the user), one that leads
    outside the root (a planted link) is refused unread."""
    if root is not None and not root.holds(path):
        message = f"the test cases file leads outside the mapping's folder {root.folder}: not read"
        raise MappingError([Problem(str(path), 1, 1, message)])
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MappingError([Problem(str(path), 1, 1, f"cannot read test cases: {exc.strerror}")]) from None
    doc = yamlio.load_bytes(raw, str(path))
    problems = schema.validate_tests(doc)
    if problems:
        raise MappingError(problems)
    return doc


def mapping_note(doc: Document, cases: Path, mapping: Mapping) -> Problem | None:
    """A warning when the cases file's `mapping:` names another mapping than `mapping` (a copied
    afas.tests.yaml still saying afas.yaml), or naming no file at all."""
    name = doc.data.get("mapping")
    if not isinstance(name, str):
        return None
    place = doc.place(("mapping",))
    folder = Path(cases).resolve().parent
    named = folder / name  # only compared with the mapping's path: nothing is read from it
    if "\0" in name or Path(name).name in ("", ".", ".."):
        return place.problem(f"mapping: {name!r} names no file; write the mapping's file name", severity="warning")
    if _same_file(named, Path(mapping.file)):
        return None
    own = _shown(Path(os.path.realpath(mapping.file)), folder)
    return place.problem(
        f"these cases say they are for {name} (mapping: {name}), not for {mapping.file}: if they are"
        f" {Path(mapping.file).name}'s cases, write mapping: {own}; to run them against {name}:"
        f" scmapper test {_shown(named)} --cases {cases}",
        severity="warning",
    )


def _same_file(one: Path, other: Path) -> bool:
    """normcase: on Windows, AFAS.yaml names afas.yaml."""
    return os.path.normcase(os.path.realpath(one)) == os.path.normcase(os.path.realpath(other))


def _shown(path: Path, start: Path | None = None) -> str:
    """A path as short as it can be shown: from `start`, else from the reader's working folder."""
    try:
        return Path(os.path.relpath(path, start)).as_posix()
    except ValueError:  # another drive on Windows
        return str(path)


def run_cases(mapping: Path, cases: Path, root: str | None = None, *, found: bool = False) -> TestOutcome:
    """found: the cases file was found beside the mapping, so it must lie inside the root."""
    rules = load_rules(mapping, root)
    doc = load_cases(cases, rules.mapping.root if found else None)
    default_today = doc.data.get("today")
    note = mapping_note(doc, cases, rules.mapping)
    outcome = TestOutcome(str(cases), mapping=str(mapping), warnings=[note] if note else [])
    variants: dict[tuple[tuple[str, str], ...], Rules] = {}
    for case in doc.data["cases"]:
        today = case.get("today", default_today)
        settings = case.get("vars", {})
        unknown = sorted(set(settings) - {v.name for v in rules.mapping.vars})
        if unknown:
            outcome.results.append(CaseResult(case["name"], [f"vars: the mapping has no var {n!r}" for n in unknown]))
            continue
        key = tuple(sorted(settings.items()))
        if key not in variants:
            variants[key] = _with_vars(rules, settings)
        outcome.results.append(_run(variants[key], case, date.fromisoformat(today) if today else None))
    return outcome


def _with_vars(rules: Rules, settings: dict[str, str]) -> Rules:
    """The rules with some vars set to other expressions, in the mapping's order."""
    if not settings:
        return rules
    replaced = tuple(
        Var(v.name, expression_source(settings[v.name]), v.position) if v.name in settings else v
        for v in rules.mapping.vars
    )
    return Rules(replace(rules.mapping, vars=replaced))


def _run(rules: Rules, case: dict[str, Any], today: date | None) -> CaseResult:
    result = CaseResult(case["name"])
    snapshot = case_snapshot(rules.mapping.source, case, today)
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


def case_snapshot(source: Source, case: dict[str, Any], day: date | None = None) -> Snapshot:
    """What sync would make of the case's records on `day`: grouped, or its inputs joined."""
    if "inputs" in case:
        return inputs.from_items(source, case["inputs"], day=day)
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
        found.append(f"active: expected {str(expect['active']).lower()}, got {str(mapped.active).lower()}")
    for text in expect.get("warnings", []):
        if not any(text in w for w in mapped.warnings):
            found.append(f"warnings: none contains {text!r} (got: {'; '.join(mapped.warnings) or 'no warnings'})")
    return found


def _show(row: dict[str, str]) -> str:
    return json.dumps(row, ensure_ascii=False)
