"""`log`: the audit trail, as people and machines read it.

Vocabulary: an *entry* is one audit event of the store (an applied action, an export, an
upload); the text form gives each on one line, oldest first.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from scmapper.errors import EXIT_OK
from scmapper.store import AuditEvent, Store


@dataclass(frozen=True)
class LogReport:
    entries: list[AuditEvent]
    exit_code: int = EXIT_OK

    def as_dict(self) -> list[dict[str, Any]]:
        return [e.as_dict() for e in self.entries]

    def text(self) -> list[str]:
        if not self.entries:
            return ["no audit events"]
        return [
            f"{e.time}  {shown(e.action):<16} {shown(e.account_ref or '-'):<14}{'' if e.success else ' FAILED'}"
            f" {shown(e.message)}"
            for e in self.entries
        ]


def shown(text: str) -> str:
    """Text as one line of the log: control, line-separating and bidi characters escaped
    (\\n, \\u202e), so a stored value can neither forge a line nor reorder one."""
    return "".join(_escape(ch) if unicodedata.category(ch) in _HIDDEN else ch for ch in text)


_HIDDEN = {"Cc", "Cf", "Zl", "Zp"}


def _escape(char: str) -> str:
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char) or f"\\u{ord(char):04x}"


def read_log(db: str, *, ref: str | None, since: str | None) -> LogReport:
    store = Store(db)
    try:
        return LogReport(store.audit.events(ref=ref, since=since))
    finally:
        store.close()
