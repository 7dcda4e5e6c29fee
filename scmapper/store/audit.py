"""The audit log: one append-only row per applied action, export and upload.

Vocabulary: an *audit event* holds the entries HelloID shows for one action (`details`),
the data before and after, and whether it succeeded. Triggers (schema.py) refuse every
UPDATE and DELETE of the table, so a row, once written, stays as written.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scmapper.errors import StoreError
from scmapper.store.connection import Database, now


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


class Audit:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(
        self,
        *,
        time: str,
        action: str,
        ref: str | None,
        success: bool,
        message: str,
        details: list[dict[str, Any]],
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        self.db.execute(
            "INSERT INTO events (time, action, account_ref, success, message, details, before, after)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (time, action, ref, int(success), message, to_json(details), to_json(before), to_json(after)),
        )

    def note(
        self, action: str, message: str, *, success: bool = True, details: list[dict[str, Any]] | None = None
    ) -> None:
        """An entry about the database as a whole (an export, a refusal, a pruning), now."""
        self.add(time=now(), action=action, ref=None, success=success, message=message, details=details or [])

    def events(
        self,
        *,
        ref: str | None = None,
        since: str | None = None,
        action: str | None = None,
        limit: int | None = None,
    ) -> list[AuditEvent]:
        """The events that match, oldest first; with `limit`, only the newest so many."""
        where, params = _where(ref, since, action)
        newest = f" ORDER BY id DESC LIMIT {int(limit)}" if limit is not None else " ORDER BY id"  # ok: an int
        found = self._select(
            f"SELECT {_COLUMNS} FROM events{where}{newest}",
            params,
        )
        if limit is not None:
            found.reverse()
        return _events(found)

    def latest(
        self, actions: Sequence[str] = (), *, sync: bool | None = None, after: str | None = None
    ) -> AuditEvent | None:
        """The newest event of these actions (any, when none is named): only sync's (messages
        marked `[sync]`) or only the others' with `sync`; only later than `after` with it."""
        found = self.newest(actions, sync=sync, after=after, limit=1)
        return found[0] if found else None

    def newest(
        self, actions: Sequence[str] = (), *, sync: bool | None = None, after: str | None = None, limit: int = 1
    ) -> list[AuditEvent]:
        """The newest `limit` events of these actions, newest first (see `latest`)."""
        clauses: list[str] = []
        params: list[Any] = []
        if actions:
            clauses.append(f"action IN ({', '.join('?' for _ in actions)})")
            params += list(actions)
        if sync is not None:
            clauses.append("substr(message, 1, 7) " + ("= '[sync] '" if sync else "<> '[sync] '"))
        if after is not None:
            clauses.append("time > ?")
            params.append(after)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        found = self._select(
            f"SELECT {_COLUMNS} FROM events{where} ORDER BY id DESC LIMIT {int(limit)}",  # ok: an int
            params,
        )
        return _events(found)

    def older(self, before: str) -> list[AuditEvent]:
        """The events before a moment, oldest first (what a pruning takes away)."""
        found = self._select(
            f"SELECT {_COLUMNS} FROM events WHERE time < ? ORDER BY id",
            [before],
        )
        return _events(found)

    def prune(self, last_id: int, *, redact: bool) -> int:
        """Removes (or, with `redact`, empties of person data) the events up to `last_id`, inside
        the caller's transaction. The only path past the append-only triggers: it lifts them for
        its one statement and puts them back before the transaction can commit."""
        trigger = "scm_events_no_update" if redact else "scm_events_no_delete"
        verb = "UPDATE" if redact else "DELETE"
        self.db.execute(f"DROP TRIGGER {trigger}")  # ok: one of two constant names
        if redact:
            done = self.db.execute(
                "UPDATE events SET message = '(redacted)', details = '[]', before = NULL, after = NULL,"
                " account_ref = NULL WHERE id <= ?",
                (last_id,),
            )
        else:
            done = self.db.execute("DELETE FROM events WHERE id <= ?", (last_id,))
        self.db.execute(
            f"CREATE TRIGGER {trigger} BEFORE {verb} ON events"  # ok: constants
            " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
        )
        return int(done.rowcount)

    def count(self, *, ref: str | None = None, since: str | None = None, action: str | None = None) -> int:
        where, params = _where(ref, since, action)
        return int(self._select(f"SELECT count(*) FROM events{where}", params)[0][0])

    def actions(self) -> list[str]:
        """The actions the log holds."""
        return [r[0] for r in self._select("SELECT DISTINCT action FROM events ORDER BY action", [])]

    def _select(self, sql: str, params: Sequence[Any]) -> list[Any]:
        try:
            return self.db.execute(sql, params).fetchall()
        except sqlite3.OperationalError:
            raise StoreError(f"{self.db.path} is not an scmapper database (no audit log): check --db") from None


_COLUMNS = "id, time, action, account_ref, success, message, details, before, after"


def _events(found: list[Any]) -> list[AuditEvent]:
    """Rows of the events table (its _COLUMNS) as AuditEvents."""
    return [
        AuditEvent(r[0], r[1], r[2], r[3], bool(r[4]), r[5], json.loads(r[6]), from_json(r[7]), from_json(r[8]))
        for r in found
    ]


def _where(ref: str | None, since: str | None, action: str | None) -> tuple[str, list[str]]:
    clauses, params = [], []
    for clause, value in (("account_ref = ?", ref), ("time >= ?", since), ("action = ? COLLATE NOCASE", action)):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    return (f" WHERE {' AND '.join(clauses)}" if clauses else ""), params


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # one encoder for every entry


def to_json(value: Any) -> str | None:
    """Compact JSON for a column, None for NULL."""
    return None if value is None else _COMPACT(value)


def from_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)
