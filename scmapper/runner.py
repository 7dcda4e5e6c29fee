"""From raw event bytes to result dicts: the path `apply`, `apply --batch` and `demo` share.

A malformed event or a failed action becomes a result with `success: false`, so the
agent always gets one JSON result per event; the exit code says which kind it was.
"""

from __future__ import annotations

from typing import Any

from scmapper import events, lifecycle
from scmapper.errors import EventError
from scmapper.rules import Rules
from scmapper.store import Store


def run_event(
    raw: bytes, rules: Rules, store: Store, *, action: str | None = None, dry_run: bool = False
) -> tuple[dict[str, Any], int]:
    """Parse and apply one event: (result, exit code). Mapping and internal errors propagate."""
    try:
        event = events.parse_bytes(raw, action=action, dry_run=dry_run)
    except EventError as exc:
        return failure(action, str(exc)), exc.exit_code
    result = lifecycle.apply(event, rules, store)
    return result.as_dict(), result.exit_code


def failure(action: str | None, message: str) -> dict[str, Any]:
    """The result for an event that could not be applied at all."""
    return {
        "success": False,
        "action": action,
        "accountReference": None,
        "accountCorrelated": False,
        "auditLogs": [{"action": action or "", "message": message, "isError": True, "level": "error"}],
        "data": None,
        "previousData": None,
    }
