"""Reading the old PowerShell connector's SQLite file, which `adopt` takes over.

Vocabulary: its `persons` and `roles` tables are all TEXT with no keys; rows come back as
plain dicts in row order, every value as text (whatever type SQLite kept), NULLs as None.

The file is untrusted: it is opened read-only and immutable (no journal replayed, no `-shm`
made beside it), its schema is checked before any row is read (the two tables as plain tables;
views, triggers and generated columns refused), SQLite's length limit bounds every value and a
progress handler bounds the time any read takes.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from scmapper.errors import StoreError

LegacyRow = dict[str, str | None]
MAX_VALUE = 1_048_576  # the longest text or blob SQLite hands back from the old file
MAX_STEPS = 200_000_000  # virtual machine steps one read may take (well past any real connector's file)


def read_legacy(path: str | Path) -> tuple[list[LegacyRow], list[LegacyRow]]:
    """Every row of the old connector's `persons` and `roles` tables, in row order."""
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"old database {path} does not exist")
    try:
        # immutable: SQLite reads the file as it is, with no locks, no journal and no -shm.
        conn = sqlite3.connect(path.resolve().as_uri() + "?mode=ro&immutable=1", uri=True)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open old database {path}: {exc}") from None
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE)
    steps = [0]

    def bounded() -> int:
        steps[0] += 1000
        return 1 if steps[0] > MAX_STEPS else 0  # non-zero: SQLite stops the statement

    conn.set_progress_handler(bounded, 1000)
    conn.row_factory = sqlite3.Row
    try:
        _check_schema(conn, path)
        persons = [_text_row(r) for r in conn.execute("SELECT * FROM persons ORDER BY rowid")]
        roles = [_text_row(r) for r in conn.execute("SELECT * FROM roles ORDER BY rowid")]
    except sqlite3.DatabaseError as exc:  # interrupted, too big, damaged
        raise StoreError(f"cannot read old database {path}: {exc}") from None
    finally:
        conn.close()
    return persons, roles


def _check_schema(conn: sqlite3.Connection, path: Path) -> None:
    """The old connector's file has two plain tables; anything that would run code or compute
    values as it is read (a view, a trigger, a generated column) is refused unread."""
    objects = conn.execute("SELECT type, name FROM sqlite_master").fetchall()
    tables = {name for kind, name in objects if kind == "table"}
    missing = {"persons", "roles"} - tables
    if missing:
        raise StoreError(f"{path} is not the old connector's database: no table {', '.join(sorted(missing))}")
    odd = sorted(f"{kind} {name!r}" for kind, name in objects if kind in ("view", "trigger"))
    for table in ("persons", "roles"):
        hidden = [r for r in conn.execute(f"PRAGMA table_xinfo({table})") if r[6] != 0]  # ok: a constant name
        odd += [f"generated column {table}.{r[1]}" for r in hidden]
    if odd:
        raise StoreError(
            f"{path} is not the old connector's database as it wrote it: it holds {', '.join(odd)}; nothing read"
        )


def _text_row(row: sqlite3.Row) -> LegacyRow:
    """A row with every value as text: SQLite keeps whatever type was inserted, so an employee
    number may come back as an integer (or a blob) from a column declared TEXT."""
    return {name: None if value is None else _text(value) for name, value in zip(row.keys(), row, strict=True)}


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
