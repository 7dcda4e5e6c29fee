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

from scmapper import __version__
from scmapper.core.suggest import did_you_mean
from scmapper.errors import MappingError, Problem
from scmapper.mapping.document import Document, Path_, Place, expression_source
from scmapper.mapping.exportspec import (
    Export,
    Reconcile,
    build_export,
    build_reconcile,
    export_problems,
    reconcile_problems,
)
from scmapper.mapping.names import column_problems, unknown_columns
from scmapper.mapping.source import Source, build_source, source_problems
from scmapper.mapping.trust import Root

ColumnKind = Literal["value", "fixed", "lookup"]
DEFAULT_FOR_EACH = "contract in person.Contracts"
DEFAULT_WHEN = "{{ contract.Context.InConditions }}"
DEFAULT_UNIQUE = ("gebruikersnaam", "username", "email")
DEFAULT_USERNAME = ("gebruikersnaam", "username")


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
    position: Place = Place("")


@dataclass(frozen=True)
class Roles:
    var: str
    items: str  # the expression giving the list to iterate
    when: str  # the expression an item must make true
    columns: tuple[Column, ...]
    positions: dict[str, Place] = field(default_factory=dict, compare=False)


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
class Retention:
    """`audit:` in a mapping: sync and export prune the audit log on their own, as `log --prune`
    would, keeping `retain_days`; the pruned entries go first to a new JSON-lines file in the
    `archive` folder (inside the mapping's folder), or are redacted in place with `redact`."""

    retain_days: int
    archive: str | None = None
    redact: bool = False
    position: Place = Place("")


@dataclass(frozen=True)
class Var:
    name: str
    expression: str
    position: Place = Place("")


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
    digest: str = ""  # SHA-256 of the resolved mapping: the file and every base it extends, as read
    export: Export | None = None
    sftp: dict[str, Any] = field(default_factory=dict, compare=False)
    # Where each key of the sftp section stands, and the folder the mapping may read from.
    sftp_positions: dict[str, Place] = field(default_factory=dict, compare=False)
    root: Root = field(default_factory=lambda: Root("."), compare=False)
    reconcile: Reconcile | None = None
    audit: Retention | None = None
    source_position: Place = Place("")
    active_position: Place = Place("")
    bases: tuple[str, ...] = ()  # the files it extends, nearest last (set when loaded for validate)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def role_column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.roles.columns) if self.roles else ()

    @property
    def base_dir(self) -> Path:
        return Path(self.file).resolve().parent

    def folder_of(self, place: Place) -> Path:
        """The folder a name standing at `place` is relative to: that of the file holding it,
        a base or a shipped starter when the value came from one."""
        return Path(place.file or self.file).resolve().parent


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
        problems.append(doc.problem(("person", "key"), _missing("key column", person["key"], names, "person.key")))
    username = person.get("username") or next((n for n in DEFAULT_USERNAME if n in names), None)
    if username is not None and username not in names:
        problems.append(
            doc.problem(("person", "username"), _missing("username column", username, names, "person.username"))
        )
    unique = person.get("unique")
    if unique is None:
        unique = [name for name in DEFAULT_UNIQUE if name in names]
    for i, name in enumerate(unique):
        if name not in names:
            problems.append(
                doc.problem(("person", "unique", i), _missing("unique column", name, names, "person.unique"))
            )
    limits = data.get("limits", {})
    for name, value in limits.items():
        if not math.isfinite(value):  # .nan slips past the schema's minimum and maximum
            problems.append(doc.problem(("limits", name), f"limits.{name} must be a finite number, not {value}"))
    role_names = {c.name for c in roles.columns} if roles else None
    export = build_export(doc, data["export"], username, role_names) if "export" in data else None
    if export:
        problems += export_problems(doc, export, names, role_names)
    reconcile = build_reconcile(data["reconcile"]) if "reconcile" in data else None
    if reconcile:
        problems += reconcile_problems(doc, reconcile, names, username)
    source = build_source(doc, data.get("source", {}))
    problems += source_problems(doc, source)
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
        vars=tuple(Var(k, expression_source(v), doc.place(("vars", k))) for k, v in data.get("vars", {}).items()),
        source=source,
        source_position=doc.place(("source", "samples") if source.samples else ("source",)),
        active_position=doc.place(("source", "active")),
        limits=Limits(**limits),
        fingerprint=fingerprint(raw),
        digest=hashlib.sha256(raw).hexdigest(),
        export=export,
        sftp=data.get("sftp", {}),
        sftp_positions={key: doc.place(("sftp", key)) for key in data.get("sftp", {})},
        root=root,
        reconcile=reconcile,
        audit=Retention(**data["audit"], position=doc.place(("audit",))) if "audit" in data else None,
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
        columns.append(_column(name, value, doc.place((*path, name))))
    return tuple(columns)


def _missing(what: str, name: str, names: set[str], setting: str) -> str:
    """A setting names a column the mapping does not have: say so, and the two ways out."""
    return (
        f"{what} {name!r} is not a person column{did_you_mean(name, names)}: add {name} under person.columns,"
        f" or change {setting}"
    )


def _column(name: str, spec: Any, position: Place) -> Column:
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


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _roles(doc: Document, spec: dict[str, Any], lookups: dict[str, dict[str, str]], problems: list[Problem]) -> Roles:
    var, _, items = spec.get("for_each", DEFAULT_FOR_EACH).strip().partition(" ")
    items = items.strip()
    items = items[2:].strip() if items.startswith("in") else items
    positions = {k: doc.place(("roles", k)) for k in ("for_each", "when")}
    return Roles(
        var=var,
        items=expression_source(items),
        when=expression_source(spec.get("when", DEFAULT_WHEN.replace("contract", var))),
        columns=_columns(doc, spec["columns"], ("roles", "columns"), lookups, problems),
        positions=positions,
    )


def _name_problems(doc: Document, tables: list[tuple[str, tuple[Column, ...]]]) -> list[Problem]:
    found = []
    for table, columns in tables:
        names = [c.name for c in columns]
        bad = list(column_problems(names))
        extra = doc.data[table].get("extra_columns", [])
        for name, message in bad + list(unknown_columns(table, names, [*extra, *(n for n, _ in bad)])):
            found.append(doc.problem((table, "columns", name), message, key=True))
    return found
