"""Floors for benchmarks/run.py: the least work that produces the same rows or files.

Each floor is what a figure could cost at best on this machine: the same SQLite tables,
pragmas and rows as scmapper, without the mapping, the checks or the bookkeeping. The
benchmark runs them as child processes, timed exactly like the scmapper commands.

As a program (the runner calls these; they are not meant for people):

    python floors.py dump SCMAPPER_DB ROWS.pickle        # untimed: the rows scmapper wrote
    python floors.py load ROWS.pickle NEW_DB --per-person # timed: one transaction per person
    python floors.py load ROWS.pickle NEW_DB --one-transaction
    python floors.py minimal ROWS.pickle MINIMAL.pickle KEY USERNAME EMAIL  # untimed: minimal rows
    python floors.py load-minimal MINIMAL.pickle NEW_DB   # timed: a minimal schema, per person

As a module: `single_event_script` (the source of a minimal one-event writer), `person_rows`
(one person's rows from a database) and `export_sql` (a sqlite3 shell script writing both
CSV files with every field quoted).
"""

# ruff: noqa: S608 - table and column names come from the database's own schema (sqlite_master,
# PRAGMA table_info) or the mapping's validated columns, always double-quoted; values are bound.

from __future__ import annotations

import pickle
import sqlite3
import sys
from pathlib import Path
from typing import Any

# The pragmas scmapper's Store sets (scmapper/store.py); synchronous is FULL for single
# events and NORMAL for --batch.
BUSY_TIMEOUT_MS = 60_000

# Columns a fresh insert lets SQLite assign (INTEGER PRIMARY KEY).
AUTO_COLUMNS = {"roles": "scm_id", "events": "id"}


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    skip = AUTO_COLUMNS.get(table)
    return [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")') if r[1] != skip]


def _insert_sql(table: str, columns: list[str]) -> str:
    names = ", ".join(f'"{c}"' for c in columns)
    return f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})'


# --- one event ------------------------------------------------------------------------------


def person_rows(db: Path, ref: str) -> dict[str, Any]:
    """The person row, role rows and audit row scmapper wrote for account `ref`."""
    conn = sqlite3.connect(db)
    try:
        found: dict[str, Any] = {}
        for table, where, order in (
            ("persons", "scm_ref", "rowid"),
            ("roles", "scm_ref", "scm_id"),
            ("events", "account_ref", "id"),
        ):
            cols = _columns(conn, table)
            names = ", ".join(f'"{c}"' for c in cols)
            sql = f'SELECT {names} FROM "{table}" WHERE "{where}" = ? ORDER BY {order}'
            rows = conn.execute(sql, (ref,)).fetchall()
            found[table] = (cols, rows)
        return found
    finally:
        conn.close()


def single_event_script(db: Path, rows: dict[str, Any], *, jinja: bool) -> str:
    """A minimal Python program writing one person's rows in one transaction, as scmapper's
    single `apply` does (WAL, synchronous=FULL, BEGIN IMMEDIATE); with `jinja`, it also
    imports jinja2, the heaviest import scmapper needs on that path."""
    person_cols, (person,) = rows["persons"]
    role_cols, roles = rows["roles"]
    event_cols, events = rows["events"]
    lines = [
        "import jinja2" if jinja else "",
        "import sqlite3",
        f"conn = sqlite3.connect({str(db)!r}, timeout={BUSY_TIMEOUT_MS / 1000}, isolation_level=None)",
        f"conn.execute('PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}')",
        "conn.execute('PRAGMA journal_mode = WAL')",
        "conn.execute('PRAGMA synchronous = FULL')",
        "conn.execute('PRAGMA foreign_keys = ON')",
        "conn.execute('BEGIN IMMEDIATE')",
        f"conn.execute({_insert_sql('persons', person_cols)!r}, {tuple(person)!r})",
        f"conn.executemany({_insert_sql('roles', role_cols)!r}, {[tuple(r) for r in roles]!r})",
        f"conn.executemany({_insert_sql('events', event_cols)!r}, {[tuple(e) for e in events]!r})",
        "conn.execute('COMMIT')",
        "conn.close()",
    ]
    return "\n".join(line for line in lines if line) + "\n"


# --- batch load -------------------------------------------------------------------------------


def dump(db: Path, target: Path) -> None:
    """Every row scmapper's batch wrote, grouped per person in insertion order, plus the schema."""
    conn = sqlite3.connect(db)
    try:
        schema = [
            sql
            for (sql,) in conn.execute(
                "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type = 'table' DESC, rowid"
            )
        ]
        tables = {t: _columns(conn, t) for t in ("persons", "roles", "events")}
        ref_at = tables["persons"].index("scm_ref")
        people = conn.execute(
            f"SELECT {', '.join(chr(34) + c + chr(34) for c in tables['persons'])} FROM persons ORDER BY rowid"
        ).fetchall()
        by_ref: dict[str, tuple[Any, list[Any], list[Any]]] = {p[ref_at]: (p, [], []) for p in people}
        for table, owner, slot, order in (("roles", "scm_ref", 1, "scm_id"), ("events", "account_ref", 2, "id")):
            cols = tables[table]
            at = cols.index(owner)
            names = ", ".join(f'"{c}"' for c in cols)
            for row in conn.execute(f'SELECT {names} FROM "{table}" ORDER BY {order}'):
                owned = by_ref.get(row[at])
                if owned is not None:
                    owned[slot].append(row)
    finally:
        conn.close()
    data = {"schema": schema, "columns": tables, "people": list(by_ref.values())}
    with target.open("wb") as handle:
        pickle.dump(data, handle, protocol=pickle.HIGHEST_PROTOCOL)


def load(source: Path, db: Path, *, per_person: bool) -> None:
    """Writes the dumped rows into a new database with scmapper's batch pragmas."""
    with source.open("rb") as handle:
        data = pickle.load(handle)  # noqa: S301 - our own file, written by dump()
    columns = data["columns"]
    conn = sqlite3.connect(db, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("BEGIN IMMEDIATE")
    for statement in data["schema"]:
        conn.execute(statement)
    conn.execute("COMMIT")
    person_sql = _insert_sql("persons", columns["persons"])
    role_sql = _insert_sql("roles", columns["roles"])
    event_sql = _insert_sql("events", columns["events"])
    execute, executemany = conn.execute, conn.executemany
    if not per_person:
        execute("BEGIN IMMEDIATE")
    for person, roles, events in data["people"]:
        if per_person:
            execute("BEGIN IMMEDIATE")
        execute(person_sql, person)
        executemany(role_sql, roles)
        executemany(event_sql, events)
        if per_person:
            execute("COMMIT")
    if not per_person:
        execute("COMMIT")
    conn.close()


# --- batch load into a minimal schema ---------------------------------------------------------
# What the product needs, whatever scmapper's own schema: each person by employee number, the
# username and e-mail unique case-insensitively among active persons, roles indexed by person,
# and an audit row holding the data written; one transaction per person.

MINIMAL_SCHEMA = (
    "CREATE TABLE persons (ref TEXT PRIMARY KEY, key TEXT NOT NULL UNIQUE, active INTEGER NOT NULL,"
    " username TEXT NOT NULL, email TEXT NOT NULL, data TEXT NOT NULL)",
    "CREATE UNIQUE INDEX persons_username ON persons (username COLLATE NOCASE) WHERE active = 1 AND username <> ''",
    "CREATE UNIQUE INDEX persons_email ON persons (email COLLATE NOCASE) WHERE active = 1 AND email <> ''",
    "CREATE TABLE roles (id INTEGER PRIMARY KEY, ref TEXT NOT NULL REFERENCES persons (ref), data TEXT NOT NULL)",
    "CREATE INDEX roles_ref ON roles (ref)",
    "CREATE TABLE audit (id INTEGER PRIMARY KEY, time TEXT NOT NULL, ref TEXT, data TEXT NOT NULL)",
)


def minimal(source: Path, target: Path, key: str, username: str, email: str) -> None:
    """The dumped people as the minimal schema's rows: their columns as JSON text, made here,
    untimed, so the floor only writes."""
    import json

    with source.open("rb") as handle:
        data = pickle.load(handle)  # noqa: S301 - our own file, written by dump()
    person_cols, role_cols = data["columns"]["persons"], data["columns"]["roles"]
    ref_at, key_at, user_at, mail_at = (person_cols.index(c) for c in ("scm_ref", key, username, email))
    mapped = [c for c in person_cols if not c.startswith("scm_")]
    role_mapped = [(i, c) for i, c in enumerate(role_cols) if not c.startswith("scm_")]
    rows = []
    for person, roles, _events in data["people"]:
        values = dict(zip(person_cols, person, strict=True))
        text = json.dumps({c: values[c] for c in mapped}, ensure_ascii=False, separators=(",", ":"))
        role_texts = [json.dumps({c: r[i] for i, c in role_mapped}, ensure_ascii=False) for r in roles]
        audit = json.dumps({"person": text, "roles": role_texts}, ensure_ascii=False)
        rows.append(((person[ref_at], person[key_at], 1, person[user_at], person[mail_at], text), role_texts, audit))
    with target.open("wb") as handle:
        pickle.dump(rows, handle, protocol=pickle.HIGHEST_PROTOCOL)


def load_minimal(source: Path, db: Path) -> None:
    """Writes the minimal rows, one transaction per person, with scmapper's batch pragmas."""
    with source.open("rb") as handle:
        rows = pickle.load(handle)  # noqa: S301 - our own file, written by minimal()
    conn = sqlite3.connect(db, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    for statement in MINIMAL_SCHEMA:
        conn.execute(statement)
    execute, executemany = conn.execute, conn.executemany
    person_sql = "INSERT INTO persons (ref, key, active, username, email, data) VALUES (?, ?, ?, ?, ?, ?)"
    role_sql = "INSERT INTO roles (ref, data) VALUES (?, ?)"
    audit_sql = "INSERT INTO audit (time, ref, data) VALUES ('2026-01-01T00:00:00Z', ?, ?)"
    for person, roles, audit in rows:
        execute("BEGIN IMMEDIATE")
        execute(person_sql, person)
        executemany(role_sql, [(person[0], r) for r in roles])
        execute(audit_sql, (person[0], audit))
        execute("COMMIT")
    conn.close()


# --- export -------------------------------------------------------------------------------


def export_spec(mapping: Path) -> dict[str, Any]:
    """The key and the two files' layout, read through scmapper's own loader (so `extends`
    and every default apply exactly as they do for `scmapper export`)."""
    from scmapper.mapping.loading import load_mapping

    loaded = load_mapping(mapping)
    if loaded.export is None:
        raise ValueError(f"{mapping} has no export section")

    def file_spec(spec: Any) -> dict[str, Any] | None:
        if spec is None:
            return None
        return {
            "file": spec.file,
            "columns": list(spec.columns),
            "header": list(spec.header) if spec.header else None,
            "delimiter": spec.delimiter,
            "bom": spec.encoding.lower().replace("_", "-") == "utf-8-sig",
            "line_ending": spec.line_ending,
            "template": spec.template,
            "quote_all": spec.quote_all,
        }

    return {"key": loaded.key, "persons": file_spec(loaded.export.persons), "roles": file_spec(loaded.export.roles)}


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _shell_text(text: str) -> str:
    """A dot-command argument: double-quoted, where the shell resolves \\r and \\n."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r").replace("\n", "\\n") + '"'


def _quoted(expr: str) -> str:
    return f"'\"' || replace({expr}, '\"', '\"\"') || '\"'"


def export_sql(spec: dict[str, Any], out: Path) -> str:
    """A sqlite3 shell script writing the active persons and their roles, every field quoted,
    in the order and layout scmapper's built-in csv template writes them."""
    key = f'"{spec["key"]}"'
    lines = [".bail on", ".headers off", ".mode list"]
    for kind in ("persons", "roles"):
        file = spec[kind]
        if file is None:
            continue
        lines += [
            f".separator {_shell_text(file['delimiter'])} {_shell_text(file['line_ending'])}",
            f".output {_shell_text(str(out / file['file']))}",
        ]
        bom = "char(65279) || " if file["bom"] else ""
        if file["header"]:
            labels = file["delimiter"].join('"' + h.replace('"', '""') + '"' for h in file["header"])
            lines.append(f"SELECT {bom}{_sql_text(labels)};")
        fields = ", ".join(_quoted(f'{"p" if kind == "persons" else "r"}."{c}"') for c in file["columns"])
        if kind == "persons":
            lines.append(f"SELECT {fields} FROM persons p WHERE p.scm_active = 1 ORDER BY p.{key};")
        else:
            lines.append(
                f"SELECT {fields} FROM roles r JOIN persons p ON p.scm_ref = r.scm_ref"
                f" WHERE p.scm_active = 1 ORDER BY p.{key}, r.scm_seq;"
            )
    lines.append(".output stdout")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "dump":
        dump(Path(argv[1]), Path(argv[2]))
        return 0
    if len(argv) == 4 and argv[0] == "load" and argv[3] in ("--per-person", "--one-transaction"):
        load(Path(argv[1]), Path(argv[2]), per_person=argv[3] == "--per-person")
        return 0
    if len(argv) == 6 and argv[0] == "minimal":
        minimal(Path(argv[1]), Path(argv[2]), *argv[3:6])
        return 0
    if len(argv) == 3 and argv[0] == "load-minimal":
        load_minimal(Path(argv[1]), Path(argv[2]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
