"""`validate`: every problem in a mapping file in one run, each located as file:line:col.

Stages run in order (YAML, schema, expressions, then the optional sample person);
a stage runs only when the one before it found the document sound enough to read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scmapper import csvformat, loading, rules, sources, testing
from scmapper.errors import EXIT_DATA, EXIT_OK, DataError, MappingError, Problem, SandboxViolation
from scmapper.loading import load_rules
from scmapper.mapping import Mapping, problem_at
from scmapper.trust import OutsideRoot


@dataclass
class ValidateReport:
    """Every problem of each file validated, in file order."""

    problems: dict[str, list[Problem]] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return EXIT_DATA if any(self.problems.values()) else EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        found = [p.as_dict() for problems in self.problems.values() for p in problems]
        return {"files": list(self.problems), "valid": not found, "problems": found}

    def text(self) -> list[str]:
        return [line for name, found in self.problems.items() for line in ([str(p) for p in found] or [f"{name}: ok"])]


@dataclass(frozen=True)
class PreviewReport:
    """The rows one source record gives; no database."""

    person: dict[str, str]
    roles: list[dict[str, str]]
    warnings: list[str]
    active: bool
    exit_code: int = EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        return {"person": self.person, "roles": self.roles, "warnings": self.warnings, "active": self.active}

    def text(self) -> list[str]:
        return [f"{name}: {value}" for name, value in self.person.items()]


def validate_files(paths: list[str], sample: dict[str, Any] | None = None, root: str | None = None) -> ValidateReport:
    return ValidateReport({path: validate(path, sample, root) for path in paths})


def preview(path: str, person: dict[str, Any], root: str | None = None) -> PreviewReport:
    """A source record through the mapping, grouped as sync would (AFAS rows become person.rows)."""
    rules = load_rules(path, root)
    [record] = sources.records_from([person], rules.mapping.source)
    mapped = rules.map_person(record.data)
    return PreviewReport(mapped.row, mapped.roles, mapped.warnings, mapped.active)


def validate(path: str | Path, sample: dict[str, Any] | None = None, root: str | None = None) -> list[Problem]:
    try:
        mapping = loading.load_mapping(path, root)
    except MappingError as exc:
        return exc.problems
    problems = rules.static_problems(mapping) + csvformat.layouts(mapping)[1] + _path_problems(mapping)
    problems += _cases_problems(Path(path))
    if problems or sample is None:
        return problems
    return _sample_problems(mapping, sample)


def _path_problems(mapping: Mapping) -> list[Problem]:
    """The files the sftp section names, each inside the mapping's root (templates and
    `extends` are checked as they load)."""
    found = []
    for key in ("connection", "key_file", "known_hosts"):
        if isinstance(mapping.sftp.get(key), str):
            try:
                mapping.root.resolve(mapping.sftp[key], mapping.base_dir, f"sftp.{key}")
            except OutsideRoot as exc:
                found.append(problem_at(mapping.file, mapping.sftp_positions.get(key, (1, 1)), str(exc)))
    return found


def _cases_problems(mapping: Path) -> list[Problem]:
    """The test case file beside the mapping, when there is one, checked against its schema."""
    cases = testing.cases_path(mapping)
    if not cases.exists():
        return []
    try:
        testing.load_cases(cases)
    except MappingError as exc:
        return exc.problems
    return []


def _sample_problems(mapping: Mapping, sample: dict[str, Any]) -> list[Problem]:
    compiled = rules.Rules(mapping)
    [record] = sources.records_from([sample], mapping.source)  # grouped as sync would
    try:
        compiled.map_person(record.data)
    except (DataError, SandboxViolation) as exc:
        column = exc.column if isinstance(exc, DataError) else None
        return [problem_at(mapping.file, _position(mapping, column), f"on the sample: {exc}")]
    return []


def _position(mapping: Mapping, column: str | None) -> tuple[int, int]:
    for candidate in rules.all_columns(mapping):
        if candidate.name == column:
            return candidate.position
    return (1, 1)
