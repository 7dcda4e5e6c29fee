"""The export's one pass over the store: rows for the files, preflight, and the diff.

Vocabulary: the *baseline* is the last recorded export as the database keeps it
(`exported_persons`: key -> the person's row as JSON text; `exported_roles`: owner key ->
its roles as a JSON array). Persons and baseline are both read in key order and merged,
so a person costs one comparison of two strings; the first export, with nothing to compare,
writes its baseline as the rows pass. A *suspect* is a row a cheap SQL test says may fail
a preflight check; `checks` then judges it exactly. With the built-in all-quoted layout,
SQLite builds each CSV line itself (`line_sql`; tests prove it byte-identical to the
template). Rows go by in batches; memory holds problems and changes, not rows.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from scmapper import checks
from scmapper.checks import Diff
from scmapper.csvformat import Dialect
from scmapper.mapping import ExportFile, Mapping
from scmapper.store import Store, quote

# str.strip()'s whitespace: a cell Python calls blank is empty or starts with one of these.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + ("\u2028\u2029\u202f\u205f\u3000")
)
BLANK_START = "[" + WHITESPACE + "]*"  # GLOB: starts with whitespace (the set opens with a tab, not ] or ^)
NON_ASCII = "*[^\x01-\x7f]*"  # GLOB: holds a character outside ASCII (or a NUL)
_BATCH = 2000

EMPTY = "no active persons: an empty persons file would deactivate everyone in Spend Cloud"
_CHANGES = {  # what moves the baseline, in this order
    "gone_persons": "DELETE FROM exported_persons WHERE key = ?",
    "put_persons": "INSERT OR REPLACE INTO exported_persons (key, data) VALUES (?, ?)",
    "gone_roles": "DELETE FROM exported_roles WHERE owner = ?",
    "put_roles": "INSERT OR REPLACE INTO exported_roles (owner, count, data) VALUES (?, ?, ?)",
}


def line_sql(columns: Sequence[str], alias: str, dialect: Dialect) -> str | None:
    """SQL building a whole CSV line the way `Dialect.row` does, or None if the dialect needs
    Python (minimal quoting, formula guard). Uses the parameters :delimiter and :eol."""
    if not dialect.quote_all or dialect.formula_guard or not columns:
        return None
    cells = [f"'\"' || replace(coalesce({alias}.{quote(c)}, ''), '\"', '\"\"') || '\"'" for c in columns]
    return " || :delimiter || ".join(cells) + " || :eol"


def _json_sql(columns: Sequence[str], alias: str) -> str:
    if not columns:
        return "'{}'"
    return "json_object(" + ", ".join(f"'{c}', {alias}.{quote(c)}" for c in columns) + ")"


@dataclass
class Totals:
    persons: int = 0
    roles: int = 0
    previous_persons: int = 0
    previous_roles: int = 0


@dataclass
class Scan:
    """One export's read of the store: `begin`, iterate `persons()` then `roles()` (each yields
    the file's text in chunks of finished lines when SQL builds them, else each row's exported
    cells), then `problems()` and `diff`, and `commit` (moves the baseline) or `rollback`."""

    mapping: Mapping
    store: Store
    diff: Diff = field(default_factory=Diff)
    totals: Totals = field(default_factory=Totals)
    _row_problems: list[str] = field(default_factory=list)
    _role_problems: list[str] = field(default_factory=list)
    _duplicates: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        export = self.mapping.export
        assert export is not None
        self.export = export
        self.conn = self.store.conn
        self.key = f"p.{quote(self.store.key)}"
        self.username = self.mapping.username or ""

    # --- the transaction ------------------------------------------------------------------

    def begin(self, *, write: bool) -> None:
        """Starts the one transaction files, checks and diff are read in. A writing export takes
        the write lock now (BEGIN IMMEDIATE), so what it records is exactly what it read; agents
        queue behind it on the busy timeout. A check only reads."""
        self.write = write
        # A bounded page cache (16 MiB): the index-ordered reads revisit pages; memory stays flat.
        self.conn.execute("PRAGMA cache_size = -16384")
        self.store.begin(write=write)
        self.totals.previous_persons = self.conn.execute("SELECT count(*) FROM exported_persons").fetchone()[0]
        found = self.conn.execute("SELECT count(*), coalesce(sum(count), 0) FROM exported_roles").fetchone()
        self.totals.previous_roles = found[1]
        self.diff.listed = self.totals.previous_persons > 0 or found[0] > 0
        self._changes: dict[str, list[tuple[Any, ...]]] = {name: [] for name in _CHANGES}
        self._duplicates = self._find_duplicates()

    def commit(self) -> None:
        """Moves the baseline to what the scan read, and commits (with whatever else the export
        recorded in the transaction meanwhile)."""
        for name, rows in self._changes.items():
            self.conn.executemany(_CHANGES[name], rows)
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def row_counts(self) -> list[int]:
        return [self.totals.persons, self.totals.roles]

    def problems(self) -> list[str]:
        empty = [] if self.totals.persons else [EMPTY]
        return empty + self._row_problems + self._duplicates + self._role_problems

    # --- persons --------------------------------------------------------------------------

    def persons(self, lines: bool) -> Iterator[str | tuple[str, ...]]:
        """The persons file's rows; `lines`: as finished CSV lines where SQL can build them (a few
        thousand joined into one string at a time)."""
        spec = self.export.persons
        checked = checks.checked_columns(self.mapping.columns, spec.columns, spec.encoding)
        cells, params, lines = _cells(spec, "p", lines)
        flag, flag_params = _suspect_sql(checked, "p")
        cursor = self.conn.execute(
            f"SELECT {self.key}, {_json_sql(self.store.person_columns, 'p')}, {flag}, {cells}"
            f" FROM persons p WHERE p.scm_active = 1 ORDER BY {self.key}",
            {**params, **flag_params},
        )
        compared = list(dict.fromkeys([*spec.columns, *([self.username] if self.username else [])]))
        baseline = _Baseline(self.conn, "SELECT key, data FROM exported_persons ORDER BY key")
        while batch := cursor.fetchmany(_BATCH):
            self.totals.persons += len(batch)
            if self.diff.listed:
                for row in batch:
                    self._compare_person(row[0], row[1], baseline.take(row[0]), compared)
            elif self.write:  # the first export: every row goes to the baseline as it passes
                self.conn.executemany("INSERT INTO exported_persons (key, data) VALUES (?, ?)", [r[:2] for r in batch])
            for row in batch:
                if row[2]:
                    self._row_problems += checks.row_problems(f"person {row[0]!r}", self._person_row(row[0]), checked)
            yield from _out(batch, lines)
        for key, old in baseline.rest():
            self._leaver(key, old)
        if not self.diff.listed:
            self.diff.totals["joiners"] = self.totals.persons

    def _compare_person(self, key: str, now: str, found: tuple[list[Any], str | None], compared: list[str]) -> None:
        gone, old = found
        for gone_key, gone_data in gone:
            self._leaver(gone_key, gone_data)
        if now != old:
            self._changes["put_persons"].append((key, now))
            self.diff.person(key, json.loads(old) if old else None, now, compared, self.username)

    def _leaver(self, key: str, old: str) -> None:
        self._changes["gone_persons"].append((key,))
        self.diff.leaver(key, json.loads(old).get(self.username, ""))

    def _person_row(self, key: str) -> dict[str, str]:
        cols = ", ".join(quote(c) for c in self.store.person_columns)
        found = self.conn.execute(f"SELECT {cols} FROM persons WHERE {quote(self.store.key)} = ?", (key,)).fetchone()
        return dict(zip(self.store.person_columns, found, strict=True))

    # --- roles ----------------------------------------------------------------------------

    def roles(self, lines: bool) -> Iterator[str | tuple[str, ...]]:
        spec = self.export.roles
        assert spec is not None
        if not self.store.role_columns:  # a mapping without roles: a file with its header only
            return
        role_columns = self.mapping.roles.columns if self.mapping.roles else ()
        checked = checks.checked_columns(role_columns, spec.columns, spec.encoding)
        checked = [(c, True, enc) for c, _, enc in checked]  # every exported role cell is needed
        owner_column = self.username if self.username in self.mapping.role_column_names else None
        cells, params, lines = _cells(spec, "r", lines)
        flag, flag_params = _suspect_sql(checked, "r")
        if owner_column:
            flag = f"({flag} OR r.{quote(owner_column)} IS NOT p.{quote(owner_column)})"
        cursor = self.conn.execute(
            f"SELECT {self.key}, {_json_sql(self.store.role_columns, 'r')}, CASE WHEN {flag} THEN r.scm_id END,"
            f" {cells} FROM roles r JOIN persons p ON p.scm_ref = r.scm_ref"
            f" WHERE p.scm_active = 1 ORDER BY {self.key}, r.scm_seq",
            {**params, **flag_params},
        )
        baseline = _Baseline(self.conn, "SELECT owner, data FROM exported_roles ORDER BY owner")
        for batch in _owners_whole(cursor):
            self.totals.roles += len(batch)
            if self.diff.listed:
                for owner, group in itertools.groupby(batch, key=_first):
                    self._compare_roles(owner, list(group), baseline.take(owner), spec.columns)
            elif self.write:  # the first export: every owner's roles go to the baseline as they pass
                self.conn.executemany(
                    "INSERT INTO exported_roles (owner, count, data) VALUES (?, ?, ?)",
                    [(o, len(rs), _array(rs)) for o, rs in ((o, list(g)) for o, g in itertools.groupby(batch, _first))],
                )
            for row in batch:
                if row[2] is not None:
                    self._check_role(row[0], row[2], checked, owner_column)
            yield from _out(batch, lines)
        for owner, old in baseline.rest():
            self._gone_roles(owner, old, spec.columns)
        if not self.diff.listed:
            self.diff.totals["rolesAdded"] = self.totals.roles

    def _compare_roles(
        self, owner: str, now: list[Any], found: tuple[list[Any], str | None], columns: Sequence[str]
    ) -> None:
        gone, old = found
        for gone_owner, gone_data in gone:
            self._gone_roles(gone_owner, gone_data, columns)
        text = _array(now)
        if text != old:
            self._changes["put_roles"].append((owner, len(now), text))
            self.diff.roles(owner, json.loads(old) if old else [], json.loads(text), columns)

    def _gone_roles(self, owner: str, old: str, columns: Sequence[str]) -> None:
        self._changes["gone_roles"].append((owner,))
        self.diff.roles(owner, json.loads(old), [], columns)

    def _check_role(self, owner: str, role_id: int, checked: Any, owner_column: str | None) -> None:
        cols = ", ".join(quote(c) for c in self.store.role_columns)
        found = self.conn.execute(f"SELECT {cols} FROM roles WHERE scm_id = ?", (role_id,)).fetchone()
        row = dict(zip(self.store.role_columns, found, strict=True))
        who = f"role of person {owner!r}"
        self._role_problems += checks.row_problems(who, row, checked)
        if owner_column and not self._exported_username(row[owner_column]):
            self._role_problems.append(f"{who}: {owner_column} {row[owner_column]!r} belongs to no exported person")

    def _exported_username(self, value: str) -> bool:
        column = quote(self.username)
        sql = f"SELECT 1 FROM persons WHERE scm_active = 1 AND {column} = ? LIMIT 1"
        return self.conn.execute(sql, (value,)).fetchone() is not None

    # --- shared ---------------------------------------------------------------------------

    def _find_duplicates(self) -> list[str]:
        """Unique columns shared case-insensitively (str.casefold) by active persons. Where a unique
        index already rules out ASCII case duplicates, only values beyond ASCII need a look."""
        found: list[str] = []
        indexed = {
            name
            for (name,) in self.conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'persons'"
            )
        }
        for column in dict.fromkeys(c for c in (self.mapping.username, *self.mapping.unique) if c):
            col, key = quote(column), self.key
            narrow = f"scm_uniq_{column}" in indexed
            holders = self.conn.execute(
                f"SELECT {key}, p.{col} FROM persons p WHERE p.scm_active = 1 AND p.{col} <> ''"
                + (f" AND p.{col} GLOB :wide" if narrow else ""),  # sorted below: no index walk
                {"wide": NON_ASCII},
            ).fetchall()
            if narrow:
                holders += self._ascii_twins(column, holders)
            found += checks.duplicates(column, sorted(dict(holders).items()))
        return found

    def _ascii_twins(self, column: str, wide: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """ASCII values equal, case-insensitively, to a wide value's casefold (ß -> ss)."""
        col = quote(column)
        twins = []
        for folded in {value.casefold() for _, value in wide}:
            if folded.isascii():
                twins += self.conn.execute(
                    f"SELECT {self.key}, p.{col} FROM persons p"
                    f" WHERE p.{col} = ? COLLATE NOCASE AND p.scm_active = 1 AND p.{col} <> ''",
                    (folded,),
                ).fetchall()
        return twins


def _cells(spec: ExportFile, alias: str, lines: bool) -> tuple[str, dict[str, str], bool]:
    """The SELECT list for a file's rows: one finished line where SQL can build it, else the
    exported columns; and which of the two it is."""
    dialect = Dialect.of(spec)
    sql = line_sql(spec.columns, alias, dialect) if lines else None
    if sql is not None:
        return sql, {"delimiter": dialect.delimiter, "eol": dialect.line_ending}, True
    return ", ".join(f"{alias}.{quote(c)}" for c in spec.columns) or "NULL", {}, False


def _suspect_sql(checked: list[tuple[Any, bool, str | None]], alias: str) -> tuple[str, dict[str, Any]]:
    """A SQL condition true for every row that may fail a check (a few more are fine)."""
    tests, params = [], {"blank": BLANK_START, "cp1252": checks.outside_cp1252_glob()}
    for i, (column, required, encoding) in enumerate(checked):
        cell = f"{alias}.{quote(column.name)}"
        if required:  # a blank cell is empty or starts with whitespace; a cheaper test than trim()
            tests.append(f"coalesce({cell}, '') = '' OR {cell} GLOB :blank")
        if column.max_length:
            tests.append(f"length({cell}) > :n{i}")
            params[f"n{i}"] = column.max_length
        if encoding:
            tests.append(f"{cell} GLOB :cp1252")
    return ("(" + " OR ".join(tests) + ")" if tests else "0"), params


class _Baseline:
    """The previous export's rows in key order, taken alongside the current rows (also in key
    order: SQLite's BINARY order of text is code point order, as Python compares str)."""

    def __init__(self, conn: Any, sql: str) -> None:
        self.cursor = conn.cursor().execute(sql)
        self.head: tuple[str, str] | None = self.cursor.fetchone()

    def take(self, key: str) -> tuple[list[tuple[str, str]], str | None]:
        """The rows before `key` (gone since), and key's own text (None: new since)."""
        gone, head = [], self.head
        while head is not None and head[0] < key:
            gone.append(head)
            head = self.cursor.fetchone()
        old = None
        if head is not None and head[0] == key:
            old, head = head[1], self.cursor.fetchone()
        self.head = head
        return gone, old

    def rest(self) -> Iterator[tuple[str, str]]:
        while self.head is not None:
            yield self.head
            self.head = self.cursor.fetchone()


def _owners_whole(cursor: Any) -> Iterator[list[Any]]:
    """Rows in batches that never split one owner's roles (the owner is each row's first field)."""
    pending: list[Any] = []
    while batch := cursor.fetchmany(_BATCH):
        batch = pending + batch
        cut = len(batch)
        while cut and batch[cut - 1][0] == batch[-1][0]:
            cut -= 1
        if cut:
            yield batch[:cut]
        pending = batch[cut:]
    if pending:
        yield pending


def _out(batch: list[Any], lines: bool) -> Iterator[str | tuple[str, ...]]:
    """A batch as the file's rows: its lines joined into one string, or each row's cells."""
    if lines:
        yield "".join([r[3] for r in batch])
    else:
        for row in batch:
            yield row[3:]


def _first(row: Any) -> Any:
    return row[0]


def _array(rows: list[Any]) -> str:
    """An owner's roles as the baseline keeps them: a JSON array of the rows' JSON objects."""
    return "[" + ",".join(r[1] for r in rows) + "]"
