"""`validate`: every problem in a mapping file in one run, each located as file:line:col.

Stages run in order (YAML, schema, expressions, the sample files the mapping names, then
the optional sample person); a stage runs only when the one before it found the document
sound enough to read. Field paths none of the sample files has are warnings, not errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scmapper import export, loading, rules, samples, sources, testing
from scmapper.errors import DataError, MappingError, Problem, SandboxViolation
from scmapper.mapping import Mapping, problem_at


def validate(path: str | Path, sample: dict[str, Any] | None = None) -> list[Problem]:
    """Every problem; warnings (severity "warning") for field paths none of the mapping's
    samples has, when it names them (source.samples)."""
    try:
        mapping = loading.load_mapping(path)
    except MappingError as exc:
        return exc.problems
    problems = rules.static_problems(mapping) + export.template_problems(mapping) + _cases_problems(Path(path))
    if problems:
        return problems
    found = samples.load(mapping)
    if isinstance(found, Problem):
        return [found]
    warnings = samples.unseen(mapping, found) if found else []
    return warnings + (_sample_problems(mapping, sample) if sample is not None else [])


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
    [record] = sources.records_from([sample], mapping.source.group_by)  # grouped as sync would
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
