"""Aliases: other references an account answers to.

Vocabulary: an *alias* is a reference some caller still holds for an account whose own
reference (`scm_ref`) is another: the username the old PowerShell connector returned to
HelloID, recorded by `adopt`. An alias names one account for good: it is never moved, removed
or reused, and it is never another account's reference (the triggers below hold this
whoever writes). Looking a reference up goes through `Persons.account`, the one place that
knows both.

HelloID keeps the reference it was given, so after `adopt` it *holds* the alias; it *moves* to the
account's own reference once it addresses the account by it (a correlation hands it over).
HelloID's account import lists an account under the reference HelloID holds.
"""

from __future__ import annotations

import sqlite3

from scmapper.store.connection import Database

# The table, created by schema.py (schema 7). One alias names one account for good (no update, no
# delete, even after a hard delete of the account), and an alias is never another account's
# reference, nor the other way round: the triggers say so whoever writes.
ALIASES = """
CREATE TABLE IF NOT EXISTS scm_aliases (
    alias TEXT PRIMARY KEY,
    scm_ref TEXT NOT NULL,
    origin TEXT NOT NULL,
    created_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS scm_aliases_ref ON scm_aliases (scm_ref);
CREATE TABLE IF NOT EXISTS scm_reference_moved (
    scm_ref TEXT PRIMARY KEY,
    time TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS scm_aliases_no_update BEFORE UPDATE ON scm_aliases
    BEGIN SELECT RAISE(ABORT, 'an alias names one account for good'); END;
CREATE TRIGGER IF NOT EXISTS scm_aliases_no_delete BEFORE DELETE ON scm_aliases
    BEGIN SELECT RAISE(ABORT, 'an alias names one account for good'); END;
CREATE TRIGGER IF NOT EXISTS scm_aliases_not_a_reference BEFORE INSERT ON scm_aliases
    WHEN EXISTS (SELECT 1 FROM persons WHERE scm_ref = NEW.alias AND scm_ref <> NEW.scm_ref)
    BEGIN SELECT RAISE(ABORT, 'the alias is the reference of another account'); END;
CREATE TRIGGER IF NOT EXISTS scm_reference_not_an_alias BEFORE INSERT ON persons
    WHEN EXISTS (SELECT 1 FROM scm_aliases WHERE alias = NEW.scm_ref AND scm_ref <> NEW.scm_ref)
    BEGIN SELECT RAISE(ABORT, 'the reference is an alias of another account'); END;
"""


class Aliases:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, alias: str, ref: str, *, origin: str, time: str) -> None:
        """Records an alias of account `ref`; one it already has is left as it is, one another
        account has raises sqlite3.IntegrityError (the caller checks `owner` first)."""
        try:
            self.db.execute(
                "INSERT INTO scm_aliases (alias, scm_ref, origin, created_at) VALUES (?, ?, ?, ?)",
                (alias, ref, origin, time),
            )
        except sqlite3.IntegrityError:
            if self.owner(alias) != ref:
                raise

    def moved(self, ref: str, time: str) -> None:
        """HelloID addressed account `ref` by its own reference: if it has an alias from the old
        connector, HelloID holds the account's own reference from now on."""
        self.db.execute(
            "INSERT OR IGNORE INTO scm_reference_moved (scm_ref, time)"
            " SELECT ?, ? WHERE EXISTS (SELECT 1 FROM scm_aliases WHERE scm_ref = ? AND origin = 'adopt')",
            (ref, time, ref),
        )

    def held_by_helloid(self) -> dict[str, str]:
        """Account reference -> the old connector's reference HelloID still holds for it."""
        found: dict[str, str] = {}
        for alias, ref in self.db.execute(
            "SELECT alias, scm_ref FROM scm_aliases WHERE origin = 'adopt'"
            " AND scm_ref NOT IN (SELECT scm_ref FROM scm_reference_moved) ORDER BY created_at, alias"
        ):
            found.setdefault(ref, alias)
        return found

    def owner(self, alias: str) -> str | None:
        """The account an alias names, or None."""
        found = self.db.one("SELECT scm_ref FROM scm_aliases WHERE alias = ?", (alias,))
        return found[0] if found else None

    def of(self, ref: str) -> list[str]:
        """The aliases of one account, oldest first."""
        found = self.db.execute("SELECT alias FROM scm_aliases WHERE scm_ref = ? ORDER BY created_at, alias", (ref,))
        return [r[0] for r in found]

    def all(self) -> dict[str, list[str]]:
        """Account reference -> its aliases, for every account that has one."""
        found: dict[str, list[str]] = {}
        for alias, ref in self.db.execute("SELECT alias, scm_ref FROM scm_aliases ORDER BY created_at, alias"):
            found.setdefault(ref, []).append(alias)
        return found
