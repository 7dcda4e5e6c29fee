"""`status`: the health of one database at a glance, for a scheduler's e-mail or a monitor.

Vocabulary: a *fact* is what happened last (sync or apply, export, upload) and what the database
holds (changes waiting, size, schema); a *finding* is a fact that needs someone: a refusal since
the last export, a failed upload, persons held back, an export older than `--max-age`, none at
all. One line of text per finding says what to do; the exit code is 0 without findings, 1 with.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scmapper.errors import EXIT_DATA, EXIT_OK
from scmapper.store import SCHEMA_VERSION, AuditEvent, Store, stored_time

LIFECYCLE = ("CreateAccount", "CorrelateAccount", "UpdateAccount", "EnableAccount", "DisableAccount", "DeleteAccount")
REFUSALS = ("ExportRefused", "SyncRefused")


@dataclass
class StatusReport:
    facts: dict[str, Any] = field(default_factory=dict)
    findings: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_DATA if self.findings else EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        return {"healthy": not self.findings, "findings": self.findings, **self.facts}

    def text(self) -> list[str]:
        facts = self.facts
        lines = [
            f"last sync:   {_when(facts['lastSync'])}",
            f"last apply:  {_when(facts['lastApply'])}",
            f"last export: {_export(facts['lastExport'])}",
            f"last upload: {_when(facts['lastUpload'])}",
            f"waiting for the next export: {facts['waiting']} changed persons",
            f"database: {facts['database']['bytes']:,} bytes, schema {facts['database']['schema']}",
        ]
        return lines + [f"ATTENTION: {finding}" for finding in self.findings] + (
            [] if self.findings else ["healthy: nothing needs attention"]
        )


def read_status(store: Store, db: Path, *, max_age: float | None, now: datetime | None = None) -> StatusReport:
    """The facts and the findings of one database (read only); StoreError (exit 2) when the
    file is damaged anywhere, as a monitor must hear."""
    store.db.check_integrity()
    moment = now or datetime.now(UTC)
    report = StatusReport()
    last = store.exports.last()
    summary = store.exports.summary(last.id) if last else {}
    upload = store.audit.latest(("UploadFile",))
    report.facts = {
        "lastSync": _event(store.audit.latest(sync=True)),
        "lastApply": _event(store.audit.latest(LIFECYCLE, sync=False)),
        "lastExport": {
            "id": last.id,
            "time": last.time,
            "status": last.status,
            "forced": last.forced,
            "counts": summary.get("counts", {}),
            "held": summary.get("held", []),
            "stamp": summary.get("stamp", {}),
        }
        if last
        else None,
        "lastUpload": _event(upload),
        "waiting": store.exports.waiting(),
        "refusedSince": [e.message for e in store.audit.newest(REFUSALS, after=last.time if last else None, limit=5)],
        "database": {"bytes": _size(db), "schema": SCHEMA_VERSION},
    }
    report.findings = _findings(report.facts, max_age, moment)
    return report


def _findings(facts: dict[str, Any], max_age: float | None, moment: datetime) -> list[str]:
    found = []
    export = facts["lastExport"]
    if export is None:
        found.append("no export yet: run scmapper export (--dry-run first)")
    else:
        if export["status"] != "complete":
            found.append(f"export #{export['id']} did not finish ({export['status']}): run scmapper export again")
        if export["held"]:
            shown = ", ".join(export["held"][:10]) + (", ..." if len(export["held"]) > 10 else "")
            found.append(
                f"export #{export['id']} held back {len(export['held'])} persons whose rows fail a check ({shown}):"
                " scmapper log --action ExportFiles --limit 1 says why; mend them in the source"
            )
        age = moment - datetime.fromisoformat(stored_time(export["time"]).replace("Z", "+00:00"))
        if max_age is not None and age > timedelta(hours=max_age):
            found.append(
                f"the last export (#{export['id']}) is {age.total_seconds() / 3600:.1f} hours old, more than"
                f" --max-age {max_age:g}: check the scheduled export"
            )
    for message in facts["refusedSince"]:
        found.append(f"refused since the last export: {message}")
    upload = facts["lastUpload"]
    if upload is not None and not upload["success"]:
        found.append(f"the last upload failed: {upload['message']} (scmapper upload retries it)")
    return found


def _event(event: AuditEvent | None) -> dict[str, Any] | None:
    if event is None:
        return None
    return {"time": event.time, "action": event.action, "success": event.success, "message": event.message}


def _when(event: dict[str, Any] | None) -> str:
    if event is None:
        return "never"
    return f"{event['time']} {event['action']} {'ok' if event['success'] else 'FAILED'}: {event['message'][:160]}"


def _export(export: dict[str, Any] | None) -> str:
    if export is None:
        return "never"
    stamp = export["stamp"]
    made = f" by scmapper {stamp['scmapper']}, mapping {stamp['mapping'][:19]}" if stamp else ""
    counts = export["counts"]
    return (
        f"#{export['id']} {export['time']} {export['status']}: {counts.get('persons', '?')} persons,"
        f" {counts.get('roles', '?')} roles{made}"
    )


def _size(db: Path) -> int:
    return sum(os.path.getsize(p) for p in (db, Path(f"{db}-wal")) if p.is_file())
