"""The change log: what the last export held of each person changed since, kept by triggers.

Vocabulary: the *change log* (`exported_changes`) has one entry per person key changed since
the last export: the row and roles that export held of them as JSON, or NULL where it did
not hold them (a new person, a changed key, a person who was inactive). The next export's
diff reads only these entries, and empties the table as it commits. Triggers write them, so
no writer can forget to.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scmapper.store.connection import Database, quote
from scmapper.store.shape import Shape


def person_json(columns: Sequence[str], alias: str) -> str:
    """SQL for a person's row as a JSON object (the change log's and the diff's form). A column
    name stands as a '...' literal key: names are validated identifiers (names.py), so it holds
    no quote."""
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


def keep_change_log(db: Database, shape: Shape) -> None:
    """Triggers that note, before a person's first change since the last export, what that
    export held of them: their row and roles as JSON if they were active, NULL if not; and a
    key the last export did not hold (a new person, a changed key) with NULL. Nothing is noted
    before the first export. Sync's fingerprints (scm_source) are not a change."""
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'scm_log_%'"):
        db.execute(f"DROP TRIGGER {quote(name)}")  # ok: quote()d
    key = quote(shape.key)
    exported = "EXISTS (SELECT 1 FROM exports)"

    def note(alias: str, where: str) -> str:
        """Notes person `alias` (as selected by `where`) unless they are noted already."""
        active = f"{alias}.scm_active = 1"
        return (
            f"INSERT INTO exported_changes (key, data, roles) SELECT {alias}.{key},"
            f" CASE WHEN {active} THEN {person_json(shape.columns, alias)} END,"
            f" CASE WHEN {active} THEN {roles_json(shape.role_columns, alias)} END {where}"
            f" NOT EXISTS (SELECT 1 FROM exported_changes c WHERE c.key = {alias}.{key});"
        )

    def new_key(value: str) -> str:
        return f"INSERT OR IGNORE INTO exported_changes (key, data, roles) VALUES ({value}, NULL, NULL);"

    def owner(ref: str) -> str:
        return note("p", f"FROM persons p WHERE p.scm_ref = {ref} AND")

    watched = ", ".join(quote(c) for c in (*shape.columns, "scm_active"))
    triggers = {
        "scm_log_person_insert": f"AFTER INSERT ON persons WHEN {exported} BEGIN {new_key('NEW.' + key)} END",
        "scm_log_person_update": f"BEFORE UPDATE OF {watched} ON persons WHEN {exported}"
        f" BEGIN {note('OLD', 'WHERE')} {new_key('NEW.' + key)} END",
        "scm_log_person_delete": f"BEFORE DELETE ON persons WHEN {exported} BEGIN {note('OLD', 'WHERE')} END",
        "scm_log_role_insert": f"BEFORE INSERT ON roles WHEN {exported} BEGIN {owner('NEW.scm_ref')} END",
        "scm_log_role_update": f"BEFORE UPDATE ON roles WHEN {exported}"
        f" BEGIN {owner('OLD.scm_ref')} {owner('NEW.scm_ref')} END",
        "scm_log_role_delete": f"BEFORE DELETE ON roles WHEN {exported} BEGIN {owner('OLD.scm_ref')} END",
    }
    for name, body in triggers.items():
        # ok: the names are the constants above; the bodies hold no value, only quote()d
        # identifiers and the column names as JSON keys (validated identifiers: no quote can occur)
        db.execute(f"CREATE TRIGGER {name} {body}")  # ok: constant names, quote()d identifiers (above)


def exported_state(db: Database, key: str, columns: Sequence[str], role_columns: Sequence[str]) -> list[Any]:
    """Every person's key, whether active, and their row and roles in these columns as JSON."""
    return db.execute(
        f"SELECT p.{quote(key)}, p.scm_active, {person_json(columns, 'p')}, {roles_json(role_columns, 'p')}"
        " FROM persons p"  # ok: quote()d key; column names are JSON keys of validated identifiers
    ).fetchall()


def replace(db: Database, entries: Sequence[tuple[str, str | None, str | None]]) -> None:
    """The change log made anew, in the caller's transaction (after a re-send: what Spend Cloud
    holds now differs from what the last regular export left)."""
    db.execute("DELETE FROM exported_changes")
    db.executemany("INSERT INTO exported_changes (key, data, roles) VALUES (?, ?, ?)", entries)
