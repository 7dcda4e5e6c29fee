"""Exports: their records, and the one transaction an export reads and records in.

Vocabulary: an *export session* is that transaction. It reads one moment of the database
(WAL: a reader blocks no writer), so agents go on writing while the files render; recording
takes the write lock, and succeeds only if nobody wrote since that moment, so the change log it
empties on commit is exactly what it compared (`Moved` otherwise: the export is made again). A
session may take the lock before its first read instead (`lock_first`), and then always
records. A check only reads, and rolls back. Rows go by in *batches*; a *suspect*
is a row a cheap SQL test says may fail a preflight check (a few more are fine): the caller
judges it exactly. The *change log* (changelog.py) gives the diff: what the last export held of
each person changed since.

A *held* person is one whose rows fail a check: the export writes what Spend Cloud holds of
them instead (their rows in the last export, kept in the change log), or leaves them out when
Spend Cloud has nothing of them yet. Their change-log entry outlives the export, so it keeps
saying what Spend Cloud holds until they pass.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any

from scmapper.core.identity import fold
from scmapper.store.audit import to_json
from scmapper.store.changelog import person_json, roles_json
from scmapper.store.connection import Database, is_busy, quote
from scmapper.store.persons import Persons, StoredPerson

# str.strip()'s whitespace: a cell Python calls blank is empty or starts with one of these.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + ("\u2028\u2029\u202f\u205f\u3000")
)
BLANK_START = "[" + WHITESPACE + "]*"
ASCII_SPACE = "".join(
    c for c in WHITESPACE if c.isascii()
)  # what str.strip() removes from ASCII text  # GLOB: starts with whitespace (the set opens with a tab, not ] or ^)
BATCH = 2000

# Builds one whole CSV line from the SQL expressions of its cells, or None (csvformat.line_sql).
LineBuilder = Callable[[Sequence[str]], "tuple[str, dict[str, str]] | None"]


@dataclass(frozen=True)
class ExportRecord:
    id: int
    time: str
    status: str  # writing | complete | interrupted
    forced: bool
    out_dir: str
    files: list[dict[str, Any]]  # name, path, rows, sha256; the persons file first

    def row_counts(self) -> tuple[int, int]:
        rows = [f["rows"] for f in self.files] + [0, 0]
        return rows[0], rows[1]


class Moved(Exception):
    """The database changed after the export session read it: what it rendered is of an older
    moment, so it records nothing and the export is made again."""


@dataclass(frozen=True)
class Held:
    """A person held back: `kept` when the export writes what Spend Cloud holds of them (their
    rows as the last export wrote them), False when they are left out (Spend Cloud has none)."""

    ref: str
    key: str
    kept: bool


@dataclass(frozen=True)
class Watch:
    """A column a preflight check watches: must be non-empty, at most so long, cp1252 only."""

    column: str
    required: bool = False
    max_length: int | None = None
    cp1252: bool = False


@dataclass(frozen=True)
class Batch:
    """Some of a file's rows, in file order: finished lines (`lines`) or each row's cells, and
    the suspects among them (a person's account reference; for roles, (reference, seq))."""

    rows: list[Any]
    lines: bool
    suspects: list[Any]


_RECORD = "SELECT id, time, status, forced, out_dir, files FROM exports"


class Exports:
    """The exports table, and sessions over the persons and roles of one shape."""

    def __init__(self, db: Database, persons: Persons) -> None:
        self.db, self.persons = db, persons

    def last(self) -> ExportRecord | None:
        return self._one(f"{_RECORD} ORDER BY id DESC LIMIT 1")

    def get(self, export_id: int | None = None) -> ExportRecord | None:
        """One export by id, or the newest complete one."""
        if export_id is None:
            return self._one(f"{_RECORD} WHERE status = 'complete' ORDER BY id DESC LIMIT 1")
        return self._one(f"{_RECORD} WHERE id = ?", (export_id,))

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> ExportRecord | None:
        found = self.db.one(sql, params)
        if found is None:
            return None
        return ExportRecord(found[0], found[1], found[2], bool(found[3]), found[4], json.loads(found[5]))

    def summary(self, export_id: int) -> dict[str, Any]:
        """What the exports table keeps of an export's report (counts, held, stamp...)."""
        found = self.db.one("SELECT report FROM exports WHERE id = ?", (export_id,))
        data = json.loads(found[0]) if found and found[0] else {}
        return data if isinstance(data, dict) else {}

    def waiting(self) -> int:
        """Persons changed since the last export (held persons, whose entry stays, included)."""
        return int(self.db.one("SELECT count(*) FROM exported_changes")[0])

    def finish(self, export_id: int, status: str = "complete") -> None:
        self.db.execute("UPDATE exports SET status = ? WHERE id = ?", (status, export_id))

    @contextmanager
    def session(self, *, write: bool, lock_first: bool = False) -> Iterator[ExportSession]:
        """The export's transaction: committed, with the change log emptied, when the session
        recorded an export; rolled back otherwise (a check, a refusal, an error, Moved)."""
        # A bounded page cache (16 MiB): the index-ordered reads revisit pages; memory stays flat.
        self.db.execute("PRAGMA cache_size = -16384")
        self.db.begin(write=write and lock_first)
        session = ExportSession(self.db, self.persons, self.last())
        try:
            yield session
        except BaseException:
            self.db.end(commit=False)
            raise
        if session.recorded is not None:
            session.empty_change_log()
        self.db.end(commit=session.recorded is not None)


class ExportSession:
    """What an export reads, all at one moment: the rows of its files with their suspects,
    duplicate values, the change log; and the record of what it wrote."""

    def __init__(self, db: Database, persons: Persons, last: ExportRecord | None) -> None:
        self.db, self.persons, self.last = db, persons, last
        self.key = f"p.{quote(persons.key)}"
        self.recorded: int | None = None
        self.held: list[Held] = []
        # Where the rows come from: the tables, or (once `hold` has run) the tables less the
        # held persons plus what Spend Cloud holds of them.
        self._persons, self._roles = "persons", "roles"

    # --- held persons ------------------------------------------------------------------------

    def hold(self, refs: Sequence[str]) -> list[Held]:
        """Holds these persons back from the rows that follow: each keeps what Spend Cloud holds
        of them (the change log's entry; their current rows when they have none since the last
        export), or is left out when Spend Cloud has nothing of them."""
        shape = self.persons.shape
        for table, source in (("scm_held_persons", "persons"), ("scm_held_roles", "roles")):
            copy = f"CREATE TEMP TABLE IF NOT EXISTS {table} AS SELECT * FROM main.{source} WHERE 0"
            self.db.execute(copy)  # ok: both names are the constants of this loop
            self.db.execute(f"DELETE FROM temp.{table}")  # ok: a constant name
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS scm_held (ref TEXT PRIMARY KEY, key TEXT, kept INTEGER)")
        self.db.execute("DELETE FROM temp.scm_held")
        self.held = [self._hold(ref, shape.columns, shape.role_columns) for ref in refs]
        self.db.executemany(
            "INSERT INTO temp.scm_held (ref, key, kept) VALUES (?, ?, ?)", [(h.ref, h.key, h.kept) for h in self.held]
        )
        outside = "scm_ref NOT IN (SELECT ref FROM temp.scm_held)"
        self._persons = f"(SELECT * FROM main.persons WHERE {outside} UNION ALL SELECT * FROM temp.scm_held_persons)"
        self._roles = f"(SELECT * FROM main.roles WHERE {outside} UNION ALL SELECT * FROM temp.scm_held_roles)"
        return self.held

    def _hold(self, ref: str, columns: Sequence[str], role_columns: Sequence[str]) -> Held:
        stored = self.person(ref)
        key = stored.row[self.persons.key]
        entry = self.db.one("SELECT data, roles FROM exported_changes WHERE key = ?", (key,))
        if entry is None:  # unchanged since the last export, or there was none
            row, roles = (stored.row, stored.roles) if self.last is not None else (None, [])
        else:
            row, roles = (json.loads(entry[0]), json.loads(entry[1] or "[]")) if entry[0] else (None, [])
        if row is None:
            return Held(ref, key, kept=False)
        self.db.execute("INSERT INTO temp.scm_held_persons SELECT * FROM main.persons WHERE scm_ref = ?", (ref,))
        names = [c for c in columns if c in row]
        assignments = ", ".join(f"{quote(c)} = ?" for c in names)
        self.db.execute(
            f"UPDATE temp.scm_held_persons SET scm_active = 1{', ' if names else ''}{assignments} WHERE scm_ref = ?",
            (*[row[c] for c in names], ref),
        )
        cells = ", ".join(quote(c) for c in role_columns)
        marks = ", ".join("?" for _ in role_columns)
        self.db.executemany(
            f"INSERT INTO temp.scm_held_roles (scm_ref, scm_seq{', ' if cells else ''}{cells})"
            f" VALUES (?, ?{', ' if marks else ''}{marks})",
            [(ref, seq, *[role.get(c, "") for c in role_columns]) for seq, role in enumerate(roles)],
        )
        return Held(ref, key, kept=True)

    def empty_change_log(self) -> None:
        """As the export commits: the change log starts again, but for the held persons, whose
        entry goes on saying what Spend Cloud holds (one is made where they had none)."""
        if not self.held:
            self.db.execute("DELETE FROM exported_changes")
            return
        shape = self.persons.shape
        self.db.execute("DELETE FROM exported_changes WHERE key NOT IN (SELECT key FROM temp.scm_held)")
        self.db.execute(
            f"INSERT OR IGNORE INTO exported_changes (key, data, roles) SELECT h.key,"
            f" CASE WHEN h.kept THEN {person_json(shape.columns, 'p')} END,"
            f" CASE WHEN h.kept THEN {roles_json(shape.role_columns, 'p')} END"
            f" FROM temp.scm_held h JOIN persons p ON p.scm_ref = h.ref"
        )

    # --- rows ------------------------------------------------------------------------------

    def person_rows(self, columns: Sequence[str], line: LineBuilder | None, watch: Sequence[Watch]) -> Iterator[Batch]:
        """The active persons in key order: their exported columns (or whole lines, when `line`
        builds them), with the persons a watched column may fail on."""
        cells, params, lines = _cells(columns, "p", line)
        flag, flag_params = _suspect_sql(watch, "p")
        cursor = self.db.execute(
            f"SELECT {cells}, CASE WHEN {flag} THEN p.scm_ref END"
            f" FROM {self._persons} p WHERE p.scm_active = 1 ORDER BY {self.key}",
            {**params, **flag_params},
        )
        yield from _batches(cursor, lines, 1)

    def role_rows(
        self, columns: Sequence[str], line: LineBuilder | None, watch: Sequence[Watch], owner: str | None
    ) -> Iterator[Batch]:
        """The roles of active persons, by person key then order; a suspect also where the role's
        `owner` column (the username) differs from its person's."""
        if not self.persons.shape.role_columns:  # a mapping without roles: a file with its header only
            return
        cells, params, lines = _cells(columns, "r", line)
        flag, flag_params = _suspect_sql(watch, "r")
        if owner:
            flag = f"({flag} OR r.{quote(owner)} IS NOT p.{quote(owner)})"
        cursor = self.db.execute(
            f"SELECT {cells}, CASE WHEN {flag} THEN r.scm_ref END, CASE WHEN {flag} THEN r.scm_seq END"
            f" FROM {self._roles} r JOIN {self._persons} p ON p.scm_ref = r.scm_ref"
            f" WHERE p.scm_active = 1 ORDER BY {self.key}, r.scm_seq",
            {**params, **flag_params},
        )
        yield from _batches(cursor, lines, 2)

    def active_rows(self) -> tuple[int, int]:
        """How many persons and roles the files will hold (for a progress bar)."""
        persons = self.db.one(f"SELECT count(*) FROM {self._persons} p WHERE scm_active = 1")[0]
        if not self.persons.shape.role_columns:
            return persons, 0
        roles = self.db.one(
            f"SELECT count(*) FROM {self._roles} r JOIN {self._persons} p ON p.scm_ref = r.scm_ref"
            " WHERE p.scm_active = 1"
        )[0]
        return persons, roles

    def person(self, ref: str) -> StoredPerson:
        found = self.persons.get(ref)
        assert found is not None  # read in this transaction: it cannot be gone
        return found

    def active_holder(self, column: str, value: str) -> bool:
        """Whether an active person holds exactly this value in column."""
        holder = self.persons.find(column, value)  # an active holder first, if there is one
        return holder is not None and self.person(holder).active

    # --- duplicates and the diff -----------------------------------------------------------

    def holders(self, column: str) -> list[tuple[str, str]]:
        """(key, value) of active persons that may share `column`, folded (identity.fold), with
        another. A unique column's folded twin is indexed unique, so only values whose twin SQL
        cannot vouch for need a look: those beyond ASCII, those whose twin is not their trimmed
        lower case (edited behind scmapper's back), and whoever holds what those fold to."""
        base = f"SELECT {self.key}, p.{quote(column)} FROM persons p WHERE p.scm_active = 1 AND p.{quote(column)} <> ''"
        twin = self.persons.shape.folded.get(column)
        if twin is None:
            return sorted(self.db.execute(base).fetchall())
        col, twin = quote(column), quote(twin)
        found = self.db.execute(
            f"{base} AND (length(p.{col}) <> length(CAST(p.{col} AS BLOB))"  # more bytes than characters
            f" OR p.{twin} IS NOT lower(trim(p.{col}, :space)))",
            {"space": ASCII_SPACE},
        ).fetchall()
        for folded in {fold(value) for _, value in found}:
            found += self.db.execute(f"{base} AND p.{twin} = ?", (folded,)).fetchall()  # ok: quote()d
        return sorted(dict(found).items())

    def inactive_twins(self, column: str) -> list[tuple[str, str, str]]:
        """(key, value, key of an inactive person) for each active person whose `column` an
        inactive person holds too (ASCII case ignored); by key. The few inactive persons lead,
        each looked up in the unique index of the active ones where there is one."""
        col, key = quote(column), quote(self.persons.key)
        return self.db.execute(
            f"SELECT a.{key}, a.{col}, i.{key} FROM persons i JOIN persons a"
            f" ON a.{col} = i.{col} COLLATE NOCASE AND a.scm_active = 1 AND a.{col} <> ''"
            f" WHERE i.scm_active = 0 AND i.{col} <> '' ORDER BY a.{key}, i.{key}"
        ).fetchall()

    def changes(self) -> Iterator[tuple[str, str | None, str | None, str | None, str | None]]:
        """(key, row and roles the last export held, row and roles now) as JSON text, NULL where
        the person was not exported then or is not active now; by key."""
        shape = self.persons.shape
        yield from self.db.execute(
            f"SELECT c.key, c.data, c.roles,"
            f" CASE WHEN p.scm_ref IS NOT NULL THEN {person_json(shape.columns, 'p')} END,"
            f" CASE WHEN p.scm_ref IS NOT NULL THEN {roles_json(shape.role_columns, 'p')} END"
            f" FROM exported_changes c LEFT JOIN persons p ON {self.key} = c.key AND p.scm_active = 1"
            f"{' WHERE c.key NOT IN (SELECT key FROM temp.scm_held)' if self.held else ''}"  # no change for them
            " ORDER BY c.key"
        )

    # --- the record ------------------------------------------------------------------------

    def record(self, *, time: str, forced: bool, out_dir: str, files: list[dict[str, Any]], summary: Any) -> int:
        """Records the export as 'writing' (a previous one still 'writing' never finished:
        'interrupted'); the session commits it, and empties the change log, as it ends."""
        try:  # the first write takes the write lock: refused if anyone wrote since this moment
            self.db.execute("UPDATE scm_meta SET value = value WHERE key = 'schema_version'")
        except sqlite3.OperationalError as exc:
            if is_busy(exc):
                raise Moved(str(exc)) from None
            raise
        if self.last and self.last.status == "writing":
            self.db.execute("UPDATE exports SET status = 'interrupted' WHERE id = ?", (self.last.id,))
        cursor = self.db.execute(
            "INSERT INTO exports (time, status, forced, out_dir, files, report) VALUES (?, 'writing', ?, ?, ?, ?)",
            (time, int(forced), out_dir, to_json(files), to_json(summary)),
        )
        self.recorded = int(cursor.lastrowid or 0)
        return self.recorded


def _cells(columns: Sequence[str], alias: str, line: LineBuilder | None) -> tuple[str, dict[str, str], bool]:
    """The SELECT list for a file's rows: one finished line where `line` can build it, else
    the exported columns; and which of the two it is."""
    cells = [f"{alias}.{quote(c)}" for c in columns]
    built = line(cells) if line and cells else None
    if built is not None:
        return built[0], built[1], True
    return ", ".join(cells) or "NULL", {}, False


def _suspect_sql(watch: Sequence[Watch], alias: str) -> tuple[str, dict[str, Any]]:
    """A SQL condition true for every row that may fail a check."""
    tests: list[str] = []
    params: dict[str, Any] = {"blank": BLANK_START, "cp1252": outside_cp1252_glob()}
    for i, item in enumerate(watch):
        cell = f"{alias}.{quote(item.column)}"
        if item.required:  # a blank cell is empty or starts with whitespace; a cheaper test than trim()
            tests.append(f"coalesce({cell}, '') = '' OR {cell} GLOB :blank")
        if item.max_length:
            tests.append(f"length({cell}) > :n{i}")
            params[f"n{i}"] = item.max_length
        if item.cp1252:
            tests.append(f"{cell} GLOB :cp1252")
    return ("(" + " OR ".join(tests) + ")" if tests else "0"), params


@cache
def outside_cp1252_glob() -> str:
    """A GLOB pattern matching text that holds a character cp1252 cannot encode (or a NUL)."""
    allowed = sorted(ord(ch) for ch in bytes(range(1, 256)).decode("cp1252", errors="ignore"))
    ranges: list[list[int]] = []
    for point in allowed:
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1][1] = point
        else:
            ranges.append([point, point])
    # The first range starts at U+0001, so no ']' or '^' opens the class.
    return "*[^" + "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges) + "]*"


def _batches(cursor: Any, lines: bool, marks: int) -> Iterator[Batch]:
    """The rows of a query whose last `marks` fields say whether it is a suspect."""
    while batch := cursor.fetchmany(BATCH):
        if marks == 1:
            suspects = [r[-1] for r in batch if r[-1] is not None]
        else:
            suspects = [(r[-2], r[-1]) for r in batch if r[-2] is not None]
        rows = [r[0] for r in batch] if lines else [r[:-marks] for r in batch]
        yield Batch(rows, lines, suspects)
