"""`log --prune`: audit retention. The log holds names and e-mail addresses, which privacy rules
(AVG/GDPR) say to keep no longer than needed.

Vocabulary: *pruning* removes the entries older than a number of days, after writing them to an
*archive* (JSON lines, one entry each) whose SHA-256 the pruning's own entry keeps; *redacting*
keeps those entries but drops the person data in them. Either runs in one transaction and leaves
its own record (`AuditPruned`); it is the only path that may change the append-only log.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scmapper import files
from scmapper.errors import EXIT_OK, ScmapperError, UsageError
from scmapper.mapping.model import Mapping
from scmapper.store import Store


@dataclass
class PruneReport:
    removed: int
    before: str
    redacted: bool
    archive: str | None = None
    digest: str | None = None
    exit_code: int = EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "entries": self.removed,
            "olderThan": self.before,
            "redacted": self.redacted,
            "archive": self.archive,
            "sha256": self.digest,
        }

    def text(self) -> list[str]:
        if not self.removed:
            return [f"No audit entries older than {self.before}: nothing changed."]
        done = "Redacted" if self.redacted else "Pruned"
        kept = f"; written first to {self.archive} (sha256 {self.digest})" if self.archive else ""
        return [f"{done} {self.removed} audit entries older than {self.before}{kept}."]


def prune_log(
    store: Store, *, days: int, archive: Path | None, redact: bool, moment: datetime | None = None
) -> PruneReport:
    """Archives, then removes (or redacts) the entries older than `days`, in one transaction,
    recording that it did."""
    before = ((moment or datetime.now(UTC)) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    old = store.audit.older(before)
    report = PruneReport(len(old), before, redact)
    if not old:
        return report
    if archive is not None:
        report.archive, report.digest = str(archive), _write_archive(archive, [event.as_dict() for event in old])
    with store.transaction():
        store.audit.prune(old[-1].id, redact=redact)
        kept = f"; archive {archive} sha256 {report.digest}" if archive is not None else "; no archive kept"
        message = f"{'Redacted' if redact else 'Removed'} {len(old)} audit entries older than {before}{kept}"
        store.audit.note("AuditPruned", message, details=[report.as_dict()])
    return report


def _write_archive(path: Path, entries: list[dict[str, Any]]) -> str:
    """The entries as JSON lines in a new private file; its SHA-256."""
    if path.exists():
        raise UsageError(f"{path} exists: the archive goes into a new file (nothing pruned)")
    if not path.parent.is_dir():
        raise UsageError(f"cannot write {path}: the folder {path.parent} does not exist (nothing pruned)")
    data = "".join(json.dumps(entry, ensure_ascii=False, separators=(",", ":")) + "\n" for entry in entries).encode()
    files.write_atomic(path, data)
    return hashlib.sha256(data).hexdigest()


def auto_prune(mapping: Mapping, store: Store) -> str | None:
    """The mapping's audit retention (`audit:`), after a sync or export that wrote: a line on what
    it pruned, or None when it has none or nothing was old enough. A new archive file each time,
    in the mapping's archive folder (inside the mapping's folder)."""
    policy = mapping.audit
    if policy is None:
        return None
    archive = None
    if policy.archive:
        folder = mapping.root.resolve(policy.archive, mapping.folder_of(policy.position), "audit.archive")
        if not folder.is_dir():
            raise UsageError(f"audit.archive {policy.archive!r} is not a folder ({folder}): nothing pruned")
        archive = folder / f"audit-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}.jsonl"
    report = prune_log(store, days=policy.retain_days, archive=archive, redact=policy.redact)
    return f"audit retention ({policy.retain_days} days): {report.text()[0]}" if report.removed else None


def retain_after_run(mapping: Mapping, store: Store) -> None:
    """auto_prune after a run that wrote, its line on stderr; its trouble is a warning there,
    never the run's failure (the run's work is committed)."""
    try:
        line = auto_prune(mapping, store)
    except ScmapperError as exc:
        line = f"WARNING: audit retention did not run: {exc}"
    if line:
        print(f"scmapper: {line}", file=sys.stderr)


def prune_command(db: str, older_than: str | None, archive: str | None, *, redact: bool, as_json: bool) -> int:
    """`log --prune --older-than DAYS [--archive FILE] [--redact]`."""
    from contextlib import closing

    from scmapper.core.reports import emit

    if older_than is None or not older_than.isdigit():
        raise UsageError("--prune takes --older-than DAYS (a whole number of days, 0 for everything before now)")
    with closing(Store(db)) as store:
        report = prune_log(store, days=int(older_than), archive=Path(archive) if archive else None, redact=redact)
    return emit(report, as_json=as_json)
