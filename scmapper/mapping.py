"""Frozen dataclasses built from a validated mapping document, and `load` that builds them.

Vocabulary: a *column* is one Spend Cloud field and the rule that fills it (an
expression, a fixed value or a lookup); the *key* column's value is a person's
account reference; *unique* columns may not repeat among active persons.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from scmapper import __version__, expressions
from scmapper.document import Document, Path_
from scmapper.errors import MappingError, Problem
from scmapper.names import column_problems, file_problem
from scmapper.trust import Root

ColumnKind = Literal["value", "fixed", "lookup"]
DEFAULT_FOR_EACH = "contract in person.Contracts"
DEFAULT_WHEN = "{{ contract.Context.InConditions }}"
DEFAULT_UNIQUE = ("gebruikersnaam", "username", "email")
DEFAULT_USERNAME = ("gebruikersnaam", "username")
DEFAULT_REQUIRED = {"persons": ("email",), "roles": ("ou",)}  # besides the username column
DEFAULT_MINIMUM = 3  # removals below which a threshold's percent rule does not fire
DEFAULT_ACTIVE_VALUES = ("Ja", "J", "Yes", "Y", "1", "true", "Actief", "Active")


@dataclass(frozen=True)
class Column:
    name: str
    kind: ColumnKind
    source: str  # the template, the fixed text, or the lookup expression
    table: tuple[tuple[str, str], ...] = ()
    default: str = ""
    ignore_case: bool = False
    required: bool = False
    max_length: int | None = None
    pattern: str | None = None
    position: tuple[int, int] = (1, 1)


@dataclass(frozen=True)
class Roles:
    var: str
    items: str  # the expression giving the list to iterate
    when: str  # the expression an item must make true
    columns: tuple[Column, ...]
    positions: dict[str, tuple[int, int]] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class ExportFile:
    """One CSV file of an export: its name, layout template and dialect."""

    file: str
    template: str  # a built-in template name, or a path relative to the mapping
    columns: tuple[str, ...]
    header: tuple[str, ...] | None  # labels, or None for no header row
    delimiter: str = ";"
    encoding: str = "utf-8-sig"
    quote_all: bool = True
    line_ending: str = "\r\n"
    formula_guard: bool = False
    position: tuple[int, int] = (1, 1)
    required: tuple[str, ...] = ()  # columns that must be non-empty in every row


@dataclass(frozen=True)
class Threshold:
    """Trips at greater-or-equal: count OR percent of the previous export; the percent rule
    only from `minimum` removals on (one rename among two persons is not a mass removal)."""

    count: int | None = None
    percent: float | None = None
    minimum: int = DEFAULT_MINIMUM


@dataclass(frozen=True)
class Export:
    persons: ExportFile
    roles: ExportFile | None
    removed_persons: Threshold | None = None
    removed_roles: Threshold | None = None
    archive: int = 14
    file_mode: int = 0o600


@dataclass(frozen=True)
class Reconcile:
    """How `reconcile` reads a user list exported from Spend Cloud: the header of the list's
    column holding each person column, and which users count as active."""

    columns: tuple[tuple[str, str], ...]  # (person column, header)
    active: str | None = None  # header of the column that says a user is active; None: all are
    active_values: tuple[str, ...] = DEFAULT_ACTIVE_VALUES
    delimiter: str | None = None  # None: the header line says (; , or tab)
    encoding: str = "utf-8-sig"


@dataclass(frozen=True)
class Input:
    """One input of a source: the records of one endpoint or connector, in one or more files.

    The *main* input has one record per person. An *attached* input's records join a parent
    (the main input, or `to`) where their `on` field equals the parent's `key`, as a list
    named `attach` on each parent record. A *lookup* input is a table by its `lookup` field,
    read in expressions as `inputs.NAME[value]`. Field names may be dotted paths."""

    name: str
    records: str | None = None  # dotted path to the record list in a file; default: found
    key: str | None = None  # the field attached records match on
    attach: str | None = None
    on: str | None = None
    to: str | None = None  # the parent input of an attached one (default: the main input)
    lookup: str | None = None
    optional: bool = False  # sync runs without a file for it (no attached records, an empty table)
    position: tuple[int, int] = (1, 1)

    @property
    def kind(self) -> Literal["main", "attach", "lookup"]:
        return "attach" if self.attach else "lookup" if self.lookup else "main"


@dataclass(frozen=True)
class Source:
    """How sync and test read source records: one input (`records`, `group_by`) or several."""

    records: str | None = None  # dotted path to the record list in a file
    group_by: str | None = None  # merge records sharing this field into one person
    active: str | None = None  # expression: is this record an active employee (sync)
    inputs: tuple[Input, ...] = ()
    samples: str | None = None  # folder of sample files, relative to the mapping

    @property
    def main(self) -> Input:
        """The input with one record per person; a single-input source's is named "source"."""
        found = next((i for i in self.inputs if i.kind == "main"), None)
        return found or Input("source", records=self.records)

    @property
    def lookups(self) -> tuple[Input, ...]:
        return tuple(i for i in self.inputs if i.kind == "lookup")

    def children(self, parent: Input) -> tuple[Input, ...]:
        """The inputs attached to parent."""
        return tuple(i for i in self.inputs if i.kind == "attach" and (i.to or self.main.name) == parent.name)


@dataclass(frozen=True)
class Limits:
    """What one record may cost (the longest text in any field, the time and output of mapping
    it) and what rendering one export file through a template may cost."""

    value_length: int = 65_536
    seconds: float = 2.0
    output: int = 1_048_576
    export_seconds: float = 30.0
    export_output: int = 268_435_456


@dataclass(frozen=True)
class Var:
    name: str
    expression: str
    position: tuple[int, int] = (1, 1)


@dataclass(frozen=True)
class Mapping:
    file: str
    name: str
    key: str
    username: str | None
    unique: tuple[str, ...]
    columns: tuple[Column, ...]
    roles: Roles | None
    delete: Literal["soft", "hard"] = "soft"
    no_roles: Literal["warn", "fail"] = "warn"
    correlate: bool = True
    missing: Literal["disable", "delete"] = "disable"
    unknown_account: Literal["fail", "ignore"] = "fail"
    lookups: dict[str, dict[str, str]] = field(default_factory=dict, compare=False)
    vars: tuple[Var, ...] = ()
    source: Source = Source()
    limits: Limits = Limits()
    fingerprint: str = ""
    export: Export | None = None
    sftp: dict[str, Any] = field(default_factory=dict, compare=False)
    # Where each key of the sftp section stands, and the folder the mapping may read from.
    sftp_positions: dict[str, tuple[int, int]] = field(default_factory=dict, compare=False)
    root: Root = field(default_factory=lambda: Root("."), compare=False)
    reconcile: Reconcile | None = None
    source_position: tuple[int, int] = (1, 1)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def role_column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.roles.columns) if self.roles else ()

    @property
    def base_dir(self) -> Path:
        return Path(self.file).resolve().parent


def fingerprint(raw: bytes) -> str:
    """Identifies a mapping's content together with the scmapper version that reads it."""
    return hashlib.sha256(__version__.encode() + b"\0" + raw).hexdigest()


def build(doc: Document, raw: bytes, root: Root) -> Mapping:
    """A Mapping from a schema-valid document; MappingError lists every semantic problem."""
    data = doc.data
    person = data["person"]
    lookups = {name: {k: _as_text(v) for k, v in table.items()} for name, table in data.get("lookups", {}).items()}
    problems: list[Problem] = []
    columns = _columns(doc, person["columns"], ("person", "columns"), lookups, problems)
    roles = _roles(doc, data["roles"], lookups, problems) if "roles" in data else None
    names = {c.name for c in columns}
    problems += _name_problems(doc, [("person", columns)] + ([("roles", roles.columns)] if roles else []))
    if person["key"] not in names:
        problems.append(doc.problem(("person", "key"), f"key column {person['key']!r} is not a person column"))
    username = person.get("username") or next((n for n in DEFAULT_USERNAME if n in names), None)
    if username is not None and username not in names:
        problems.append(doc.problem(("person", "username"), f"username column {username!r} is not a person column"))
    unique = person.get("unique")
    if unique is None:
        unique = [name for name in DEFAULT_UNIQUE if name in names]
    for i, name in enumerate(unique):
        if name not in names:
            problems.append(doc.problem(("person", "unique", i), f"unique column {name!r} is not a person column"))
    limits = data.get("limits", {})
    for name, value in limits.items():
        if not math.isfinite(value):  # .nan slips past the schema's minimum and maximum
            problems.append(doc.problem(("limits", name), f"limits.{name} must be a finite number, not {value}"))
    export = _export(doc, data["export"], username, roles) if "export" in data else None
    if export:
        problems += _export_problems(doc, export, names, roles)
    reconcile = _reconcile(data["reconcile"]) if "reconcile" in data else None
    if reconcile:
        problems += _reconcile_problems(doc, reconcile, names, username)
    source = _source(doc, data.get("source", {}))
    problems += _source_problems(doc, source)
    if problems:
        raise MappingError(problems)
    lifecycle = data.get("lifecycle", {})
    return Mapping(
        file=doc.file,
        name=data.get("name", Path(doc.file).stem),
        key=person["key"],
        username=username,
        unique=tuple(n for n in unique if n != person["key"]),
        columns=columns,
        roles=roles,
        delete=lifecycle.get("delete", "soft"),
        no_roles=lifecycle.get("no_roles", "warn"),
        correlate=lifecycle.get("correlate", True),
        missing=lifecycle.get("missing", "disable"),
        unknown_account=lifecycle.get("unknown_account", "fail"),
        lookups=lookups,
        vars=tuple(
            Var(k, expressions.expression_source(v), doc.position(("vars", k))) for k, v in data.get("vars", {}).items()
        ),
        source=source,
        source_position=doc.position(("source", "samples") if source.samples else ("source",)),
        limits=Limits(**limits),
        fingerprint=fingerprint(raw),
        export=export,
        sftp=data.get("sftp", {}),
        sftp_positions={key: doc.position(("sftp", key)) for key in data.get("sftp", {})},
        root=root,
        reconcile=reconcile,
    )


def _columns(
    doc: Document, spec: dict[str, Any], path: Path_, lookups: dict[str, dict[str, str]], problems: list[Problem]
) -> tuple[Column, ...]:
    columns = []
    for name, value in spec.items():
        if isinstance(value, dict) and isinstance(value.get("map"), str):
            table = value["map"]
            if table not in lookups:
                known = ", ".join(sorted(lookups)) or "none defined"
                problems.append(doc.problem((*path, name, "map"), f"unknown lookup table {table!r} (known: {known})"))
                value = {**value, "map": {}}
            else:
                value = {**value, "map": lookups[table]}
        columns.append(_column(name, value, doc.position((*path, name))))
    return tuple(columns)


def _column(name: str, spec: Any, position: tuple[int, int]) -> Column:
    if not isinstance(spec, dict):
        kind: ColumnKind = "value" if isinstance(spec, str) else "fixed"
        return Column(name, kind, _as_text(spec), position=position)
    checks = {
        "required": spec.get("required", False),
        "max_length": spec.get("max_length"),
        "pattern": spec.get("pattern"),
        "position": position,
    }
    if "fixed" in spec:
        return Column(name, "fixed", _as_text(spec["fixed"]), **checks)
    if "lookup" in spec:
        table = tuple((str(k), _as_text(v)) for k, v in spec["map"].items())
        return Column(
            name,
            "lookup",
            spec["lookup"],
            table=table,
            default=spec.get("default", ""),
            ignore_case=spec.get("ignore_case", False),
            **checks,
        )
    return Column(name, "value", spec["value"], **checks)


def _source(doc: Document, spec: dict[str, Any]) -> Source:
    active = spec.get("active")
    inputs = tuple(
        Input(name, **value, position=doc.position(("source", "inputs", name), key=True))
        for name, value in spec.get("inputs", {}).items()
    )
    return Source(
        spec.get("records"),
        spec.get("group_by"),
        expressions.expression_source(active) if active else None,
        inputs,
        spec.get("samples"),
    )


def _source_problems(doc: Document, source: Source) -> list[Problem]:
    """How the inputs join: one main input, every attached one to a parent with a key, no loops."""
    if not source.inputs:
        return []
    problems = []
    mains = [i for i in source.inputs if i.kind == "main"]
    if len(mains) != 1:
        names = ", ".join(i.name for i in mains) or "none"
        message = f"a source needs exactly one main input (neither attach nor lookup); it has {names}"
        problems.append(doc.problem(("source", "inputs"), message))
    by_name = {i.name: i for i in source.inputs}
    for item in source.inputs:
        if item.kind == "main" and item.optional:
            where = ("source", "inputs", item.name, "optional")
            problems.append(doc.problem(where, "the main input cannot be optional"))
        if item.kind != "attach" or not mains:
            continue
        parent = by_name.get(item.to or mains[0].name)
        where = ("source", "inputs", item.name, "to" if item.to else "attach")
        if parent is None or parent.kind == "lookup":
            problems.append(doc.problem(where, f"attach to {item.to!r}: not an input records can attach to"))
        elif not parent.key:
            problems.append(doc.problem(where, f"input {parent.name!r} needs a key for {item.name!r} to attach on"))
        elif _loops(item, by_name, mains[0].name):
            problems.append(doc.problem(where, f"input {item.name!r} attaches in a loop"))
    return problems


def _loops(item: Input, by_name: dict[str, Input], main: str) -> bool:
    seen = {item.name}
    while item.kind == "attach":
        parent = by_name.get(item.to or main)
        if parent is None or parent.name in seen:
            return parent is not None
        seen.add(parent.name)
        item = parent
    return False


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _roles(doc: Document, spec: dict[str, Any], lookups: dict[str, dict[str, str]], problems: list[Problem]) -> Roles:
    var, _, items = spec.get("for_each", DEFAULT_FOR_EACH).strip().partition(" ")
    items = items.strip()
    items = items[2:].strip() if items.startswith("in") else items
    positions = {k: doc.position(("roles", k)) for k in ("for_each", "when")}
    return Roles(
        var=var,
        items=expressions.expression_source(items),
        when=expressions.expression_source(spec.get("when", DEFAULT_WHEN.replace("contract", var))),
        columns=_columns(doc, spec["columns"], ("roles", "columns"), lookups, problems),
        positions=positions,
    )


def _export(doc: Document, spec: dict[str, Any], username: str | None, roles: Roles | None) -> Export:
    def threshold(name: str) -> Threshold | None:
        found = spec.get("thresholds", {}).get(name)
        if not found:
            return None
        return Threshold(found.get("count"), found.get("percent"), found.get("minimum", DEFAULT_MINIMUM))

    owner = username if roles and username in {c.name for c in roles.columns} else None
    return Export(
        persons=_export_file(doc, spec["persons"], ("export", "persons"), username),
        roles=_export_file(doc, spec["roles"], ("export", "roles"), owner) if "roles" in spec else None,
        removed_persons=threshold("removed_persons"),
        removed_roles=threshold("removed_roles"),
        archive=spec.get("archive", 14),
        file_mode=int(spec.get("file_mode", "0600"), 8),
    )


def _export_file(doc: Document, spec: dict[str, Any], path: tuple[str, str], username: str | None) -> ExportFile:
    columns = tuple(spec["columns"])
    header = spec.get("header", True)
    required = spec.get("required")
    if required is None:  # the username and, for persons, the e-mail; for roles, the unit
        required = [c for c in (username, *DEFAULT_REQUIRED[path[1]]) if c and c in columns]
    return ExportFile(
        file=spec["file"],
        template=spec.get("template", "csv"),
        columns=columns,
        header=columns if header is True else (tuple(header) if header else None),
        delimiter=spec.get("delimiter", ";"),
        encoding=spec.get("encoding", "utf-8-sig"),
        quote_all=spec.get("quoting", "all") == "all",
        line_ending="\r\n" if spec.get("line_ending", "crlf") == "crlf" else "\n",
        formula_guard=spec.get("formula_guard", False),
        position=doc.position(path),
        required=tuple(required),
    )


def _export_problems(doc: Document, export: Export, names: set[str], roles: Roles | None) -> list[Problem]:
    problems = []
    role_names = {c.name for c in roles.columns} if roles else set()
    for kind, spec, known in (("persons", export.persons, names), ("roles", export.roles, role_names)):
        if spec is None:
            continue
        if kind == "roles" and roles is None:
            problems.append(doc.problem(("export", "roles"), "export.roles needs a roles section"))
            continue
        for i, column in enumerate(spec.columns):
            if column not in known:
                where = ("export", kind, "columns", i)
                problems.append(doc.problem(where, f"export column {column!r} is not a {kind[:-1]} column"))
        for i, column in enumerate(spec.required):
            if column not in spec.columns:
                where = ("export", kind, "required", i)
                message = f"required column {column!r} is not in this file's columns ({', '.join(spec.columns)})"
                problems.append(doc.problem(where, message))
        if spec.header and len(spec.header) != len(spec.columns):
            problems.append(
                doc.problem(
                    ("export", kind, "header"),
                    f"header has {len(spec.header)} labels for {len(spec.columns)} columns",
                )
            )
    for kind, spec in (("persons", export.persons), ("roles", export.roles)):
        found = file_problem(spec.file) if spec else None
        if found:
            problems.append(doc.problem(("export", kind, "file"), found))
    if export.roles and export.persons.file.lower() == export.roles.file.lower():
        problems.append(doc.problem(("export", "roles", "file"), "the roles file must differ from the persons file"))
    return problems


def _name_problems(doc: Document, tables: list[tuple[str, tuple[Column, ...]]]) -> list[Problem]:
    found = []
    for table, columns in tables:
        for name, message in column_problems(c.name for c in columns):
            found.append(doc.problem((table, "columns", name), message, key=True))
    return found


def _reconcile(spec: dict[str, Any]) -> Reconcile:
    active = spec.get("active") or {}
    return Reconcile(
        columns=tuple(spec["columns"].items()),
        active=active.get("column"),
        active_values=tuple(active.get("values", DEFAULT_ACTIVE_VALUES)),
        delimiter=spec.get("delimiter"),
        encoding=spec.get("encoding", "utf-8-sig"),
    )


def _reconcile_problems(doc: Document, spec: Reconcile, names: set[str], username: str | None) -> list[Problem]:
    problems = [
        doc.problem(("reconcile", "columns", column), f"{column!r} is not a person column")
        for column, _header in spec.columns
        if column not in names
    ]
    if username is None or username not in dict(spec.columns):
        message = f"reconcile.columns must name the username column ({username or 'none set'}): users are linked by it"
        problems.append(doc.problem(("reconcile", "columns"), message))
    return problems


def problem_at(file: str, position: tuple[int, int], message: str) -> Problem:
    return Problem(file, position[0], position[1], message)
