"""`log`: the audit trail, as people and machines read it.

Vocabulary: an *entry* is one audit event of the store (an applied action, an export, an
upload); the text form gives each on one line, oldest first.
"""

from __future__ import annotations

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
            f"{e.time}  {e.action:<16} {e.account_ref or '-':<14}{'' if e.success else ' FAILED'} {e.message}"
            for e in self.entries
        ]


def read_log(db: str, *, ref: str | None, since: str | None) -> LogReport:
    store = Store(db)
    try:
        return LogReport(store.audit.events(ref=ref, since=since))
    finally:
        store.close()
