"""Aliases: other references an account answers to.

Vocabulary: an *alias* is a reference some caller still holds for an account whose own
reference (`scm_ref`) is another: the username the old PowerShell connector returned to
HelloID, recorded by `adopt`. An alias names one account for good: it is never moved, removed
or reused, and it is never another account's reference (the triggers in schema.py hold this
whoever writes). Looking a reference up goes through `Persons.account`, the one place that
knows both.
"""

from __future__ import annotations

from scmapper.store.connection import Database


class Aliases:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, alias: str, ref: str, *, origin: str, time: str) -> None:
        """Records an alias of account `ref` (an alias it already has is left as it is)."""
        self.db.execute(
            "INSERT INTO scm_aliases (alias, scm_ref, origin, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (alias) DO NOTHING",
            (alias, ref, origin, time),
        )

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
