"""`log`: the audit trail, as people and machines read it.

Vocabulary: an *entry* is one audit event of the store (an applied action, an export or its
refusal, an upload); the text form gives each on one line, oldest first, its *messages* (the
entries HelloID shows for one action) kept apart by " | ", every time in UTC to the second.
The JSON form gives every time as the store writes it (microseconds, 'Z').
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scmapper.errors import EXIT_OK, UsageError
from scmapper.store import AuditEvent, Store, stored_time

# What scmapper writes (lifecycle, export, sync, upload, adopt); a log may hold others.
ACTIONS = (
    "CreateAccount",
    "CorrelateAccount",
    "UpdateAccount",
    "EnableAccount",
    "DisableAccount",
    "DeleteAccount",
    "AdoptAccount",
    "ExportFiles",
    "ExportRefused",
    "AuditPruned",
    "SyncInterrupted",
    "BatchInterrupted",
    "UploadFile",
    "SyncRefused",
    "SyncForced",
)
_ORIGIN = re.compile(r"\[[A-Za-z]+\] ")
_STORED = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z\Z")


@dataclass(frozen=True)
class LogReport:
    entries: list[AuditEvent]
    total: int  # how many matched, before --limit
    exit_code: int = EXIT_OK

    def as_dict(self) -> list[dict[str, Any]]:
        return [{**e.as_dict(), "time": stored_time(e.time)} for e in self.entries]

    def text(self) -> list[str]:
        if not self.entries:
            return ["no audit events"]
        lines = []
        if self.total > len(self.entries):
            lines.append(f"(the newest {len(self.entries)} of {self.total} events; raise --limit for more)")
        for e in self.entries:
            status = "" if e.success else "FAILED "
            ref = shown(e.account_ref or "-")
            lines.append(f"{shown_time(e.time)}  {shown(e.action):<16} {ref:<14} {status}{shown(messages(e))}")
        return lines


def shown_time(text: str) -> str:
    """A stored time as the text log shows it: UTC, to the second."""
    canonical = stored_time(text)
    return f"{canonical[:19]}Z" if _STORED.match(canonical) else text


def messages(entry: AuditEvent) -> str:
    """The event's messages, kept apart; its origin (`[sync]`) in front, once."""
    found = [d["message"] for d in entry.details if isinstance(d, dict) and isinstance(d.get("message"), str)]
    if not found:
        return entry.message
    origin = _ORIGIN.match(entry.message)
    prefix = origin.group(0) if origin and not found[0].startswith(origin.group(0)) else ""
    return prefix + " | ".join(found)


def shown(text: str) -> str:
    """Text as one line of the log: control, line-separating and bidi characters escaped
    (\\n, \\u202e), so a stored value can neither forge a line nor reorder one."""
    return "".join(_escape(ch) if unicodedata.category(ch) in _HIDDEN else ch for ch in text)


_HIDDEN = {"Cc", "Cf", "Zl", "Zp"}


def _escape(char: str) -> str:
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char) or f"\\u{ord(char):04x}"


def read_log(
    db: str, *, ref: str | None, since: str | None, action: str | None = None, limit: int | None = None
) -> LogReport:
    store = Store(db)
    try:
        if action is not None:
            action = _known_action(action, store.audit.actions())
        filters = {"ref": ref, "since": since, "action": action}
        entries = store.audit.events(**filters, limit=limit)
        total = store.audit.count(**filters) if limit is not None else len(entries)
        # The trail is what an operator reads after something went wrong: a file damaged where
        # the trail is not (the persons, an index) must not pass for a healthy one.
        store.db.check_integrity()
        return LogReport(entries, total)
    finally:
        store.close()


def _known_action(action: str, present: list[str]) -> str:
    """The action as the log spells it; an unknown one is a usage error with a suggestion."""
    known = list(dict.fromkeys([*ACTIONS, *present]))
    for name in known:
        if name.casefold() == action.casefold():
            return name
    close = difflib.get_close_matches(action, known, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}? " if close else ""
    raise UsageError(f"--action {action!r} is not an audit action; {hint}The actions are: {', '.join(known)}")


def since_utc(text: str) -> str:
    """`--since` as the log stores times; a UsageError for anything but an ISO 8601 time."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--since {text!r} is not an ISO 8601 time (e.g. 2026-11-26 or 2026-11-26T08:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
