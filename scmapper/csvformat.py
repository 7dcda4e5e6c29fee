"""Quoting CSV cells and rows for a file's dialect, so templates cannot emit a broken row.

Vocabulary: a *dialect* is a file's delimiter, quoting (all or minimal), line ending
and formula guard; `CsvText` marks text that is already quoted (a whole row), which the
template environment passes through while it quotes every other `{{ value }}` as a cell.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from scmapper.mapping import ExportFile

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


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
        if self.formula_guard and text.startswith(FORMULA_STARTS):
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


def _needs_quotes(text: str, delimiter: str) -> bool:
    return delimiter in text or '"' in text or "\r" in text or "\n" in text
