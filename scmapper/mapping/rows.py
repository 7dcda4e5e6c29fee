"""Rendering rows: all of a row's columns in one template pass (one Jinja context per row, not
one per cell); only when that pass fails, or reads a field the record does not have, are the
columns rendered one by one, to name the column.

Vocabulary: a *row* is a dict of column name to text. An *absence* is a column that read a
field the record does not have (absence.py): the column is empty (or what its filters make of
empty), and the column is named with the field's path.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from scmapper.errors import ExpressionError, SandboxViolation
from scmapper.mapping import absence
from scmapper.mapping.model import Column
from scmapper.mapping.plain import Refused

if TYPE_CHECKING:
    from jinja2 import Template

    from scmapper.mapping.program import Program

Row = dict[str, str]
Absences = dict[str, str]  # column name -> the path of the absent field it read
T = TypeVar("T")


class RowTemplate:
    """Renders a set of templated columns together; fixed columns are filled in directly."""

    def __init__(self, columns: Iterable[Column]) -> None:
        self.columns = tuple(columns)
        rendered = [c for c in self.columns if c.kind != "fixed"]
        self._names = [(f"scm_col_{i}", c) for i, c in enumerate(rendered)]
        # `with` gives each column its own scope, so a `set` in one cannot leak into the next.
        source = "".join(
            f"{{% set {var} %}}{{% with %}}{c.source}{{% endwith %}}{{% endset %}}" for var, c in self._names
        )
        from scmapper.mapping import expressions  # the interpreted path only

        env = expressions.environment()
        try:
            self._template: Template | None = env.from_string(source)
        except (RecursionError, SyntaxError, MemoryError):  # the columns nest past Python's limits together
            self._template = None
        self._single: dict[str, Template] = {}
        self._defaults = {c.name: env.from_string(c.default) for c in rendered if c.kind == "lookup"}

    def render(self, context: dict[str, Any], who: str, absences: Absences | None = None) -> Row:
        """The row; each column that read an absent field is named in `absences`."""
        raw: dict[str, str] | None = None
        noted: list[absence.Absent] = []
        if self._template is not None:
            with absence.noting() as noted:
                try:
                    module = self._template.make_module(context)
                    raw = {c.name: str(getattr(module, var)) for var, c in self._names}
                except Exception:  # noqa: BLE001 - rerun column by column to say which one failed
                    raw = None
        if raw is None or noted:
            found: Absences = {} if absences is None else absences
            raw = {c.name: self._render_one(c, context, who, found) for _, c in self._names}
        row: Row = {}
        for column in self.columns:
            if column.kind == "fixed":
                row[column.name] = column.source
            elif column.kind == "lookup":
                row[column.name] = self._lookup(column, raw[column.name], context, who)
            else:
                row[column.name] = raw[column.name]
        return row

    def _render_one(self, column: Column, context: dict[str, Any], who: str, absences: Absences) -> str:
        template = self._single.get(column.name)
        if template is None:
            from scmapper.mapping import expressions

            template = self._single[column.name] = expressions.environment().from_string(column.source)
        with absence.noting() as noted:
            value = guard(lambda: template.render(context), column.name, who)
        if noted:
            absences[column.name] = absence.path_of(noted[0], context)
        return value

    def _lookup(self, column: Column, value: str, context: dict[str, Any], who: str) -> str:
        wanted = value.strip().casefold() if column.ignore_case else value.strip()
        for source, target in column.table:
            if (source.casefold() if column.ignore_case else source) == wanted:
                return target
        default = self._defaults[column.name]
        return guard(lambda: default.render(context), column.name, who)


class CompiledRow:
    """A row of columns evaluated by their compiled functions (program.py), each on its own,
    so an error or an absent field is the column's at once; a column the compiler left to
    Jinja renders as RowTemplate renders it."""

    def __init__(self, columns: Iterable[Column], program: Program, noun: str, *, whole: bool = True) -> None:
        """whole: the columns are all of the mapping's `noun` columns (not the key alone), so
        the program's row function for them applies."""
        self.columns = tuple(columns)
        default = "default" if noun == "column" else f"{noun} default"
        self._cells: list[tuple[Column, Callable[[dict[str, Any]], Any] | None, Callable[..., Any] | None]] = [
            (c, program.function((noun, c.name)), program.function((default, c.name))) for c in self.columns
        ]
        # Columns the compiler left to Jinja are compiled by Jinja now, while the loader records
        # the code it keeps (loading.py).
        interpreted = any(
            (f is None and c.kind != "fixed") or (c.kind == "lookup" and d is None) for c, f, d in self._cells
        )
        self._interpreted: RowTemplate | None = RowTemplate(self.columns) if interpreted else None
        self._whole = program.function(("row", noun)) if whole and not interpreted else None
        self._plain = all(c.kind in ("value", "fixed") for c in self.columns)

    def render(self, context: dict[str, Any], who: str, absences: Absences | None = None) -> Row:
        """All columns in one call when nothing is unusual (no error, no absent field read);
        else column by column, which says which column failed or read what."""
        whole = self._whole
        if whole is not None:
            with absence.noting() as noted:
                try:
                    values = whole(context)
                except Exception:  # noqa: BLE001 - rerun column by column to say which one failed
                    values = None
            if values is not None and not noted:
                return self._row(values, context, who)
        return self._one_by_one(context, who, absences)

    def _row(self, values: tuple[str, ...], context: dict[str, Any], who: str) -> Row:
        texts = iter(values)
        if self._plain:
            return {c.name: c.source if c.kind == "fixed" else next(texts) for c in self.columns}
        row: Row = {}
        for column, _, default in self._cells:
            if column.kind == "fixed":
                row[column.name] = column.source
            elif column.kind == "lookup":
                row[column.name] = self._lookup(column, next(texts), default, context, who)
            else:
                row[column.name] = next(texts)
        return row

    def _one_by_one(self, context: dict[str, Any], who: str, absences: Absences | None) -> Row:
        row: Row = {}
        found: Absences = {} if absences is None else absences
        for column, function, default in self._cells:
            if column.kind == "fixed":
                row[column.name] = column.source
                continue
            if function is None:
                value = self._jinja()._render_one(column, context, who, found)
            else:
                with absence.noting() as noted:
                    value = guard(lambda f=function: f(context), column.name, who)  # type: ignore[misc]
                if noted:
                    found[column.name] = absence.path_of(noted[0], context)
            row[column.name] = value if column.kind != "lookup" else self._lookup(column, value, default, context, who)
        return row

    def _lookup(
        self, column: Column, value: str, default: Callable[..., Any] | None, context: dict[str, Any], who: str
    ) -> str:
        wanted = value.strip().casefold() if column.ignore_case else value.strip()
        for source, target in column.table:
            if (source.casefold() if column.ignore_case else source) == wanted:
                return target
        if default is None:
            return self._jinja()._lookup(column, value, context, who)
        return guard(lambda: default(context), column.name, who)  # type: ignore[no-any-return]

    def _jinja(self) -> RowTemplate:
        if self._interpreted is None:
            self._interpreted = RowTemplate(self.columns)
        return self._interpreted


class RolesTemplate:
    """All of a person's role rows in one template pass: the `for_each` loop, the `when` test
    and the columns, output as rows and cells between separators no record can hold (control
    characters, refused by check_record). `render` gives None whenever anything is unusual (an
    error, an absent field, a lookup column, a separator in a value): the caller then renders
    item by item, which says precisely what failed."""

    ROW, CELL = "\x1e", "\x1f"

    def __init__(self, roles: Any) -> None:
        self.columns = tuple(roles.columns)
        self.usable = all(c.kind != "lookup" for c in self.columns)
        rendered = [c for c in self.columns if c.kind != "fixed"]
        self._width = len(rendered)
        # scm_cell fails a cell holding a separator (from elsewhere than a record): item by item then
        cells = self.CELL.join(
            f"{{% filter scm_cell %}}{{% with %}}{c.source}{{% endwith %}}{{% endfilter %}}" for c in rendered
        )
        # The for_each list too: anything but a plain list (absent, an OData envelope, one item)
        # raises in scm_list, and the item-by-item path makes it out.
        loop = f"{{% for {roles.var} in ({roles.items}) | scm_list %}}"
        source = f"{loop}{{% if {roles.when} %}}{self.ROW}{cells}{{% endif %}}{{% endfor %}}"
        from scmapper.mapping import expressions

        self._template = expressions.environment().from_string(source) if self.usable else None

    def render(self, context: dict[str, Any]) -> list[Row] | None:
        if self._template is None:
            return None
        with absence.noting() as noted:
            try:
                text = self._template.render(context)
            except Exception:  # noqa: BLE001 - the item-by-item path reports it precisely
                return None
        if noted:
            return None  # the item-by-item path says which column read which absent field
        rows: list[Row] = []
        for part in text.split(self.ROW)[1:]:
            values = iter(part.split(self.CELL))
            if part.count(self.CELL) != self._width - 1:
                return None
            row = {c.name: c.source if c.kind == "fixed" else next(values) for c in self.columns}
            if row not in rows:  # identical role rows for one person collapse into one
                rows.append(row)
        return rows


def guard(render: Callable[[], T], column: str, who: str) -> T:
    """Runs one render, turning whatever the expression raised into a located error; `column`
    is a column's name, or the roles' `when` or `for_each`."""
    try:
        return render()
    except RecursionError:
        raise ExpressionError(f"{who}: {_what(column)}: data nested too deeply", column) from None
    except Exception as exc:  # noqa: BLE001 - any failure of an expression on data is that record's
        if _refused(exc):
            raise SandboxViolation(f"{who}: {_what(column)}: {exc}") from None
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        raise ExpressionError(f"{who}: {_what(column)}: {message}", column) from None


def _refused(exc: Exception) -> bool:
    """What the sandbox refuses: plain.Refused, or Jinja's SecurityError (loaded only when
    something was interpreted)."""
    if isinstance(exc, Refused):
        return True
    jinja = sys.modules.get("jinja2.exceptions")
    return jinja is not None and isinstance(exc, jinja.SecurityError)


def _what(column: str) -> str:
    return column if column in ("when", "for_each") else f"column {column!r}"
