"""The export and reconcile sections of a mapping, as frozen dataclasses, and their checks.

Vocabulary: an *export file* is one CSV file Spend Cloud imports (its columns, header, dialect
and the columns every row must fill); a *threshold* is a mass-removal guard; the *reconcile*
section says how a user list exported from Spend Cloud names its columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scmapper.core.suggest import did_you_mean
from scmapper.errors import Problem
from scmapper.mapping.document import Document, Place
from scmapper.mapping.names import file_problem

DEFAULT_REQUIRED = {"persons": ("email",), "roles": ("ou",)}  # besides the username column
DEFAULT_MINIMUM = 3  # removals below which a threshold's percent rule does not fire
DEFAULT_ACTIVE_VALUES = ("Ja", "J", "Yes", "Y", "1", "true", "Actief", "Active")


@dataclass(frozen=True)
class ExportFile:
    """One CSV file of an export: its name, layout template and dialect."""

    file: str
    template: str  # a built-in template name, or a path relative to the file that names it
    columns: tuple[str, ...]
    header: tuple[str, ...] | None  # labels, or None for no header row
    delimiter: str = ";"
    encoding: str = "utf-8-sig"
    quote_all: bool = True
    line_ending: str = "\r\n"
    formula_guard: bool = False
    position: Place = Place("")
    template_place: Place = Place("")  # where `template` stands: its name is relative to that file
    required: tuple[str, ...] = ()  # columns that must be non-empty in every row


@dataclass(frozen=True)
class Threshold:
    """Trips at greater-or-equal: count OR percent of the previous export; the percent rule
    only from `minimum` removals on (one rename among two persons is not a mass removal)."""

    count: int | None = None
    percent: float | None = None
    minimum: int = DEFAULT_MINIMUM


# Held persons at once above which an export refuses: something is wrong upstream.
DEFAULT_HELD = Threshold(count=25, percent=5)


@dataclass(frozen=True)
class Export:
    persons: ExportFile
    roles: ExportFile | None
    removed_persons: Threshold | None = None
    removed_roles: Threshold | None = None
    held: Threshold = field(default_factory=lambda: DEFAULT_HELD)
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


def _threshold(found: dict[str, Any]) -> Threshold:
    return Threshold(found.get("count"), found.get("percent"), found.get("minimum", DEFAULT_MINIMUM))


def build_export(doc: Document, spec: dict[str, Any], username: str | None, role_names: set[str] | None) -> Export:
    """The export section; `role_names` the mapping's role columns (None: it has no roles)."""

    def threshold(name: str) -> Threshold | None:
        found = spec.get("thresholds", {}).get(name)
        return _threshold(found) if found else None

    owner = username if role_names and username in role_names else None
    return Export(
        persons=_export_file(doc, spec["persons"], ("export", "persons"), username),
        roles=_export_file(doc, spec["roles"], ("export", "roles"), owner) if "roles" in spec else None,
        removed_persons=threshold("removed_persons"),
        removed_roles=threshold("removed_roles"),
        held=_threshold(spec["held"]) if spec.get("held") else DEFAULT_HELD,
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
        position=doc.place(path),
        template_place=doc.place((*path, "template")),
        required=tuple(required),
    )


def export_problems(doc: Document, export: Export, names: set[str], role_names: set[str] | None) -> list[Problem]:
    """Problems of the export section against the mapping's person and role columns."""
    problems = []
    for kind, spec, known in (("persons", export.persons, names), ("roles", export.roles, role_names or set())):
        if spec is None:
            continue
        if kind == "roles" and role_names is None:
            problems.append(doc.problem(("export", "roles"), "export.roles needs a roles section"))
            continue
        for i, column in enumerate(spec.columns):
            if column not in known:
                where = ("export", kind, "columns", i)
                section = "person" if kind == "persons" else "roles"
                message = (
                    f"export column {column!r} is not a {kind[:-1]} column{did_you_mean(column, known)}: add {column}"
                    f" under {section}.columns, or take it out of export.{kind}.columns"
                )
                problems.append(doc.problem(where, message))
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


def build_reconcile(spec: dict[str, Any]) -> Reconcile:
    active = spec.get("active") or {}
    return Reconcile(
        columns=tuple(spec["columns"].items()),
        active=active.get("column"),
        active_values=tuple(active.get("values", DEFAULT_ACTIVE_VALUES)),
        delimiter=spec.get("delimiter"),
        encoding=spec.get("encoding", "utf-8-sig"),
    )


def reconcile_problems(doc: Document, spec: Reconcile, names: set[str], username: str | None) -> list[Problem]:
    problems = [
        doc.problem(("reconcile", "columns", column), f"{column!r} is not a person column")
        for column, _header in spec.columns
        if column not in names
    ]
    if username is None or username not in dict(spec.columns):
        message = f"reconcile.columns must name the username column ({username or 'none set'}): users are linked by it"
        problems.append(doc.problem(("reconcile", "columns"), message))
    return problems
