"""`validate`: every problem in a mapping file in one run, each located as file:line:col.

Stages run in order (YAML, schema, expressions, the sample files the mapping names, or else
the records of its test cases, then the optional sample person); a stage runs only when the
one before it found the document sound enough to read. Field paths none of the samples has
are warnings, not errors; so is a test case file whose `mapping:` names another mapping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scmapper import __version__
from scmapper.authoring import cases as testing
from scmapper.authoring.lineage import lineage
from scmapper.errors import (
    EXIT_DATA,
    EXIT_OK,
    DataError,
    MappingError,
    Problem,
    SandboxViolation,
    ScmapperError,
    UsageError,
)
from scmapper.export import csvformat, delivery
from scmapper.export.sftp.settings import SftpSettings
from scmapper.mapping import loading, rules, static, trust
from scmapper.mapping.document import Document, Place
from scmapper.mapping.loading import load_rules
from scmapper.mapping.model import Mapping
from scmapper.mapping.names import PERSON_COLUMNS, ROLE_COLUMNS
from scmapper.mapping.trust import OutsideRoot
from scmapper.sources import records as sources
from scmapper.sources import samples


@dataclass
class ValidateReport:
    """Every problem of each file validated, in file order."""

    problems: dict[str, list[Problem]] = field(default_factory=dict)
    starters: dict[str, str] = field(default_factory=dict)  # file -> the shipped starter it builds on
    # With --explain: file -> how its pieces run (pieces compiled, and each one left to Jinja and why)
    explained: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        """Warnings (a field path no sample has) leave a mapping valid."""
        return EXIT_OK if self.valid else EXIT_DATA

    @property
    def valid(self) -> bool:
        return not any(p.severity == "error" for found in self.problems.values() for p in found)

    def as_dict(self) -> dict[str, Any]:
        found = [p.as_dict() for problems in self.problems.values() for p in problems]
        builds_on = {name: {"starter": starter, "scmapper": __version__} for name, starter in self.starters.items()}
        report = {"files": list(self.problems), "valid": self.valid, "problems": found, "builds_on": builds_on}
        return report | ({"evaluation": self.explained} if self.explained else {})

    def text(self) -> list[str]:
        lines = []
        for name, found in self.problems.items():
            errors = any(p.severity == "error" for p in found)
            starter = self.starters.get(name)
            on = f" (builds on {starter} of scmapper {__version__})" if starter else ""
            lines += [str(p) for p in found] + ([] if errors else [f"{name}: ok{on}"])
            explained = self.explained.get(name)
            if explained:
                left = explained["interpreted"]
                total = explained["compiled"] + len(left)
                lines.append(f"{name}: {explained['compiled']} of {total} expressions compiled to Python")
                lines += [f"{p['file']}:{p['line']}: {p['piece']} runs in Jinja: {p['reason']}" for p in left]
        return lines


@dataclass(frozen=True)
class PreviewReport:
    """The rows one source record gives; no database."""

    person: dict[str, str]
    roles: list[dict[str, str]]
    warnings: list[str]
    active: bool
    exit_code: int = EXIT_OK
    # per column: the source fields it read and the file it goes to (authoring/lineage.py)
    lineage: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)  # the record as mapped (joined from --source)

    def as_dict(self) -> dict[str, Any]:
        return {
            "person": self.person,
            "roles": self.roles,
            "warnings": self.warnings,
            "active": self.active,
            "lineage": self.lineage,
        }

    def text(self) -> list[str]:
        return [f"{name}: {value}" for name, value in self.person.items()]


def validate_files(
    paths: list[str], sample: dict[str, Any] | None = None, root: str | None = None, *, explain: bool = False
) -> ValidateReport:
    """explain: also say, for each valid mapping, which of its expressions compile to Python
    and which run in Jinja, and why."""
    report = ValidateReport()
    for path in paths:
        report.problems[path], mapping = _validated(path, sample, root)
        starter = _starter(path, mapping) if mapping is not None else None
        if starter:
            report.starters[path] = starter
        if explain and mapping is not None and not any(p.severity == "error" for p in report.problems[path]):
            report.explained[path] = _explained(mapping)
    return report


def _explained(mapping: Mapping) -> dict[str, Any]:
    from scmapper.mapping.compiler import translate
    from scmapper.mapping.program import described, pieces

    compiled = translate(mapping)
    places = _places(mapping)
    interpreted = []
    for key, reason in compiled.fallbacks.items():
        place = places.get(key)
        at = place.problem(reason) if place is not None else Problem(mapping.file, 1, 1, reason)
        interpreted.append({"piece": described(key), "file": at.file, "line": at.line, "reason": reason})
    return {"compiled": sum(1 for _ in pieces(mapping)) - len(interpreted), "interpreted": interpreted}


def _places(mapping: Mapping) -> dict[tuple[str, str], Place]:
    """Where each piece is written (in a base file, reached through the mapping's extends)."""
    found = {(noun, c.name): c.position for c in mapping.columns for noun in ("column", "default")}
    found |= {("var", v.name): v.position for v in mapping.vars}
    if mapping.roles:
        found |= {(noun, c.name): c.position for c in mapping.roles.columns for noun in ("role", "role default")}
        found |= {(name, ""): place for name, place in mapping.roles.positions.items()}
    return found


def _starter(path: str, mapping: Mapping) -> str | None:
    """The shipped starter a customer's mapping builds on (the nearest one it extends), if any."""
    if trust.starter_of(path):
        return None  # a starter itself
    return next((name for name in map(trust.starter_of, reversed(mapping.bases)) if name), None)


def preview(
    path: str,
    person: dict[str, Any] | None,
    root: str | None = None,
    *,
    source: list[str] | None = None,
    key: str | None = None,
) -> PreviewReport:
    """A source record through the mapping, grouped as sync would (AFAS rows become person.rows);
    or, from the mapping's input files (`source`, as `sync --source` takes them), the person
    with key `key` joined exactly as sync joins it."""
    rules = load_rules(path, root)
    tables = None
    if source is not None:
        record, tables = _joined(rules, source, key)
    else:
        assert person is not None
        [record] = sources.records_from([person], rules.mapping.source.group_by)
    mapped = rules.map_person(record.data, inputs=tables)
    return PreviewReport(
        mapped.row, mapped.roles, mapped.warnings, mapped.active, lineage=lineage(rules.mapping), record=record.data
    )


def _joined(rules: rules.Rules, given: list[str], key: str | None) -> tuple[sources.Record, Any]:
    """The one record of the joined input files with the mapping key `key` (the only record
    when there is one and no key is given), and the lookup tables."""
    from scmapper.sources import inputs

    source = rules.mapping.source
    plain, encodings = inputs.with_encodings(given)
    snapshot = inputs.read(source, inputs.assign(source, plain), encodings)
    records = [r if isinstance(r, sources.Record) else sources.Record(r.data, r.origin) for r in snapshot.records]
    if key is None:
        if len(records) == 1:
            return records[0], snapshot.tables
        raise UsageError(f"the files hold {len(records)} persons: name one with --key ({rules.mapping.key})")
    found = [r for r in records if rules.key_of(r.data, snapshot.tables) == key]
    if not found:
        raise UsageError(f"no person with {rules.mapping.key} {key!r} in the files ({len(records)} persons read)")
    return found[0], snapshot.tables


def validate(path: str | Path, sample: dict[str, Any] | None = None, root: str | None = None) -> list[Problem]:
    """Every problem; warnings (severity "warning") for field paths none of the mapping's
    samples has: the files source.samples names, else the records of its test cases."""
    return _validated(path, sample, root)[0]


def _validated(
    path: str | Path, sample: dict[str, Any] | None, root: str | None
) -> tuple[list[Problem], Mapping | None]:
    """The problems, and the mapping when it loaded (None when loading it failed)."""
    try:
        mapping = loading.load_mapping(path, root)
    except MappingError as exc:
        return exc.problems, None
    problems = static.static_problems(mapping) + csvformat.layouts(mapping)[1] + _sftp_problems(mapping)
    problems += _audit_problems(mapping)
    problems = list(dict.fromkeys(problems)) + _unexported(mapping)  # a name used twice on a line: one problem
    cases, found_in_cases = _cases(Path(path), mapping)
    problems += found_in_cases
    if any(p.severity == "error" for p in problems):
        return problems, mapping
    found = samples.load(mapping)
    if isinstance(found, Problem):
        return [*problems, found], mapping
    if found is None and cases is not None:
        found = _case_samples(mapping, cases)
    warnings = problems + (samples.unseen(mapping, found) if found else [])
    return warnings + (_sample_problems(mapping, sample) if sample is not None else []), mapping


def _audit_problems(mapping: Mapping) -> list[Problem]:
    """The audit archive folder: inside the mapping's folder, and there."""
    policy = mapping.audit
    if policy is None or not policy.archive:
        return []
    try:
        folder = mapping.root.resolve(policy.archive, mapping.folder_of(policy.position), "audit.archive")
    except OutsideRoot as exc:
        return [policy.position.problem(str(exc))]
    if not folder.is_dir():
        return [policy.position.problem(f"audit.archive {policy.archive!r} is not a folder: create {folder}")]
    return []


def _unexported(mapping: Mapping) -> list[Problem]:
    """A warning for each column outside Spend Cloud's known ones (declared in extra_columns)
    that no export file writes: the mapping computes it, and it never reaches Spend Cloud."""
    export = mapping.export
    if export is None:
        return []
    found = []
    tables = (
        ("persons", "person", mapping.columns, PERSON_COLUMNS, export.persons),
        ("roles", "roles", mapping.roles.columns if mapping.roles else (), ROLE_COLUMNS, export.roles),
    )
    for kind, section, columns, known, spec in tables:
        for column in columns:
            if column.name not in known and (spec is None or column.name not in spec.columns):
                found.append(
                    column.position.problem(
                        f"{section}.extra_columns declares {column.name!r}, but no export file writes it: add it to"
                        f" export.{kind}.columns (or leave it out of the mapping)",
                        severity="warning",
                    )
                )
    return found


def _sftp_problems(mapping: Mapping) -> list[Problem]:
    """The sftp section as `upload` reads it: every file it names inside the mapping's root
    (templates and `extends` are checked as they load), the connection file read and checked
    against its schema, and the merged settings checked (a key file that is not on this
    machine is left to `upload`: a mapping is often validated elsewhere)."""
    if not mapping.sftp:
        return []
    found = []
    for key in ("connection", "key_file", "known_hosts"):
        if isinstance(mapping.sftp.get(key), str):
            try:
                mapping.root.resolve(mapping.sftp[key], mapping.base_dir, f"sftp.{key}")
            except OutsideRoot as exc:
                found.append(_sftp_place(mapping, key).problem(str(exc)))
    if found:
        return found
    try:
        settings = delivery.connection_settings(mapping)
        SftpSettings.from_dict(settings, mapping.base_dir, mapping.root, check_files=False)
    except MappingError as exc:
        return exc.problems
    except (UsageError, OutsideRoot) as exc:
        return [_sftp_place(mapping, "connection" if "connection" in mapping.sftp else "host").problem(str(exc))]
    return []


def _sftp_place(mapping: Mapping, key: str) -> Place:
    return mapping.sftp_positions.get(key) or next(iter(mapping.sftp_positions.values()), Place(mapping.file))


def _cases(path: Path, mapping: Mapping) -> tuple[Document | None, list[Problem]]:
    """The test case file beside the mapping, when there is one, checked against its schema
    and for a `mapping:` that names another mapping."""
    cases = testing.cases_path(path)
    if not cases.exists():
        return None, []
    try:
        doc = testing.load_cases(cases, mapping.root)
        note = testing.mapping_note(doc, cases, mapping)
    except MappingError as exc:
        return None, exc.problems
    return doc, ([note] if note else []) + _case_names(doc, mapping)


def _case_names(doc: Document, mapping: Mapping) -> list[Problem]:
    """Each case's input names and expected columns against the mapping, where they stand,
    with the near name: a misspelt input gives a case of no person, a misspelt column a
    difference that names no column, and neither says why."""
    inputs = [i.name for i in mapping.source.inputs]
    person, role = set(mapping.column_names), set(mapping.role_column_names)
    found = []
    for number, case in enumerate(doc.data.get("cases") or []):
        if not isinstance(case, dict):
            continue
        for name in case.get("inputs") or {} if inputs else ():
            if name not in inputs:
                found.append(doc.problem(("cases", number, "inputs", name), _unknown("input", name, inputs), key=True))
        expect: dict[str, Any] = case["expect"] if isinstance(case.get("expect"), dict) else {}
        for column in expect.get("person") or {}:
            if column not in person:
                spot: tuple[str | int, ...] = ("cases", number, "expect", "person", column)
                found.append(doc.problem(spot, _unknown("person column", column, person), key=True))
        for index, row in enumerate(expect.get("roles") or []):
            for column in row if isinstance(row, dict) else {}:
                if column not in role:
                    spot = ("cases", number, "expect", "roles", index, column)
                    found.append(doc.problem(spot, _unknown("role column", column, role), key=True))
    return list(dict.fromkeys(found))


def _unknown(noun: str, name: str, known: Any) -> str:
    from scmapper.core.suggest import did_you_mean

    return f"the mapping has no {noun} {name!r}{did_you_mean(name, known)}"


def _case_samples(mapping: Mapping, cases: Document) -> samples.Samples | None:
    """The test cases' records as samples, joined as sync would (a case whose records do not
    join says nothing about field paths, and `test` reports it)."""
    persons: list[dict[str, Any]] = []
    tables: dict[str, list[dict[str, Any]]] = {}
    for case in cases.data["cases"]:
        try:
            snapshot = testing.case_snapshot(mapping.source, case)
        except ScmapperError:
            continue
        persons += [record.data for record in snapshot.records]
        for name, table in snapshot.tables.items():
            tables.setdefault(name, []).extend(table.values())
    label = f"the records of the test cases ({Path(cases.file).name})"
    return samples.Samples(label, persons, tables) if persons else None


def _sample_problems(mapping: Mapping, sample: dict[str, Any]) -> list[Problem]:
    """What mapping the sample gives: its error, or its warnings (an absent field, no roles),
    each at the column, var or roles key it is about."""
    compiled = rules.Rules(mapping)
    [record] = sources.records_from([sample], mapping.source.group_by)  # grouped as sync would
    try:
        mapped = compiled.map_person(record.data)
    except (DataError, SandboxViolation) as exc:
        column = exc.column if isinstance(exc, DataError) else None
        return [_place(mapping, column, role=", role: " in str(exc)).problem(f"on the sample: {exc}")]
    found = []
    for warning in mapped.warnings:
        named = _WARNED.match(warning)
        what = named.group(2) if named else "for_each" if warning.startswith("for_each") else "when"
        place = _place(mapping, what, role=bool(named and named.group(1)))
        found.append(place.problem(f"on the sample: {warning}", severity="warning"))
    return found


_WARNED = re.compile(r"(role )?column '(\w+)'")


def _place(mapping: Mapping, what: str | None, *, role: bool = False) -> Place:
    """Where the column, var or roles key that failed on the sample stands."""
    roles = mapping.roles
    if roles and what in roles.positions:
        return roles.positions[what]
    if what == "source.active":
        return mapping.active_position
    for var in mapping.vars:
        if what == f"vars.{var.name}":
            return var.position
    role_columns = roles.columns if roles else ()
    for candidate in (*role_columns, *mapping.columns) if role else (*mapping.columns, *role_columns):
        if candidate.name == what:
            return candidate.position
    return Place(mapping.file)
