"""From raw event bytes to result dicts: the path `apply`, `apply --batch` and `demo` share.

A malformed event or a failed action becomes a result with `success: false`, so the
agent always gets one JSON result per event; the exit code says which kind it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from scmapper.core.progress import Meter
from scmapper.errors import EXIT_OK, EventError, Interrupted, ScmapperError
from scmapper.lifecycle import actions as lifecycle
from scmapper.lifecycle import events
from scmapper.mapping.rules import Rules
from scmapper.store import Store, now


@dataclass(frozen=True)
class Applied:
    """One `apply`: the JSON result the agent reads, the exit code, and the error behind a
    failure to apply at all (the CLI reports it after the result)."""

    result: dict[str, Any]
    exit_code: int
    error: ScmapperError | None = None


def apply_one(
    read: Callable[[], bytes],
    load: Callable[[], Rules],
    open_store: Callable[[Rules, bool], Store],
    *,
    action: str | None,
    dry_run: bool,
) -> Applied:
    """Loads the mapping, reads and applies one event; whatever scmapper error stops it on the
    way becomes a failed result carrying that error."""
    event = None
    try:
        rules = load()
        event = events.parse_bytes(read(), action=action, dry_run=dry_run)
        with closing(open_store(rules, event.dry_run)) as store:
            result = lifecycle.apply(event, rules, store)
    except ScmapperError as exc:
        return Applied(failure(event.action if event else action, str(exc)), exc.exit_code, exc)
    return Applied(result.as_dict(), result.exit_code)


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


@dataclass
class BatchCounts:
    succeeded: int = 0
    failed: int = 0
    changed: int = 0

    def __str__(self) -> str:
        return (
            f"{self.succeeded + self.failed} events: {self.succeeded} succeeded, {self.failed} failed,"
            f" {self.changed} changed the database"
        )


def run_batch(
    lines: Iterable[bytes],
    rules: Rules,
    store: Store,
    *,
    action: str | None,
    dry_run: bool,
    emit: Callable[[dict[str, Any]], None],
    meter: Meter | None = None,
) -> BatchCounts:
    """One event per line, each in its own transaction; every result (with its line) goes to
    emit; the meter counts events and the bytes read."""
    counts = BatchCounts()
    try:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                if meter:
                    meter.advance(0, len(line))
                continue
            result, code = run_event(line, rules, store, action=action, dry_run=dry_run)
            result["line"] = number
            if code == EXIT_OK:
                counts.succeeded += 1
            else:
                counts.failed += 1
            counts.changed += bool(result.get("changed"))
            emit(result)
            if meter:
                meter.advance(1, len(line))
    except KeyboardInterrupt:
        said = (
            f"apply --batch interrupted after {counts.succeeded + counts.failed:,} events; those are committed,"
            " rerun the batch to finish (an event already applied changes nothing again)"
        )
        if not dry_run:
            with store.transaction():
                store.audit.add(
                    time=now(), action="BatchInterrupted", ref=None, success=False, message=said, details=[]
                )
        raise Interrupted(said) from None
    return counts
