"""What one lifecycle event gives back, shaped for HelloID's outputContext: success, the account
reference, the audit entries (an action such as CreateAccount, a message, whether it is an
error), the row and roles before and after."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scmapper.errors import EXIT_DATA, EXIT_OK
from scmapper.store import Row

AUDIT_ACTIONS = {
    "create": "CreateAccount",
    "update": "UpdateAccount",
    "enable": "EnableAccount",
    "disable": "DisableAccount",
    "delete": "DeleteAccount",
}


@dataclass(frozen=True)
class AuditEntry:
    action: str
    message: str
    is_error: bool = False
    level: str = "info"  # info | warning | error

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "message": self.message, "isError": self.is_error, "level": self.level}


@dataclass
class Result:
    """The outcome of one event, shaped for HelloID's outputContext."""

    action: str
    success: bool = True
    account_ref: str | None = None
    correlated: bool = False
    dry_run: bool = False
    audit: list[AuditEntry] = field(default_factory=list)
    data: Row | None = None
    roles: list[Row] | None = None
    previous: Row | None = None
    previous_roles: list[Row] | None = None
    changed: bool = False
    time: str = ""  # when the event was applied: every row it writes and its audit entry say so

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.success else EXIT_DATA

    def note(self, action: str, message: str, level: str = "info") -> None:
        prefix = "[DryRun] " if self.dry_run else ""
        self.audit.append(AuditEntry(action, prefix + message, level == "error", level))

    def as_dict(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "action": self.action,
            "accountReference": self.account_ref,
            "accountCorrelated": self.correlated,
            "dryRun": self.dry_run,
            "changed": self.changed,
            "auditLogs": [entry.as_dict() for entry in self.audit],
            "data": self.data,
            "roles": self.roles,
            "previousData": self.previous,
            "previousRoles": self.previous_roles,
        }
