"""A loaded mapping document: its plain data and where each value came from.

Vocabulary: a *path* is the tuple of keys and indexes from the document root to a value,
as JSON Schema reports it; a *position* is a 1-based (line, column). A *place* is where a
problem about a value is reported: in the file the user gave; a value that came from a base
file is reported at that file's `extends` line, with the *hops* (`extends` after `extends`)
down to the base's own line, since the user edits their file, not the base. Kept apart from
`yamlio` so that running a cached mapping never imports the YAML parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from scmapper.errors import Problem

Path_ = tuple[str | int, ...]

# The keys of a column that say what it checks rather than how it is filled: an override of a
# base column keeps them unless it sets them itself.
COLUMN_CHECKS = ("required", "max_length", "pattern", "description")
COLUMN_FILLS = ("value", "fixed", "lookup")  # what fills a column; the other keys modify or check it
_COLUMN_TABLES = (("person", "columns"), ("roles", "columns"))


@dataclass(frozen=True)
class Hop:
    """One `extends` on the way from the file the user gave to a base: the file that says it,
    where its value stands, and the name it gives (relative to that file)."""

    file: str
    line: int
    col: int
    name: str


@dataclass(frozen=True)
class Place:
    """Where a value stands: its own file, line and column, and the hops from the file the user
    gave when it came from a base file (none when it is in the user's file)."""

    file: str
    line: int = 1
    col: int = 1
    via: tuple[Hop, ...] = ()

    def down(self, lines: int) -> Place:
        """The place `lines` lines further down (a later line of a block scalar)."""
        return replace(self, line=self.line + lines) if lines > 0 else self

    def problem(self, message: str, severity: str = "error") -> Problem:
        """A problem here, located in the file the user gave."""
        if not self.via:
            return Problem(self.file, self.line, self.col, message, severity)
        first = self.via[0]
        hops = ", whose ".join(f"extends at line {hop.line}: {hop.name}" for hop in self.via)
        return Problem(first.file, first.line, first.col, f"{message} (via {hops}:{self.line}:{self.col})", severity)


@dataclass
class Document:
    """A loaded YAML file: its data and the position of every value and key."""

    file: str
    data: Any
    positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    origins: dict[Path_, str] = field(default_factory=dict)  # values that came from a base file
    hops: dict[str, tuple[Hop, ...]] = field(default_factory=dict)  # each base file: how it is reached

    def locate(self, path: Path_, *, key: bool = False) -> tuple[str, int, int]:
        """File, line and column of the value (or key) at path, or of its nearest ancestor."""
        table = self.key_positions if key else self.positions
        for end in range(len(path), -1, -1):
            for source in (table, self.positions) if key else (table,):
                if path[:end] in source:
                    line, col = source[path[:end]]
                    return self.origins.get(path[:end], self.file), line, col
        return self.file, 1, 1

    def position(self, path: Path_, *, key: bool = False) -> tuple[int, int]:
        return self.locate(path, key=key)[1:]

    def place(self, path: Path_, *, key: bool = False) -> Place:
        """Where the value (or key) at path stands, with the hops to it when a base holds it."""
        file, line, col = self.locate(path, key=key)
        return Place(file, line, col, self.hops.get(file, ()) if file != self.file else ())

    def problem(self, path: Path_, message: str, *, key: bool = False) -> Problem:
        return self.place(path, key=key).problem(message)

    def extended_by(self, child: Document) -> Document:
        """This document with child's values laid over it: maps merge, everything else replaces,
        except that a column keeps its base's checks (COLUMN_CHECKS) unless child sets them."""
        merged = Document(child.file, _merge(self.data, child.data, ()))
        hop = Hop(child.file, *child.positions.get(("extends",), (1, 1)), str(child.data.get("extends", "")))
        merged.hops = {self.file: (hop,)} | {name: (hop, *hops) for name, hops in self.hops.items()}
        for table, base_table, child_table in (
            (merged.positions, self.positions, child.positions),
            (merged.key_positions, self.key_positions, child.key_positions),
        ):
            for path, pos in base_table.items():
                table[path] = pos
                merged.origins[path] = self.origins.get(path, self.file)
            for path, pos in child_table.items():
                table[path] = pos
                merged.origins.pop(path, None)
        return merged


def _merge(base: Any, child: Any, path: Path_) -> Any:
    if len(path) == 3 and path[:2] in _COLUMN_TABLES:
        return _merge_column(base, child)
    if isinstance(base, dict) and isinstance(child, dict):
        result = dict(base)
        for key, value in child.items():
            result[key] = _merge(base[key], value, (*path, key)) if key in base else value
        return result
    return child


def _merge_column(base: Any, child: Any) -> Any:
    """A column of child over the base's column of that name. When child says what fills it (a
    plain string or value, or one of COLUMN_FILLS), that replaces the base's filling, and the
    base's checks stay unless child names them (`required: false`, `pattern: null`,
    `max_length: null`). Otherwise child only changes keys of the base's column (a lookup's
    `default` or `map`, a check) and everything else of the base's column stays."""
    if child is None or base is None:
        return child
    base = base if isinstance(base, dict) else _filled_by(base)
    checks = {k: v for k, v in base.items() if k in COLUMN_CHECKS}
    if not isinstance(child, dict):
        return checks | _filled_by(child) if checks else child
    if not any(k in COLUMN_FILLS for k in child):
        return base | child
    return checks | child


def _filled_by(value: Any) -> dict[str, Any]:
    """A column written as a plain value, in its long form."""
    return {"value": value} if isinstance(value, str) else {"fixed": value}


_BRACED = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.DOTALL)


def expression_source(text: str) -> str:
    """A `when` or `for_each` written as "{{ expr }}" or bare "expr": the bare expression."""
    match = _BRACED.match(text)
    return match.group(1).strip() if match else text.strip()
