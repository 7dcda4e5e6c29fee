"""The connection to one SQLite file: opening it, its pragmas, and its transactions.

Vocabulary: a `Database` owns one connection; every statement of the store runs through
it. A *write* transaction begins IMMEDIATE, so parallel agents queue on the busy timeout
instead of failing to upgrade a read lock. Every value is a bound parameter; every
identifier passes `quote()`.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from scmapper.errors import BusyError, StoreError

BUSY_TIMEOUT_MS = 60_000
# The way out of a database that cannot be opened, read or written: it is the environment's.
CHECK_DATABASE = (
    "Check that --db names scmapper's database (a path that does not exist yet makes a new one),"
    " that this account may read and write it and its folder, and that the disk has room;"
    " restore a damaged database from its backup"
)
# A mapping column has at most 63 characters; the store prefixes some of its own (scm_fold_...).
_IDENTIFIER = re.compile(r"\A[A-Za-z][A-Za-z0-9_]{0,127}\Z")


@cache
def quote(name: str) -> str:
    """A validated, double-quoted SQL identifier (memoised: every statement quotes its columns)."""
    if not _IDENTIFIER.match(name):
        raise StoreError(f"not a valid column name: {name!r}")
    return f'"{name}"'


STORED_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"


def now() -> str:
    """UTC time as stored everywhere: sortable text, microseconds, 'Z'."""
    # isoformat is several times faster than strftime, and this runs twice for every event.
    return datetime.now(UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def stored_time(text: str) -> str:
    """An ISO 8601 time (any precision, 'Z' or an offset; no zone is UTC) as `now()` writes
    them; text that is no such time is kept as it is."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(STORED_TIME)


def environment_error(exc: BaseException) -> StoreError | None:
    """A SQLite failure that says the database file is at fault (corrupt, unreadable, locked,
    out of space) as the StoreError to report; None for anything else, which is a bug."""
    if type(exc) not in (sqlite3.DatabaseError, sqlite3.OperationalError):
        return None
    if is_busy(exc):
        return busy(str(getattr(exc, "filename", "") or "the database"))
    return StoreError(f"the database cannot be read or written: {exc}. {CHECK_DATABASE}")


def is_busy(exc: BaseException) -> bool:
    """Whether SQLite gave up waiting for another connection's lock."""
    return isinstance(exc, sqlite3.OperationalError) and (
        getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
        or "locked" in str(exc)
        or "busy" in str(exc)
    )


def busy(path: str) -> BusyError:
    return BusyError(
        f"database busy: another scmapper run (a sync, or an export recording) held {path} longer than"
        " this one waits; nothing was done: run it again in a moment"
    )


def _journal_mode_wal(conn: sqlite3.Connection) -> str:
    """Sets WAL mode and says the mode it got. Turning a new file into WAL takes an exclusive
    lock that SQLite does not wait for with the busy handler: agents opening one new database
    at the same moment would see "database is locked", so this waits as the busy timeout would."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class Database:
    """One SQLite file in WAL mode with a busy timeout; `durable` syncs every commit. A
    `read_only` one can neither create the file nor write to it (commands that only look)."""

    def __init__(self, path: str | Path, *, durable: bool = True, read_only: bool = False) -> None:
        self.path = Path(path)
        memory = str(path) == ":memory:"
        if read_only:
            self.conn = _open_read_only(self.path)
            return
        if not memory:
            _create_private(self.path)
        try:
            self.conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {self.path}: {exc}. {CHECK_DATABASE}") from None
        try:  # a connection that cannot be set up is closed here: nobody else holds it yet
            self.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")  # ok: an int constant
            mode = _journal_mode_wal(self.conn)
            # FULL syncs every commit; batch loads trade the last commits on power loss for speed.
            self.conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")  # ok: one of two constants
            self.conn.execute("PRAGMA foreign_keys = ON")
            if mode.lower() != "wal" and not memory:
                raise StoreError(f"database {self.path} cannot use WAL journal mode (got {mode})")
        except sqlite3.Error as exc:
            self.conn.close()
            raise StoreError(f"cannot open database {self.path}: {exc}. {CHECK_DATABASE}") from None
        except BaseException:
            self.conn.close()
            raise

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Any]) -> sqlite3.Cursor:
        return self.conn.executemany(sql, rows)

    def one(self, sql: str, params: Any = ()) -> Any:
        """The first row of a query, or None."""
        return self.conn.execute(sql, params).fetchone()

    def check_integrity(self) -> None:
        """StoreError when SQLite's quick check finds the file damaged anywhere, also where this
        command would never read (a log of a database whose persons table is damaged)."""
        found = [str(row[0]) for row in self.conn.execute("PRAGMA quick_check(5)")]
        if found != ["ok"]:
            raise StoreError(
                f"the database fails SQLite's integrity check ({'; '.join(found)[:300]}). {CHECK_DATABASE}"
            )

    def close(self) -> None:
        self.conn.close()

    def begin(self, *, write: bool) -> None:
        """Opens a transaction: `write` takes the write lock at once (IMMEDIATE); a read sees
        one moment of the database until it ends."""
        try:
            self.conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.OperationalError as exc:
            if is_busy(exc):
                raise busy(str(self.path)) from None
            raise StoreError(f"cannot start a transaction on {self.path}: {exc}") from None

    def wait_for_locks(self, seconds: float) -> None:
        """How long this connection waits for another's write lock before BusyError."""
        self.conn.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")  # ok: an int

    def end(self, *, commit: bool) -> None:
        """Commits or rolls back the open transaction (a rollback of none is a no-op)."""
        if commit:
            self.conn.execute("COMMIT")
        elif self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def transaction(self) -> Transaction:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception."""
        return Transaction(self)


class Transaction:
    """One write transaction as a context manager; a class rather than a generator, since every
    event opens one."""

    __slots__ = ("db",)

    def __init__(self, db: Database) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.begin(write=True)

    def __exit__(self, kind: type[BaseException] | None, *rest: object) -> None:
        self.db.end(commit=kind is None)


def _create_private(path: Path) -> None:
    """A new database file readable by its owner only; SQLite gives -wal and -shm the same mode."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise StoreError(f"cannot create database {path}: {exc.strerror}") from None


def _open_read_only(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise StoreError(f"database {path} does not exist")
    uri = path.resolve().as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database {path}: {exc}") from None
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(f"cannot open database {path}: {exc}") from None
    return conn
