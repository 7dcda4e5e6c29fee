"""The SQLite store: the only module that imports sqlite3.

Vocabulary: the *account reference* (`scm_ref`) is the key column's value when the
person was created, stable for life; *active* persons are the ones exported;
a *soft-deleted* person is inactive with `scm_deleted_at` set. Tables:
`persons` (mapping columns + bookkeeping), `roles` (role columns + owner),
`events` (append-only audit log), `scm_meta` (schema version, mapping fingerprint),
`exports` (each export), `exported_changes` (what the last export held of each person changed
since: the *change log* the next export's diff reads; see `_remember_exported`).

Every value is a bound parameter; every identifier passes `quote()`. Writes happen
inside `transaction()`, which begins IMMEDIATE: parallel agents queue on the busy
timeout instead of failing to upgrade a read lock.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from scmapper.errors import StoreError

SCHEMA_VERSION = 5
BUSY_TIMEOUT_MS = 60_000
_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")

Row = dict[str, str]


@cache
def quote(name: str) -> str:
    """A validated, double-quoted SQL identifier (memoised: every statement quotes its columns)."""
    if not _IDENTIFIER.match(name):
        raise StoreError(f"not a valid column name: {name!r}")
    return f'"{name}"'


def now() -> str:
    """UTC time as stored everywhere: sortable text, microseconds, 'Z'."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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


@dataclass(frozen=True)
class AuditEvent:
    id: int
    time: str
    action: str
    account_ref: str | None
    success: bool
    message: str
    details: list[dict[str, Any]]
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": self.time,
            "action": self.action,
            "accountReference": self.account_ref,
            "success": self.success,
            "message": self.message,
            "auditLogs": self.details,
            "before": self.before,
            "after": self.after,
        }


_BASE_SCHEMA = """
CREATE TABLE IF NOT EXISTS scm_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS persons (
    scm_ref TEXT PRIMARY KEY,
    scm_active INTEGER NOT NULL DEFAULT 1,
    scm_created_at TEXT NOT NULL,
    scm_updated_at TEXT NOT NULL,
    scm_deleted_at TEXT,
    scm_source TEXT
);
CREATE TABLE IF NOT EXISTS roles (
    scm_id INTEGER PRIMARY KEY,
    scm_ref TEXT NOT NULL REFERENCES persons (scm_ref) ON DELETE CASCADE,
    scm_seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS scm_roles_ref ON roles (scm_ref, scm_seq);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    action TEXT NOT NULL,
    account_ref TEXT,
    success INTEGER NOT NULL,
    message TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '[]',
    before TEXT,
    after TEXT
);
CREATE INDEX IF NOT EXISTS scm_events_ref ON events (account_ref, id);
CREATE INDEX IF NOT EXISTS scm_events_time ON events (time);
CREATE TABLE IF NOT EXISTS exports (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    status TEXT NOT NULL,
    forced INTEGER NOT NULL,
    out_dir TEXT NOT NULL,
    files TEXT NOT NULL,
    report TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS exported_changes (key TEXT PRIMARY KEY, data TEXT, roles TEXT) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS scm_events_no_update BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS scm_events_no_delete BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


class Store:
    """One SQLite database file, shaped by one mapping's columns."""

    def __init__(self, path: str | Path, *, durable: bool = True) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            _create_private(self.path)
        try:
            self.conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")  # ok: an int constant
            mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            # FULL syncs every commit; batch loads trade the last commits on power loss for speed.
            self.conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")  # ok: one of two constants
            self.conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}") from None
        if mode.lower() != "wal" and str(path) != ":memory:":
            raise StoreError(f"database {self.path} cannot use WAL journal mode (got {mode})")
        self.person_columns: tuple[str, ...] = ()
        self.role_columns: tuple[str, ...] = ()
        self.key = ""
        self.notes: list[str] = []
        self._remember_sql: str | None = None

    def close(self) -> None:
        self.conn.close()

    # --- schema ---------------------------------------------------------------------------

    def prepare(
        self,
        key: str,
        columns: Sequence[str],
        unique: Sequence[str],
        role_columns: Sequence[str],
        fingerprint: str,
    ) -> list[str]:
        """Bring tables in line with a mapping; returns notes about kept, unmapped columns.

        Costs one read when the mapping is unchanged since the last run.
        """
        self.key, self.person_columns, self.role_columns = key, tuple(columns), tuple(role_columns)
        self._remember_sql = None
        unique = tuple(unique)
        for name in (*columns, *role_columns):
            quote(name)
        fingerprint = f"{SCHEMA_VERSION}:{fingerprint}"
        if self._meta("mapping_fingerprint") == fingerprint:
            return []
        with self.transaction():
            if self._meta("mapping_fingerprint") == fingerprint:  # another process just did it
                return []
            self._create_base()
            notes = self._add_columns("persons", columns) + self._add_columns("roles", role_columns)
            self._index_unique(key, unique)
            self._migrate_baseline()
            self._set_meta("schema_version", str(SCHEMA_VERSION))
            self._set_meta("mapping_fingerprint", fingerprint)
        self.notes = notes
        return notes

    def _create_base(self) -> None:
        # Schema 2 kept one exported role per row, 3 and 4 per person: a schema 2 database's roles
        # are dropped here, so after _migrate_baseline the next report lists them once as added.
        columns = [r[1] for r in self.conn.execute("PRAGMA table_info(exported_roles)")]
        if columns and "count" not in columns:
            self.conn.execute("DROP TABLE exported_roles")
            self.conn.execute("CREATE TABLE exported_roles (owner TEXT PRIMARY KEY, count INTEGER, data TEXT)")
        columns = [r[1] for r in self.conn.execute("PRAGMA table_info(persons)")]
        if columns and "scm_source" not in columns:  # schema 4: sync's record fingerprints
            self.conn.execute("ALTER TABLE persons ADD COLUMN scm_source TEXT")
        for statement in _BASE_SCHEMA.split(";\n"):
            if statement.strip():
                self.conn.execute(statement)

    def _migrate_baseline(self) -> None:
        """Schemas 3-4 kept the whole last export (exported_persons, exported_roles). Schema 5
        keeps only what changed since: every kept person becomes an entry (the next diff then
        compares them all, once), and every active person the last export did not hold, an
        entry saying so."""
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "exported_persons" not in tables:
            return
        if "exported_roles" not in tables:
            self.conn.execute("CREATE TABLE exported_roles (owner TEXT PRIMARY KEY, count INTEGER, data TEXT)")
        self.conn.execute(
            "INSERT OR IGNORE INTO exported_changes (key, data, roles) SELECT e.key, e.data, coalesce(r.data, '[]')"
            " FROM exported_persons e LEFT JOIN exported_roles r ON r.owner = e.key"
        )
        key = quote(self.key)
        self.conn.execute(
            f"INSERT OR IGNORE INTO exported_changes (key, data, roles) SELECT {key}, NULL, NULL FROM persons"
            " WHERE scm_active = 1 AND EXISTS (SELECT 1 FROM exports)"
        )
        self.conn.execute("DROP TABLE exported_persons")
        self.conn.execute("DROP TABLE exported_roles")

    def _meta(self, key: str) -> str | None:
        try:
            row = self.conn.execute("SELECT value FROM scm_meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError:  # a new database has no tables yet
            return None
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO scm_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def _add_columns(self, table: str, columns: Sequence[str]) -> list[str]:
        existing = [r[1] for r in self.conn.execute(f"PRAGMA table_info({quote(table)})")]  # ok: quote()d
        for name in columns:
            if name not in existing:
                column = f"{quote(name)} TEXT NOT NULL DEFAULT ''"
                self.conn.execute(f"ALTER TABLE {quote(table)} ADD COLUMN {column}")  # ok: quote()d
        unmapped = [c for c in existing if not c.startswith("scm_") and c not in columns]
        return [f"column {c!r} of table {table} is no longer in the mapping; kept with its data" for c in unmapped]

    def _index_unique(self, key: str, unique: Sequence[str]) -> None:
        old = self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'persons' AND name LIKE 'scm_u%'"
        ).fetchall()
        for (name,) in old:
            self.conn.execute(f"DROP INDEX {quote(name)}")  # ok: quote()d
        try:
            self.conn.execute(f"CREATE UNIQUE INDEX scm_ukey ON persons ({quote(key)})")  # ok: quote()d
            for name in unique:
                self.conn.execute(
                    f"CREATE UNIQUE INDEX {quote('scm_uniq_' + name)} ON persons ({quote(name)} COLLATE NOCASE)"
                    f" WHERE scm_active = 1 AND {quote(name)} <> ''"
                )
        except sqlite3.IntegrityError as exc:
            raise StoreError(
                f"the data in {self.path} breaks the mapping's key or unique columns ({exc}); "
                "resolve the duplicates first"
            ) from None

    # --- transactions ---------------------------------------------------------------------

    def begin(self, *, write: bool) -> None:
        """Opens a transaction its caller ends with COMMIT or ROLLBACK; `write` takes the write
        lock at once (IMMEDIATE), a read sees one moment of the database."""
        try:
            self.conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot start a transaction on {self.path}: {exc}") from None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        self.begin(write=True)
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    # --- persons ----------------------------------------------------------------------------

    def person(self, ref: str) -> StoredPerson | None:
        cols = ", ".join(quote(c) for c in self.person_columns)
        found = self.conn.execute(
            f"SELECT scm_active, scm_deleted_at, {cols} FROM persons WHERE scm_ref = ?", (ref,)
        ).fetchone()
        if found is None:
            return None
        row = dict(zip(self.person_columns, found[2:], strict=True))
        return StoredPerson(ref, row, bool(found[0]), found[1] is not None, self.roles(ref))

    def all_persons(self) -> list[StoredPerson]:
        """Every person, ordered by account reference (small stores: demo and tests)."""
        refs = [r[0] for r in self.conn.execute("SELECT scm_ref FROM persons ORDER BY scm_ref")]
        return [p for p in map(self.person, refs) if p is not None]

    def key_states(self) -> dict[str, KeyState]:
        """key -> account reference, state and source fingerprint, for every person."""
        found = self.conn.execute(
            f"SELECT {quote(self.key)}, scm_ref, scm_active, scm_deleted_at IS NOT NULL, scm_source FROM persons"
        )
        make = KeyState._make  # active and deleted arrive as 0 or 1: true and false enough
        return {row[0]: make(row[1:]) for row in found}

    def set_sources(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Records (fingerprint, account reference): the source record each person's row now reflects."""
        with self.transaction():
            self.conn.executemany("UPDATE persons SET scm_source = ? WHERE scm_ref = ?", pairs)

    def find(self, column: str, value: str) -> str | None:
        """The account reference of the person whose column holds value (the key: exact)."""
        found = self.conn.execute(
            f"SELECT scm_ref FROM persons WHERE {quote(column)} = ? ORDER BY scm_active DESC LIMIT 1", (value,)
        ).fetchone()
        return found[0] if found else None

    def conflicts(self, row: Row, unique: Sequence[str], ref: str) -> list[tuple[str, str, str]]:
        """(column, value, other account) for each unique value an active other person holds."""
        found = []
        for column in unique:
            value = row.get(column, "")
            if not value:
                continue
            # The WHERE clause repeats the partial index's, so SQLite searches the index.
            other = self.conn.execute(
                f"SELECT scm_ref FROM persons WHERE {quote(column)} = ? COLLATE NOCASE"
                f" AND scm_active = 1 AND {quote(column)} <> '' AND scm_ref <> ? LIMIT 1",
                (value, ref),
            ).fetchone()
            if other:
                found.append((column, value, other[0]))
        return found

    # --- the change log ---------------------------------------------------------------------

    def _remember_exported(self, ref: str) -> None:
        """Before a person's first change since the last export: what that export held of them
        (row and roles as JSON if they were active, NULL if not), kept in exported_changes for
        the next export's diff. Nothing before the first export."""
        if self._remember_sql is None:
            self._remember_sql = (
                f"INSERT OR IGNORE INTO exported_changes (key, data, roles) SELECT p.{quote(self.key)},"
                f" CASE WHEN p.scm_active = 1 THEN {person_json(self.person_columns, 'p')} END,"
                f" CASE WHEN p.scm_active = 1 THEN {roles_json(self.role_columns, 'p')} END"
                " FROM persons p WHERE p.scm_ref = ? AND EXISTS (SELECT 1 FROM exports)"
            )
        self.conn.execute(self._remember_sql, (ref,))

    def _remember_new_key(self, key: str) -> None:
        """A key the last export did not hold (a new person, a changed key)."""
        self.conn.execute(
            "INSERT OR IGNORE INTO exported_changes (key, data, roles) SELECT ?, NULL, NULL"
            " WHERE EXISTS (SELECT 1 FROM exports)",
            (key,),
        )

    def insert_person(self, ref: str, row: Row, time: str, *, active: bool = True) -> None:
        self._remember_new_key(row[self.key])
        cols = [quote(c) for c in self.person_columns]
        self.conn.execute(
            f"INSERT INTO persons (scm_ref, scm_active, scm_created_at, scm_updated_at, {', '.join(cols)})"
            f" VALUES (?, ?, ?, ?{', ?' * len(cols)})",
            (ref, int(active), time, time, *(row[c] for c in self.person_columns)),
        )

    def update_person(self, ref: str, row: Row, time: str) -> None:
        self._remember_exported(ref)
        self._remember_new_key(row[self.key])  # ignored unless the key changed
        sets = ", ".join(f"{quote(c)} = ?" for c in self.person_columns)
        self.conn.execute(
            f"UPDATE persons SET {sets}, scm_updated_at = ?, scm_source = NULL WHERE scm_ref = ?",
            (*(row[c] for c in self.person_columns), time, ref),
        )

    def set_state(self, ref: str, *, active: bool, deleted: bool, time: str) -> None:
        self._remember_exported(ref)
        self.conn.execute(
            "UPDATE persons SET scm_active = ?, scm_deleted_at = ?, scm_updated_at = ?, scm_source = NULL"
            " WHERE scm_ref = ?",
            (int(active), time if deleted else None, time, ref),
        )

    def delete_person(self, ref: str) -> None:
        self._remember_exported(ref)
        self.conn.execute("DELETE FROM persons WHERE scm_ref = ?", (ref,))

    # --- roles ------------------------------------------------------------------------------

    def roles(self, ref: str) -> list[Row]:
        if not self.role_columns:
            return []
        cols = ", ".join(quote(c) for c in self.role_columns)
        sql = f"SELECT {cols} FROM roles WHERE scm_ref = ? ORDER BY scm_seq"
        found = self.conn.execute(sql, (ref,))
        return [dict(zip(self.role_columns, r, strict=True)) for r in found]

    def replace_roles(self, ref: str, roles: Sequence[Row], *, new: bool = False) -> None:
        """The person's role rows become these; `new`: the person was just inserted and has none."""
        if not new:  # (a new person's insert already told the change log)
            self._remember_exported(ref)
            self.conn.execute("DELETE FROM roles WHERE scm_ref = ?", (ref,))
        if not roles:
            return
        cols = [quote(c) for c in self.role_columns]
        self.conn.executemany(
            f"INSERT INTO roles (scm_ref, scm_seq, {', '.join(cols)}) VALUES (?, ?{', ?' * len(cols)})",
            [(ref, seq, *(role[c] for c in self.role_columns)) for seq, role in enumerate(roles)],
        )

    # --- exports ----------------------------------------------------------------------------

    def last_export(self) -> dict[str, Any] | None:
        return self._export("ORDER BY id DESC LIMIT 1", ())

    def export_record(self, export_id: int | None = None) -> dict[str, Any] | None:
        """One export by id, or the newest complete one."""
        if export_id is None:
            return self._export("WHERE status = 'complete' ORDER BY id DESC LIMIT 1", ())
        return self._export("WHERE id = ?", (export_id,))

    def _export(self, clause: str, params: tuple[Any, ...]) -> dict[str, Any] | None:
        found = self.conn.execute(
            f"SELECT id, time, status, forced, out_dir, files FROM exports {clause}", params
        ).fetchone()
        if found is None:
            return None
        return {
            "id": found[0],
            "time": found[1],
            "status": found[2],
            "forced": bool(found[3]),
            "out_dir": found[4],
            "files": json.loads(found[5]),
        }

    def record_export(
        self, *, time: str, forced: bool, out_dir: str, files: list[dict[str, Any]], report: dict[str, Any]
    ) -> int:
        """Records an export as 'writing'; call inside the export's transaction, which also empties
        the change log (`scan.py`)."""
        cursor = self.conn.execute(
            "INSERT INTO exports (time, status, forced, out_dir, files, report) VALUES (?, 'writing', ?, ?, ?, ?)",
            (time, int(forced), out_dir, _json(files), _json(report)),
        )
        return int(cursor.lastrowid or 0)

    def finish_export(self, export_id: int, status: str = "complete") -> None:
        self.conn.execute("UPDATE exports SET status = ? WHERE id = ?", (status, export_id))

    # --- audit ------------------------------------------------------------------------------

    def add_event(
        self,
        *,
        time: str,
        action: str,
        ref: str | None,
        success: bool,
        message: str,
        details: list[dict[str, Any]],
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        self.conn.execute(
            "INSERT INTO events (time, action, account_ref, success, message, details, before, after)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (time, action, ref, int(success), message, _json(details), _json(before), _json(after)),
        )

    def events(self, *, ref: str | None = None, since: str | None = None) -> list[AuditEvent]:
        clauses, params = [], []
        if ref is not None:
            clauses.append("account_ref = ?")
            params.append(ref)
        if since is not None:
            clauses.append("time >= ?")
            params.append(since)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        try:
            found = self.conn.execute(
                "SELECT id, time, action, account_ref, success, message, details, before, after"
                f" FROM events{where} ORDER BY id",
                params,
            ).fetchall()
        except sqlite3.OperationalError:
            raise StoreError(f"{self.path} is not an scmapper database (no audit log)") from None
        return [
            AuditEvent(r[0], r[1], r[2], r[3], bool(r[4]), r[5], json.loads(r[6]), _unjson(r[7]), _unjson(r[8]))
            for r in found
        ]


def person_json(columns: Sequence[str], alias: str) -> str:
    """SQL for a person's row as a JSON object (the change log's and the diff's form)."""
    return "json_object(" + ", ".join(f"'{c}', {alias}.{quote(c)}" for c in columns) + ")" if columns else "'{}'"


def roles_json(columns: Sequence[str], alias: str) -> str:
    """SQL for the roles of the person `alias` as a JSON array, in no particular order: the
    diff compares them as a multiset."""
    if not columns:
        return "'[]'"
    role = ", ".join(f"'{c}', r.{quote(c)}" for c in columns)
    return (
        f"(SELECT '[' || coalesce(group_concat(json_object({role}), ','), '') || ']'"
        f" FROM roles r WHERE r.scm_ref = {alias}.scm_ref)"
    )


def _create_private(path: Path) -> None:
    """A new database file readable by its owner only; SQLite gives -wal and -shm the same mode."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreError(f"cannot create database {path}: {exc.strerror}") from None


def read_legacy(path: str | Path) -> tuple[list[dict[str, str | None]], list[dict[str, str | None]]]:
    """Every row of the old PowerShell connector's `persons` and `roles` tables, in row order."""
    if not Path(path).is_file():
        raise StoreError(f"old database {path} does not exist")
    try:
        conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open old database {path}: {exc}") from None
    conn.row_factory = sqlite3.Row
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = {"persons", "roles"} - tables
        if missing:
            raise StoreError(f"{path} is not the old connector's database: no table {', '.join(sorted(missing))}")
        persons = [dict(r) for r in conn.execute("SELECT * FROM persons ORDER BY rowid")]
        roles = [dict(r) for r in conn.execute("SELECT * FROM roles ORDER BY rowid")]
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot read old database {path}: {exc}") from None
    finally:
        conn.close()
    return persons, roles


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _unjson(text: str | None) -> Any:
    return None if text is None else json.loads(text)
