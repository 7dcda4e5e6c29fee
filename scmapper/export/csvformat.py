"""Every form a CSV line of an export takes: the dialect, the line SQLite builds, and the template.

Vocabulary: a *dialect* is a file's delimiter, quoting (all or minimal), line ending and
formula guard; a *layout* is one export file's spec, dialect and template. The *built-in*
layout (`templates/csv.j2`) is written without Jinja: its lines come finished from SQLite
(`line_sql`) or from `Dialect.row`, and a property test proves both byte-identical to the
template; an export in the built-in layout imports no Jinja. Any other template renders in the
CSV environment, where every `{{ value }}` is quoted as a cell unless it is `CsvText` (a whole
row the template already made safe).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scmapper.errors import MappingError, Problem, ScmapperError
from scmapper.mapping import budget
from scmapper.mapping.exportspec import ExportFile
from scmapper.mapping.model import Limits
from scmapper.mapping.model import Mapping as MappingFile
from scmapper.mapping.trust import OutsideRoot

if TYPE_CHECKING:
    from jinja2 import Template

    from scmapper.mapping.sandbox import MappingSandbox

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# What a spreadsheet may skip before a formula's first character: whitespace of every kind (the
# invisible characters never reach a file: the value check refuses them); and the fullwidth
# forms of = + - @, which some spreadsheets read as the ASCII ones.
FORMULA_LEADS = " \n\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
FULLWIDTH_STARTS = ("\uff1d", "\uff0b", "\uff0d", "\uff20")


def formula_like(text: str) -> bool:
    """Whether a spreadsheet could read the cell as a formula (it then gets a leading ')."""
    bare = text.lstrip(FORMULA_LEADS)
    return text.startswith(FORMULA_STARTS) or bare.startswith(FORMULA_STARTS + FULLWIDTH_STARTS)
TEMPLATES = Path(__file__).parent / "templates"
BUILTIN = TEMPLATES / "csv.j2"
TEMPLATE_NAMES = frozenset({"header", "rows", "columns"})


class CsvText(str):
    """Text a template already made safe: a quoted row, line ending included."""

    __slots__ = ()


@dataclass(frozen=True)
class Dialect:
    delimiter: str = ";"
    quote_all: bool = True
    line_ending: str = "\r\n"
    formula_guard: bool = False

    @classmethod
    def of(cls, spec: ExportFile) -> Dialect:
        return cls(spec.delimiter, spec.quote_all, spec.line_ending, spec.formula_guard)

    def cell(self, value: Any) -> str:
        """One field, quoted when the dialect or its content requires it."""
        if self.quote_all and not self.formula_guard and type(value) is str:  # the common case, short
            return '"' + value.replace('"', '""') + '"'
        text = "" if value is None else str(value)
        if self.formula_guard and formula_like(text):
            text = "'" + text
        if self.quote_all or _needs_quotes(text, self.delimiter):
            return '"' + text.replace('"', '""') + '"'
        return text

    def row(self, values: Iterable[Any] | Mapping[str, Any]) -> CsvText:
        """A whole line: the cells joined by the delimiter, then the line ending."""
        items = list(values.values() if isinstance(values, Mapping) else values)
        if len(items) == 1 and not self.quote_all and items[0] in ("", None):
            # A lone empty field would be an empty line, which readers skip.
            return CsvText('""' + self.line_ending)
        return CsvText(self.delimiter.join(map(self.cell, items)) + self.line_ending)

    def line_sql(self, cells: Sequence[str]) -> tuple[str, dict[str, str]] | None:
        """SQL building a whole line from the SQL expressions of its cells, the way `row` does,
        with its parameters; None where the dialect needs Python (minimal quoting, formula guard)."""
        if not self.quote_all or self.formula_guard or not cells:
            return None
        quoted = [f"'\"' || replace(coalesce({cell}, ''), '\"', '\"\"') || '\"'" for cell in cells]
        return " || :delimiter || ".join(quoted) + " || :eol", {"delimiter": self.delimiter, "eol": self.line_ending}


def _needs_quotes(text: str, delimiter: str) -> bool:
    return delimiter in text or '"' in text or "\r" in text or "\n" in text


# --- layouts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """One file of an export: which (persons or roles), its spec and dialect, and its template
    (None for the built-in layout)."""

    kind: str
    spec: ExportFile
    dialect: Dialect
    template: str | None
    limits: Limits = Limits()
    path: str = ""  # the template's file, for messages

    @property
    def line(self) -> Any:
        """What builds a finished line in SQL (`Dialect.line_sql`), for the built-in layout only."""
        return self.dialect.line_sql if self.template is None else None

    def render(self, rows: Iterable[str | Sequence[str]]) -> Iterator[str]:
        """The file's text, in pieces, from rows that are finished lines or the exported cells in
        column order: the built-in layout by `Dialect.row`, any other through its template."""
        header = list(self.spec.header) if self.spec.header else None
        if self.template is None:
            if header:
                yield self.dialect.row(header)
            for row in rows:
                yield row if type(row) is str else self.dialect.row(row)
            return
        yield from render_template(self, header, rows)


def render_template(layout: Layout, header: list[str] | None, rows: Iterable[Any]) -> Iterator[str]:
    """Rows (cells in column order) through a layout's template, within the export's limits; a
    template that fails or runs out of them is the mapping's problem (exit 2), named by its file."""
    assert layout.template is not None
    template: Template = csv_environment().from_string(layout.template)
    names = list(layout.spec.columns)
    limits = layout.limits
    try:
        with budget.spending(limits.export_seconds, limits.export_output):
            yield from template.generate(
                header=header,
                rows=(dict(zip(names, row, strict=True)) for row in rows),
                columns=names,
                scm_dialect=layout.dialect,
            )
    except ScmapperError:
        raise  # from the rows (the store), not the template
    except (Exception, budget.LimitExceeded) as exc:  # noqa: BLE001 - whatever the template did is the mapping's
        message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        raise MappingError([Problem(layout.path, 1, 1, f"export.{layout.kind} template: {message}")]) from None


def template_path(mapping: MappingFile, spec: ExportFile, kind: str) -> Path:
    """A built-in template by name, or a .j2 file relative to the mapping, inside its root
    (OutsideRoot otherwise)."""
    name = spec.template
    if "/" not in name and "\\" not in name and not name.endswith(".j2"):
        return TEMPLATES / f"{name}.j2"
    return mapping.root.resolve(name, mapping.folder_of(spec.template_place), f"export.{kind}.template")


def layouts(mapping: MappingFile) -> tuple[list[Layout], list[Problem]]:
    """The export's files, and every problem with their templates: missing, broken, unsafe, or
    disagreeing with the declared columns."""
    export = mapping.export
    if export is None:
        return [], []
    found, problems = [], []
    for kind, spec in (("persons", export.persons), ("roles", export.roles)):
        if spec is None:
            continue
        where = spec.position
        try:
            path = template_path(mapping, spec, kind)
            source = path.read_text("utf-8")
        except OutsideRoot as exc:
            problems.append(where.problem(str(exc)))
            continue
        except (OSError, UnicodeDecodeError):
            problems.append(where.problem(f"export.{kind}: template {spec.template!r} not found or not UTF-8 text"))
            continue
        template = None if path == BUILTIN else source  # the built-in one is ours, checked by the tests
        for line, message in check_template(source, spec.columns) if template is not None else ():
            problems.append(Problem(str(path), line, 1, f"export.{kind} template: {message}"))
        found.append(Layout(kind, spec, Dialect.of(spec), template, mapping.limits, str(path)))
    return found, problems


# --- the template environment ----------------------------------------------------------------


@cache
def csv_environment() -> MappingSandbox:
    """The environment export templates render in: the mapping sandbox, and every
    `{{ value }}` quoted as a cell for the file's dialect unless it is a whole row."""
    from jinja2 import pass_context

    from scmapper.mapping import expressions
    from scmapper.mapping.sandbox import Literal

    @pass_context
    def finalize(context: Any, value: Any) -> str:
        text = value if isinstance(value, CsvText | Literal) else context["scm_dialect"].cell(value)
        budget.spend(len(text))
        return text

    @pass_context
    def csv_row(context: Any, values: Any) -> str:
        return context["scm_dialect"].row(values)

    @pass_context
    def csv_cell(context: Any, value: Any) -> str:
        return CsvText(context["scm_dialect"].cell(value))

    return expressions.sandbox("csv", finalize, {"csv_row": csv_row, "csv_cell": csv_cell})


def check_template(source: str, columns: Sequence[str]) -> list[tuple[int, str]]:
    """Problems in an export template, including disagreement with the declared columns."""
    from jinja2 import nodes

    from scmapper.mapping import expressions

    tree = expressions.compiled(csv_environment(), source)
    if isinstance(tree, list):
        return tree
    problems = expressions.unsafe_parts(tree, TEMPLATE_NAMES)
    for loop in tree.find_all(nodes.For):
        if not (isinstance(loop.iter, nodes.Name) and loop.iter.name == "rows" and isinstance(loop.target, nodes.Name)):
            continue
        var = loop.target.name
        used = [n for n in loop.find_all(nodes.Getattr) if isinstance(n.node, nodes.Name) and n.node.name == var]
        for node in used:
            if node.attr not in columns:
                problems.append((node.lineno, f"template uses column {node.attr!r}, which is not declared"))
        whole = any(isinstance(f.node, nodes.Name) and f.node.name == var for f in loop.find_all(nodes.Filter))
        if not whole:
            missing = [c for c in columns if c not in {n.attr for n in used}]
            problems += [(loop.lineno, f"declared column {c!r} is not in the template") for c in missing]
    return problems
