"""The SQLite store: the only package that imports sqlite3 or executes SQL.

One module per concern: `connection` (the file, pragmas, transactions, identifier quoting),
`schema` (tables, numbered migrations, the mapping's columns), `changelog` (the triggers that
keep what the last export held of each person changed since),
`persons` (persons and roles), `aliases` (other references an account answers to), `audit`
(the append-only log), `exports` (export records and the export session), `legacy` (the old
connector's file). `Store` puts them together for one
database file and one mapping's shape. Never renders Jinja or CSV, never evaluates a mapping.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scmapper.store.aliases import Aliases
from scmapper.store.audit import Audit, AuditEvent
from scmapper.store.connection import Database, Transaction, environment_error, now, quote, stored_time
from scmapper.store.persons import KeyState, Persons, Row, StoredPerson
from scmapper.store.schema import SCHEMA_VERSION, check, prepare
from scmapper.store.shape import Shape

if TYPE_CHECKING:
    from scmapper.store.exports import Batch, ExportRecord, Exports, ExportSession, Held, Moved, Watch
    from scmapper.store.legacy import read_legacy

# Imported when first asked for, not with the store: a lifecycle event needs neither the export
# session nor the old connector's reader, and every event pays for what it imports.
_LAZY = {
    "Batch": "exports",
    "ExportRecord": "exports",
    "ExportSession": "exports",
    "Held": "exports",
    "Moved": "exports",
    "Watch": "exports",
    "read_legacy": "legacy",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"scmapper.store.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SCHEMA_VERSION",
    "AuditEvent",
    "Batch",
    "ExportRecord",
    "ExportSession",
    "Held",
    "KeyState",
    "Moved",
    "Row",
    "Shape",
    "Store",
    "StoredPerson",
    "Watch",
    "environment_error",
    "now",
    "quote",
    "read_legacy",
    "stored_time",
]


class Store:
    """One database file. `audit` and `aliases` are there from the start; `persons` and
    `exports` once `prepare` has shaped the tables by a mapping."""

    persons: Persons

    def __init__(self, path: str | Path, *, durable: bool = True, read_only: bool = False) -> None:
        self.db = Database(path, durable=durable, read_only=read_only)
        self.path = self.db.path
        try:
            self.audit = Audit(self.db)
            self.aliases = Aliases(self.db)
        except BaseException:  # a damaged file: the connection is ours to close
            self.db.close()
            raise
        self._exports: Exports | None = None

    def prepare(self, shape: Shape) -> list[str]:
        """Shapes the tables by a mapping; notes about columns the mapping no longer has."""
        notes = prepare(self.db, shape)
        self.persons = Persons(self.db, shape)
        return notes

    def attach(self, shape: Shape) -> None:
        """Reads the tables with a mapping's shape as they are: nothing is migrated or added
        (a read-only store); StoreError when they do not fit."""
        check(self.db, shape)
        self.persons = Persons(self.db, shape)

    @property
    def exports(self) -> Exports:
        """The export records and sessions (made, and imported, at first use)."""
        if self._exports is None:
            from scmapper.store.exports import Exports

            self._exports = Exports(self.db, self.persons)
        return self._exports

    def transaction(self) -> Transaction:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT), rolled back on any exception."""
        return self.db.transaction()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
