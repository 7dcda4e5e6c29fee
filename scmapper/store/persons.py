"""Persons and their roles: the rows the export turns into Spend Cloud's files.

Vocabulary: the *account reference* (`scm_ref`) is the key column's value when the person
was created, stable for life; *active* persons are the ones exported; a *soft-deleted*
person is inactive with `scm_deleted_at` set. A person's roles are numbered from 0
(`scm_seq`) in the order the mapping gave them. Write inside `Store.transaction()`; the
change log's triggers (schema.py) see every write.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from scmapper.core.identity import fold
from scmapper.errors import ConflictError
from scmapper.store.connection import Database, quote
from scmapper.store.shape import Shape

Row = dict[str, str]


class KeyState(NamedTuple):
    ref: str
    active: bool
    deleted: bool
    source: str | None  # fingerprint of the source record the row reflects (sync), or None

    @property
    def live(self) -> bool:
        return self.active and not self.deleted


@dataclass(frozen=True)
class StoredPerson:
    ref: str
    row: Row
    active: bool
    deleted: bool
    roles: list[Row]


class Persons:
    """The persons and roles tables, in the columns of one mapping's shape."""

    def __init__(self, db: Database, shape: Shape) -> None:
        self.db, self.shape = db, shape
        self.key = shape.key
        columns = ", ".join(quote(c) for c in shape.columns)
        self._select = f"SELECT scm_active, scm_deleted_at, {columns} FROM persons WHERE scm_ref = ?"
        role_columns = ", ".join(quote(c) for c in shape.role_columns)
        self._select_roles = f"SELECT {role_columns} FROM roles WHERE scm_ref = ? ORDER BY scm_seq"

    # --- reading ----------------------------------------------------------------------------

    def get(self, ref: str) -> StoredPerson | None:
        found = self.db.one(self._select, (ref,))
        if found is None:
            return None
        row = dict(zip(self.shape.columns, found[2:], strict=True))
        return StoredPerson(ref, row, bool(found[0]), found[1] is not None, self.roles(ref))

    def account(self, ref: str) -> StoredPerson | None:
        """The person an account reference names: their own reference, or an alias of it
        (store/aliases.py). The one look-up of a reference a caller hands in."""
        found = self.get(ref)
        if found is not None:
            return found
        owner = self.db.one("SELECT scm_ref FROM scm_aliases WHERE alias = ?", (ref,))
        return self.get(owner[0]) if owner else None

    def claimed(self, ref: str) -> tuple[str, str | None] | None:
        """Whether a new account could take `ref` as its reference: None when free, else
        (the account that has it, that account's key) for its own reference, or (the account,
        None) for an alias. One query: it runs for every create."""
        return self.db.one(
            f"SELECT scm_ref, {quote(self.key)} FROM persons WHERE scm_ref = :ref"
            " UNION ALL SELECT scm_ref, NULL FROM scm_aliases WHERE alias = :ref LIMIT 1",
            {"ref": ref},
        )

    def all(self) -> list[StoredPerson]:
        """Every person, ordered by account reference (small stores: demo and tests)."""
        refs = [r[0] for r in self.db.execute("SELECT scm_ref FROM persons ORDER BY scm_ref")]
        return [p for p in map(self.get, refs) if p is not None]

    def each(self) -> Iterator[StoredPerson]:
        """Every person without their roles (`roles` is empty), by reference, read as they go."""
        columns = ", ".join(quote(c) for c in self.shape.columns)
        sql = f"SELECT scm_ref, scm_active, scm_deleted_at, {columns} FROM persons ORDER BY scm_ref"
        found = self.db.execute(sql)  # ok: the columns are quote()d
        for ref, active, deleted, *values in found:
            yield StoredPerson(
                ref, dict(zip(self.shape.columns, values, strict=True)), bool(active), deleted is not None, []
            )

    def roles(self, ref: str) -> list[Row]:
        if not self.shape.role_columns:
            return []
        found = self.db.execute(self._select_roles, (ref,))
        return [dict(zip(self.shape.role_columns, r, strict=True)) for r in found]

    def key_states(self) -> dict[str, KeyState]:
        """key -> account reference, state and source fingerprint, for every person."""
        found = self.db.execute(
            f"SELECT {quote(self.key)}, scm_ref, scm_active, scm_deleted_at IS NOT NULL, scm_source FROM persons"
        )
        make = KeyState._make  # active and deleted arrive as 0 or 1: true and false enough
        return {row[0]: make(row[1:]) for row in found}

    def find(self, column: str, value: str) -> str | None:
        """The account reference of the person whose column holds value exactly, an active one first."""
        found = self.db.one(
            f"SELECT scm_ref FROM persons WHERE {quote(column)} = ? ORDER BY scm_active DESC LIMIT 1", (value,)
        )
        return found[0] if found else None

    def conflicts(self, row: Row, ref: str) -> list[tuple[str, str, str]]:
        """(column, value, other account) for each unique value an active other person holds,
        compared folded (identity.fold: NFC, case-folded, trimmed)."""
        found = []
        for column, twin in self.shape.folded.items():
            folded = fold(row.get(column, ""))
            if not folded:
                continue
            # The WHERE clause repeats the partial index's, so SQLite searches the index.
            other = self.db.one(
                f"SELECT scm_ref, {quote(column)} FROM persons WHERE {quote(twin)} = ?"
                f" AND scm_active = 1 AND {quote(twin)} <> '' AND scm_ref <> ? LIMIT 1",
                (folded, ref),
            )
            if other:
                found.append((column, row[column], other[0]))
        return found

    # --- writing ----------------------------------------------------------------------------

    def insert(self, ref: str, row: Row, time: str, *, active: bool = True) -> None:
        cols = [quote(c) for c in (*self.shape.columns, *self.shape.folded.values())]
        self._write(
            f"INSERT INTO persons (scm_ref, scm_active, scm_created_at, scm_updated_at, {', '.join(cols)})"
            f" VALUES (?, ?, ?, ?{', ?' * len(cols)})",
            (ref, int(active), time, time, *self._values(row)),
            ref,
        )

    def update(self, ref: str, row: Row, time: str) -> None:
        sets = ", ".join(f"{quote(c)} = ?" for c in (*self.shape.columns, *self.shape.folded.values()))
        self._write(
            f"UPDATE persons SET {sets}, scm_updated_at = ?, scm_source = NULL WHERE scm_ref = ?",
            (*self._values(row), time, ref),
            ref,
        )

    def _write(self, sql: str, params: Sequence[object], ref: str) -> None:
        try:
            self.db.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            raise ConflictError(
                f"account {ref!r} cannot be written: {exc} (another account holds that value)"
            ) from None

    def _values(self, row: Row) -> list[str]:
        """A row's values in column order, then the folded twins of its unique columns."""
        return [row[c] for c in self.shape.columns] + [fold(row[c]) for c in self.shape.folded]

    def set_state(self, ref: str, *, active: bool, deleted: bool, time: str) -> None:
        self._write(
            "UPDATE persons SET scm_active = ?, scm_deleted_at = ?, scm_updated_at = ?, scm_source = NULL"
            " WHERE scm_ref = ?",
            (int(active), time if deleted else None, time, ref),
            ref,
        )

    def delete(self, ref: str) -> None:
        self.db.execute("DELETE FROM persons WHERE scm_ref = ?", (ref,))

    def replace_roles(self, ref: str, roles: Sequence[Row], *, new: bool = False) -> None:
        """The person's role rows become these; `new`: the person was just inserted and has none."""
        if not new:
            self.db.execute("DELETE FROM roles WHERE scm_ref = ?", (ref,))
        if not roles:
            return
        cols = [quote(c) for c in self.shape.role_columns]
        self.db.executemany(
            f"INSERT INTO roles (scm_ref, scm_seq, {', '.join(cols)}) VALUES (?, ?{', ?' * len(cols)})",
            [(ref, seq, *(role[c] for c in self.shape.role_columns)) for seq, role in enumerate(roles)],
        )

    def set_sources(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Records (fingerprint, account reference): the source record each person's row now reflects."""
        self.db.executemany("UPDATE persons SET scm_source = ? WHERE scm_ref = ?", pairs)
