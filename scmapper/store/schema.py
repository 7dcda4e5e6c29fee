"""The store's tables: created, migrated by number, and shaped by a mapping's columns.

Vocabulary: the *schema version* (`scm_meta.schema_version`) numbers the layout of the
bookkeeping tables; `MIGRATIONS[n]` brings a database at version n - 1 to n. The *shape*
is what a mapping asks of the tables: its key, person and role columns and unique
columns; every shape gets the change log's triggers (changelog.py). Each unique column has a
*folded* twin (`scm_fold_<column>`, identity.py) that its unique index covers. An *alias*
(schema 7) is another reference an account answers to, such as the old connector's username.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from scmapper.core.identity import fold
from scmapper.errors import StoreError
from scmapper.store.aliases import ALIASES
from scmapper.store.changelog import keep_change_log
from scmapper.store.connection import Database, quote
from scmapper.store.shape import Shape

SCHEMA_VERSION = 10

BASE = """
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


def prepare(db: Database, shape: Shape) -> list[str]:
    """Bring the tables in line with a shape; returns notes about kept, unmapped columns.

    Costs one read when the shape is unchanged since the last run."""
    for name in (shape.key, *shape.columns, *shape.role_columns):
        quote(name)
    fingerprint = f"{SCHEMA_VERSION}:{shape.fingerprint}"
    if meta(db, "mapping_fingerprint") == fingerprint:
        return []
    with db.transaction():
        if meta(db, "mapping_fingerprint") == fingerprint:  # another process just did it
            return []
        _migrate(db, shape)
        notes = _add_columns(db, "persons", shape.columns) + _add_columns(db, "roles", shape.role_columns)
        _add_folded(db, shape)
        _index_unique(db, shape)
        keep_change_log(db, shape)
        set_meta(db, "mapping_fingerprint", fingerprint)
    return notes


def check(db: Database, shape: Shape) -> None:
    """That a database can be read with a shape as it is, without migrating or adding columns
    (for commands that only look): current schema, and every column the shape names."""
    version = _version(db)
    if version != SCHEMA_VERSION:
        raise StoreError(
            f"{db.path} has schema version {version}, this scmapper reads {SCHEMA_VERSION}: run a writing command"
            " once (apply, sync or export with --check) to bring it up to date"
            if version
            else f"{db.path} is not an scmapper database (no schema version)"
        )
    for table, wanted in (("persons", shape.columns), ("roles", shape.role_columns)):
        missing = [c for c in wanted if c not in _columns(db, table)]
        if missing:
            raise StoreError(
                f"{db.path} has no {table} column {', '.join(missing)}: it was written with another mapping;"
                " use that mapping, or run a writing command with this one first"
            )


def meta(db: Database, key: str) -> str | None:
    try:
        row = db.one("SELECT value FROM scm_meta WHERE key = ?", (key,))
    except sqlite3.OperationalError:  # a new database has no tables yet
        return None
    return row[0] if row else None


def set_meta(db: Database, key: str, value: str) -> None:
    db.execute(
        "INSERT INTO scm_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


# --- numbered migrations -------------------------------------------------------------------


def _migrate(db: Database, shape: Shape) -> None:
    """Runs the migrations after the database's version, then creates what is missing."""
    version = _version(db)
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{db.path} has schema version {version}, written by a newer scmapper than this one"
            f" (which knows up to {SCHEMA_VERSION}); upgrade scmapper"
        )
    for target in range(version + 1, SCHEMA_VERSION + 1):
        step = MIGRATIONS.get(target)
        if step and version:  # a new database is created at the current version directly
            step(db, shape)
    _run_script(db, BASE + ALIASES)
    set_meta(db, "schema_version", str(SCHEMA_VERSION))


def _run_script(db: Database, script: str) -> None:
    """Runs DDL statements one by one (executescript would commit the open transaction)."""
    for statement in script.split(";\n"):
        if statement.strip():
            db.execute(statement)


def _version(db: Database) -> int:
    """The schema version, 0 for a new database; a database with tables but no version is not ours."""
    found = meta(db, "schema_version")
    if found is not None:
        return int(found)
    if _tables(db) & {"persons", "roles"}:
        raise StoreError(
            f"{db.path} is not an scmapper database (it has no schema version); to take over the"
            " old connector's database, run `scmapper adopt` with it as OLD_SPENDCLOUD_DB"
        )
    return 0


def _tables(db: Database) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _columns(db: Database, table: str) -> list[str]:
    return [r[1] for r in db.execute(f"PRAGMA table_info({quote(table)})")]  # ok: quote()d


def _to_3(db: Database, shape: Shape) -> None:
    """Schema 2 kept one exported role per row, 3 one row per person: the old rows go, so the
    next export lists those roles once as added."""
    if "exported_roles" in _tables(db) and "count" not in _columns(db, "exported_roles"):
        db.execute("DROP TABLE exported_roles")


def _to_4(db: Database, shape: Shape) -> None:
    """Sync's record fingerprints."""
    if "scm_source" not in _columns(db, "persons"):
        db.execute("ALTER TABLE persons ADD COLUMN scm_source TEXT")


def _to_5(db: Database, shape: Shape) -> None:
    """Schemas 3-4 kept the whole last export (exported_persons, exported_roles); 5 keeps only
    what changed since. Every kept person becomes an entry (the next diff compares them all,
    once), and so does every active person the last export did not hold."""
    tables = _tables(db)
    if "exported_persons" not in tables:
        return
    db.execute(
        "CREATE TABLE IF NOT EXISTS exported_changes (key TEXT PRIMARY KEY, data TEXT, roles TEXT) WITHOUT ROWID"
    )
    kept_roles = "exported_roles" in tables
    db.execute(
        "INSERT OR IGNORE INTO exported_changes (key, data, roles) SELECT e.key, e.data,"
        + (
            " coalesce(r.data, '[]') FROM exported_persons e LEFT JOIN exported_roles r ON r.owner = e.key"
            if kept_roles
            else " '[]' FROM exported_persons e"
        )
    )
    db.execute(
        f"INSERT OR IGNORE INTO exported_changes (key, data, roles) SELECT {quote(shape.key)}, NULL, NULL"
        " FROM persons WHERE scm_active = 1 AND EXISTS (SELECT 1 FROM exports)"
    )
    db.execute("DROP TABLE exported_persons")
    if kept_roles:
        db.execute("DROP TABLE exported_roles")


def _to_7(db: Database, shape: Shape) -> None:
    """Aliases (aliases.py): the table and its guards; no data moves."""
    _run_script(db, ALIASES)


# Schema 6 keeps the change log with triggers (made by keep_change_log for every shape), schema 8
# compares unique columns folded (twins made by _add_folded): no data moves in either, but an
# older database must get them before its next write.
def _to_9(db: Database, shape: Shape) -> None:
    """The audit log's indexes cost every event more than they saved `log`, which now scans."""
    db.execute("DROP INDEX IF EXISTS scm_events_ref")
    db.execute("DROP INDEX IF EXISTS scm_events_time")


# Schema 10 notes which adopted accounts HelloID addresses by their own reference now
# (scm_reference_moved, in aliases.py's script, which runs after every migration): a new table.
MIGRATIONS: dict[int, Callable[[Database, Shape], None]] = {3: _to_3, 4: _to_4, 5: _to_5, 7: _to_7, 9: _to_9}


# --- the mapping's columns -----------------------------------------------------------------


def _add_columns(db: Database, table: str, columns: Sequence[str]) -> list[str]:
    existing = _columns(db, table)
    for name in columns:
        if name not in existing:
            column = f"{quote(name)} TEXT NOT NULL DEFAULT ''"
            db.execute(f"ALTER TABLE {quote(table)} ADD COLUMN {column}")  # ok: quote()d
    unmapped = [c for c in existing if not c.startswith("scm_") and c not in columns]
    return [f"column {c!r} of table {table} is no longer in the mapping; kept with its data" for c in unmapped]


def _add_folded(db: Database, shape: Shape) -> None:
    """A folded twin for each unique column, filled for the rows already there."""
    existing = _columns(db, "persons")
    for name, twin in shape.folded.items():
        if twin in existing:
            continue
        db.execute(f"ALTER TABLE persons ADD COLUMN {quote(twin)} TEXT NOT NULL DEFAULT ''")  # ok: quote()d
        rows = db.execute(f"SELECT scm_ref, {quote(name)} FROM persons").fetchall()  # ok: quote()d
        db.executemany(f"UPDATE persons SET {quote(twin)} = ? WHERE scm_ref = ?", [(fold(v), r) for r, v in rows])


def _index_unique(db: Database, shape: Shape) -> None:
    old = db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'persons' AND name LIKE 'scm_u%'"
    ).fetchall()
    for (name,) in old:
        db.execute(f"DROP INDEX {quote(name)}")  # ok: quote()d
    try:
        db.execute(f"CREATE UNIQUE INDEX scm_ukey ON persons ({quote(shape.key)})")  # ok: quote()d
        for name, twin in shape.folded.items():
            db.execute(
                f"CREATE UNIQUE INDEX {quote('scm_uniq_' + name)} ON persons ({quote(twin)})"
                f" WHERE scm_active = 1 AND {quote(twin)} <> ''"
            )
    except sqlite3.IntegrityError as exc:
        raise StoreError(
            f"the data in {db.path} breaks the mapping's key or unique columns ({exc}); resolve the duplicates first"
        ) from None
