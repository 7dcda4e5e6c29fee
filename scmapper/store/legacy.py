"""Reading the old PowerShell connector's SQLite file, which `adopt` takes over.

Vocabulary: its `persons` and `roles` tables are all TEXT with no keys; rows come back as
plain dicts in row order, every value as text (whatever type SQLite kept), NULLs as None. The file is opened read-only.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from scmapper.errors import StoreError
from scmapper.store.connection import read_only

LegacyRow = dict[str, str | None]


def read_legacy(path: str | Path) -> tuple[list[LegacyRow], list[LegacyRow]]:
    """Every row of the old connector's `persons` and `roles` tables, in row order."""
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"old database {path} does not exist")
    try:
        conn = read_only(path)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open old database {path}: {exc}") from None
    conn.row_factory = sqlite3.Row
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = {"persons", "roles"} - tables
        if missing:
            raise StoreError(f"{path} is not the old connector's database: no table {', '.join(sorted(missing))}")
        persons = [_text_row(r) for r in conn.execute("SELECT * FROM persons ORDER BY rowid")]
        roles = [_text_row(r) for r in conn.execute("SELECT * FROM roles ORDER BY rowid")]
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot read old database {path}: {exc}") from None
    finally:
        conn.close()
    return persons, roles


def _text_row(row: sqlite3.Row) -> LegacyRow:
    """A row with every value as text: SQLite keeps whatever type was inserted, so an employee
    number may come back as an integer (or a blob) from a column declared TEXT."""
    return {name: None if value is None else _text(value) for name, value in zip(row.keys(), row, strict=True)}


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
