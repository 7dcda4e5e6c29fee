"""A loaded mapping document: its plain data and where each value came from.

Vocabulary: a *path* is the tuple of keys and indexes from the document root to a value,
as JSON Schema reports it; a *position* is a 1-based (line, column). Kept apart from
`yamlio` so that running a cached mapping never imports the YAML parser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scmapper.errors import Problem

Path_ = tuple[str | int, ...]


@dataclass
class Document:
    """A loaded YAML file: its data and the position of every value and key."""

    file: str
    data: Any
    positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    origins: dict[Path_, str] = field(default_factory=dict)  # values that came from a base file

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

    def problem(self, path: Path_, message: str, *, key: bool = False) -> Problem:
        return Problem(*self.locate(path, key=key), message)

    def extended_by(self, child: Document) -> Document:
        """This document with child's values laid over it: maps merge, everything else replaces."""
        merged = Document(child.file, _merge(self.data, child.data))
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


def _merge(base: Any, child: Any) -> Any:
    if isinstance(base, dict) and isinstance(child, dict):
        result = dict(base)
        for key, value in child.items():
            result[key] = _merge(base[key], value) if key in base else value
        return result
    return child
