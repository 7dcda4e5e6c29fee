"""The export's one pass over the store: rows for the files, preflight, and the diff.

Vocabulary: the *change log* (`exported_changes`, kept by the store's writers) holds, for
each person changed since the last export, what that export held of them; the diff compares
those entries with the persons now, so it costs what changed, not what exists. A *suspect*
is a row a cheap SQL test says may fail a preflight check; `checks` then judges it exactly.
With the built-in all-quoted layout, SQLite builds each CSV line itself (`line_sql`; tests
prove it byte-identical to the template). Rows go by in batches; memory holds problems and
changes, not rows. As in the store, identifiers pass `store.quote()` and values are bound
parameters; single rows are read through `Store` itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from scmapper import checks
from scmapper.checks import Diff
from scmapper.csvformat import Dialect
from scmapper.mapping import ExportFile, Mapping
from scmapper.store import Store, StoredPerson, person_json, quote, roles_json

# str.strip()'s whitespace: a cell Python calls blank is empty or starts with one of these.
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + ("\u2028\u2029\u202f\u205f\u3000")
)
BLANK_START = "[" + WHITESPACE + "]*"  # GLOB: starts with whitespace (the set opens with a tab, not ] or ^)
_BATCH = 2000

EMPTY = "no active persons: an empty persons file would deactivate everyone in Spend Cloud"


def line_sql(columns: Sequence[str], alias: str, dialect: Dialect) -> str | None:
    """SQL building a whole CSV line the way `Dialect.row` does, or None if the dialect needs
    Python (minimal quoting, formula guard). Uses the parameters :delimiter and :eol."""
    if not dialect.quote_all or dialect.formula_guard or not columns:
        return None
    cells = [f"'\"' || replace(coalesce({alias}.{quote(c)}, ''), '\"', '\"\"') || '\"'" for c in columns]
    return " || :delimiter || ".join(cells) + " || :eol"


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
    cells), then `problems()` and `diff`, and `commit` (empties the change log) or `rollback`."""

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
        the write lock now (BEGIN IMMEDIATE), so the change log it clears is exactly what it
        compared; agents queue behind it on the busy timeout. A check only reads."""
        # A bounded page cache (16 MiB): the index-ordered reads revisit pages; memory stays flat.
        self.conn.execute("PRAGMA cache_size = -16384")
        self.store.begin(write=write)
        last = self.store.last_export()
        if last:  # its files' row counts: the persons file first, then the roles file
            rows = [f["rows"] for f in last["files"]]
            self.totals.previous_persons, self.totals.previous_roles = (rows + [0, 0])[:2]
        self.diff.listed = last is not None
        self._duplicates = self._find_duplicates()

    def commit(self) -> None:
        """Empties the change log (this export is the next one's baseline) and commits, with
        whatever else the export recorded in the transaction meanwhile."""
        self.conn.execute("DELETE FROM exported_changes")
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
            f"SELECT CASE WHEN {flag} THEN p.scm_ref END, {cells}"
            f" FROM persons p WHERE p.scm_active = 1 ORDER BY {self.key}",
            {**params, **flag_params},
        )

        def suspect(row: tuple[Any, ...]) -> None:
            person = self._stored(row[0])
            self._row_problems += checks.row_problems(f"person {person.row[self.store.key]!r}", person.row, checked)

        for batch in _suspects_checked(cursor, suspect):
            self.totals.persons += len(batch)
            yield from _out(batch, lines, 1)

    def _stored(self, ref: str) -> StoredPerson:
        person = self.store.person(ref)
        assert person is not None  # read in this transaction: it cannot be gone
        return person

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
            f"SELECT CASE WHEN {flag} THEN r.scm_ref END, CASE WHEN {flag} THEN r.scm_seq END,"
            f" {cells} FROM roles r JOIN persons p ON p.scm_ref = r.scm_ref"
            f" WHERE p.scm_active = 1 ORDER BY {self.key}, r.scm_seq",
            {**params, **flag_params},
        )
        for batch in _suspects_checked(cursor, lambda row: self._check_role(row[0], row[1], checked, owner_column)):
            self.totals.roles += len(batch)
            yield from _out(batch, lines, 2)

    def _check_role(self, ref: str, seq: int, checked: Any, owner_column: str | None) -> None:
        person = self._stored(ref)
        row = person.roles[seq]  # a person's roles are numbered from 0 in order (Store.replace_roles)
        who = f"role of person {person.row[self.store.key]!r}"
        self._role_problems += checks.row_problems(who, row, checked)
        if owner_column and not self._exported_username(row[owner_column]):
            self._role_problems.append(f"{who}: {owner_column} {row[owner_column]!r} belongs to no exported person")

    def _exported_username(self, value: str) -> bool:
        holder = self.store.find(self.username, value)  # an active holder first, if there is one
        return holder is not None and self._stored(holder).active

    # --- the diff -------------------------------------------------------------------------

    def compare(self) -> None:
        """The diff against the last export, from the change log; call after the rows."""
        if not self.diff.listed:  # the first export: every person and role is new
            self.diff.totals["joiners"] = self.totals.persons
            self.diff.totals["rolesAdded"] = self.totals.roles
            return
        compared = list(dict.fromkeys([*self.export.persons.columns, *([self.username] if self.username else [])]))
        roles = self.export.roles.columns if self.export.roles else None
        found = self.conn.execute(
            f"SELECT c.key, c.data, c.roles,"
            f" CASE WHEN p.scm_ref IS NOT NULL THEN {person_json(self.store.person_columns, 'p')} END,"
            f" CASE WHEN p.scm_ref IS NOT NULL THEN {roles_json(self.store.role_columns, 'p')} END"
            f" FROM exported_changes c LEFT JOIN persons p ON {self.key} = c.key AND p.scm_active = 1"
            " ORDER BY c.key"
        )
        for key, old, old_roles, now, now_roles in found:
            if old is None and now is None:
                continue
            if now is None:
                self.diff.leaver(key, json.loads(old).get(self.username, ""))
            else:
                self.diff.person(key, json.loads(old) if old else None, now, compared, self.username)
            if roles is not None:
                self.diff.roles(key, json.loads(old_roles or "[]"), json.loads(now_roles or "[]"), roles)

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
                # More bytes than characters: a character beyond ASCII (or a NUL). Sorted below.
                + (f" AND length(p.{col}) <> length(CAST(p.{col} AS BLOB))" if narrow else ""),
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


def _suspects_checked(cursor: Any, suspect: Callable[[tuple[Any, ...]], None]) -> Iterator[list[Any]]:
    """The query's rows in batches, after `suspect` has seen each row whose first field is set."""
    while batch := cursor.fetchmany(_BATCH):
        for row in batch:
            if row[0] is not None:
                suspect(row)
        yield batch


def _out(batch: list[Any], lines: bool, start: int) -> Iterator[str | tuple[str, ...]]:
    """A batch as the file's rows (from field `start` on): its lines joined into one string, or
    each row's cells."""
    if lines:
        yield "".join([r[start] for r in batch])
    else:
        for row in batch:
            yield row[start:]
