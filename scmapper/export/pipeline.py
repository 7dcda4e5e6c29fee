"""`export`: the store's active persons and roles as the CSV files Spend Cloud imports.

A straight pipeline, in one export session (store/exports.py): *stage* reads each file's rows
once, renders them to a temporary file beside the final one and fsyncs it, while preflight
judges the suspects; *judge* takes the diff against the last export and the thresholds;
*record* notes the export as 'writing' and commits (emptying the change log); *publish*
renames the files into place, marks the export complete, writes the report and archives it.
A reader never sees a half-written file; a crash between the two renames leaves the history
saying which export is incomplete. A check stages nothing and records nothing; a refused
export records nothing but its refusal, in the audit log. Files equal to the previous export's
are not archived again (its copy holds them).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from scmapper import __version__, files
from scmapper.core.diff import Diff, ThresholdCheck, threshold
from scmapper.core.progress import Meter
from scmapper.core.reports import diff_sections, section
from scmapper.errors import EXIT_DATA, EXIT_OK, MappingError, UsageError
from scmapper.export import checks
from scmapper.export.csvformat import Layout, layouts
from scmapper.export.staging import Staging, archive, archived
from scmapper.mapping.exportspec import Export
from scmapper.mapping.model import Mapping
from scmapper.store import ExportRecord, ExportSession, Moved, Store, now

REPORT_NAME = "export-report.json"
WAY_OUT = "--force writes anyway (recorded in the report and the audit log); --dry-run previews without writing"


ExportStatus = Literal["written", "checked", "refused"]  # checked: --dry-run, nothing written


@dataclass
class ExportReport:
    """What an export did or would do: counts, problems, diff, thresholds and files."""

    mapping: str
    time: str
    previous: ExportRecord | None
    status: ExportStatus = "checked"
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    blocking: list[str] = field(default_factory=list)  # the problems --force does not override
    warnings: list[str] = field(default_factory=list)
    diff: Diff = field(default_factory=Diff)
    thresholds: list[ThresholdCheck] = field(default_factory=list)
    forced: bool = False
    files: list[dict[str, Any]] = field(default_factory=list)
    export_id: int | None = None
    archived: bool = False  # a copy in OUT/archive/<export id>/
    unchanged_since: int | None = None  # the export whose archive copy holds these very files
    held: list[dict[str, Any]] = field(default_factory=list)  # key, reasons, kept
    stamp: dict[str, str] = field(default_factory=dict)  # the scmapper version and mapping digest that made it

    @property
    def exit_code(self) -> int:
        return EXIT_DATA if self.status == "refused" else EXIT_OK

    @property
    def tripped(self) -> list[ThresholdCheck]:
        return [t for t in self.thresholds if t.tripped]

    def as_dict(self) -> dict[str, Any]:
        last = self.previous
        found = {
            "mapping": self.mapping,
            "time": self.time,
            "status": self.status,
            "previousExport": {"id": last.id, "time": last.time, "status": last.status} if last else None,
            "counts": self.counts,
            "problems": self.problems,
            "blocking": self.blocking,
            "thresholds": [t.as_dict() for t in self.thresholds],
            "warnings": self.warnings,
            "diff": self.diff.as_dict(),
            "forced": self.forced,
            "held": self.held,
            "stamp": self.stamp,
            "files": self.files,
        }
        if self.status == "refused":
            found["hint"] = self.way_out()
        if self.export_id is None:
            return found
        return {**found, "exportId": self.export_id, "archived": self.archived, "unchangedSince": self.unchanged_since}

    def summary_line(self) -> str:
        """The closing line's words: rows and verdict."""
        counts = self.counts
        done = {"written": f"written as export #{self.export_id}", "checked": "checked, nothing written"}
        verdict = done.get(self.status, "refused, nothing written")
        return f"export: {counts.get('persons', 0):,} persons and {counts.get('roles', 0):,} roles {verdict}"

    def held_lines(self) -> list[str]:
        """Each held person: why, and what the files hold of them instead."""
        return [
            f"{h['key']}: {'; '.join(h['reasons'])}"
            + (" (keeps its rows of the last export)" if h["kept"] else " (left out until it passes)")
            for h in self.held
        ]

    def way_out(self) -> str:
        """What a refused export's operator can do about it."""
        if self.blocking:
            return "--force cannot override this: " + "; ".join(self.blocking)
        return WAY_OUT

    def summary(self) -> dict[str, Any]:
        """What the exports table keeps of a report: the counts, not the full diff."""
        thresholds = [t.as_dict() for t in self.thresholds]
        return {
            "counts": self.counts,
            "forced": self.forced,
            "held": [h["key"] for h in self.held],
            "stamp": self.stamp,
            "thresholds": thresholds,
            "diff": self.diff.as_dict()["totals"],
        }

    def text(self) -> list[str]:
        counts, last, diff, totals = self.counts, self.previous, self.diff, self.diff.totals
        against = f"export #{last.id} of {last.time}" if last else "nothing (first export)"
        lines = [
            f"Compared with {against}:",
            f"  persons: {counts['previousPersons']} -> {counts['persons']} ({totals['joiners']} joiners,"
            f" {totals['leavers']} leavers, {totals['changed']} changed, {totals['usernameChanges']} username changes)",
            f"  roles: {counts['previousRoles']} -> {counts['roles']}"
            f" ({totals['rolesAdded']} added, {totals['rolesRemoved']} removed)",
        ]
        if not diff.listed:
            lines.append("  nothing exported before: every person and role is new (counted, not listed)")
        lines += [f"WARNING: {w}" for w in self.warnings]
        lines += section("Held back (their rows fail a check)", self.held_lines())
        lines += section("Problems", self.problems)
        if self.problems and self.forced and not self.blocking:
            lines.append(f"OVERRIDDEN with --force: {len(self.problems)} problems")
        for check in self.tripped:
            verdict = "OVERRIDDEN with --force" if self.forced else "REFUSED"
            setting = "export.held" if check.name == "held" else f"export.thresholds.{check.name}"
            way = "" if self.forced else f" (--force overrides; the rule is {setting} in the mapping)"
            lines.append(f"{verdict}: threshold {check.describe()}{way}")
        lines += diff_sections(diff)
        if self.status == "written":
            lines += [f"Wrote {f['path']} ({f['rows']} rows, sha256 {f['sha256'][:12]})" for f in self.files]
            if self.unchanged_since is not None:
                lines.append(
                    f"Unchanged since export #{self.unchanged_since}: not archived again (its copy holds these files)."
                )
        elif self.status == "checked":
            lines.append("Check only: nothing written.")
        else:
            lines.append(f"Refused: nothing written; the previous files are untouched. {self.way_out()}.")
        return lines


def run_export(
    mapping: Mapping, store: Store, out: Path, *, check: bool, force: bool, meter: Meter | None = None
) -> ExportReport:
    export = mapping.export
    if export is None:
        raise UsageError(f"{mapping.file} has no export section: add export.persons (file, columns)")
    found, problems = layouts(mapping)
    if problems:
        raise MappingError(problems)
    # Rendered from a read of one moment, with no lock held, so agents go on writing meanwhile;
    # the write lock is taken only to record. If someone wrote in between, the export is made
    # again from the new moment; the last attempt holds the lock throughout, so it always ends.
    for attempt in range(1, ATTEMPTS + 1):
        staging = Staging(out, export, write=not check)
        try:
            report, staging = _attempt(mapping, store, out, found, staging, meter, check=check, force=force,
                                       lock_first=attempt == ATTEMPTS)  # fmt: skip
            break
        except Moved:
            staging.discard()
            meter = None  # the bar counted the first reading
        except BaseException:
            staging.discard()
            raise
    if report.status != "written":
        staging.discard()
        if report.status == "refused" and not check:
            _log_refusal(report, store)
        return report
    _publish(report, store, out, staging, export)
    return report


ATTEMPTS = 3  # exports made from a moment someone wrote after, before one holds the lock throughout


def _attempt(
    mapping: Mapping,
    store: Store,
    out: Path,
    found: list[Layout],
    staging: Staging,
    meter: Meter | None,
    *,
    check: bool,
    force: bool,
    lock_first: bool,
) -> tuple[ExportReport, Staging]:
    """One try: stage, hold back the failing, judge, and record when written (Moved when the
    database changed since it was read)."""
    export = mapping.export
    assert export is not None
    with store.exports.session(write=not check, lock_first=lock_first) as session:
        report, failing = _stage(mapping, session, found, staging, meter or Meter("export", None, "rows", None))
        limit = threshold("held", export.held, len(failing), report.counts["persons"]) if failing else None
        if failing and (limit is None or not limit.tripped or force):
            staging.discard()  # again, with the failing persons held back
            staging = Staging(out, export, write=not check)
            quiet = Meter("export", None, "rows", None)
            again, _ = _stage(mapping, session, found, staging, quiet, skip=frozenset(failing))
            report = _held(again, session, failing)
        if limit is not None and limit.tripped:  # many at once: something upstream is wrong
            report.thresholds.append(limit)
        _judge(report, mapping, session, check=check, force=force)
        _fault("sleep-before-record")
        if report.status == "written":
            _record(report, session, staging, out)
    return report, staging


def stamp(mapping: Mapping) -> dict[str, str]:
    """What made an export: the scmapper version and the digest of the resolved mapping."""
    return {"scmapper": __version__, "mapping": f"sha256:{mapping.digest}"}


def _held(report: ExportReport, session: ExportSession, failing: dict[str, list[str]]) -> ExportReport:
    """The report of the second pass, naming each held person with the reasons."""
    report.held = [{"key": held.key, "reasons": failing[held.ref], "kept": held.kept} for held in session.held]
    return report


def _stage(
    mapping: Mapping,
    session: ExportSession,
    found: list[Layout],
    staging: Staging,
    meter: Meter,
    skip: frozenset[str] = frozenset(),
) -> tuple[ExportReport, dict[str, list[str]]]:
    """Reads each file's rows once: judged and counted by preflight, rendered, staged; with the
    persons whose rows failed a check (by account reference)."""
    report = ExportReport(mapping.file, now(), session.last, stamp=stamp(mapping))
    if skip:
        session.hold(sorted(skip))
    preflight = checks.Preflight(mapping, session, skip)
    if meter.live:  # the whole is worth a count only where someone watches the bar
        meter.total = sum(session.active_rows())
    for layout in found:
        columns = layout.spec.columns
        if layout.kind == "persons":
            batches = session.person_rows(columns, layout.line, preflight.persons)
        else:
            batches = session.role_rows(columns, layout.line, preflight.roles, preflight.owner)
        batches = meter.track(batches, lambda batch: len(batch.rows))
        staging.stage(layout, layout.render(preflight.judged(layout.kind, batches)))
    previous = session.last.row_counts() if session.last else (0, 0)
    counts = preflight.counts
    report.counts = {**counts, "previousPersons": previous[0], "previousRoles": previous[1]}
    report.problems, report.blocking = preflight.problems(), preflight.blocking()
    report.warnings += preflight.warnings
    if staging.written_rows.get("persons") == 0 and checks.EMPTY not in report.blocking:
        # A template chose what to write: whatever it selected, a file without rows would
        # deactivate everyone all the same, so no flag overrides it.
        empty = f"{checks.EMPTY} (the template wrote no data row)"
        report.problems.insert(0, empty)
        report.blocking.insert(0, empty)
    report.problems += staging.rows_lost(counts)
    return report, preflight.failing


def _judge(report: ExportReport, mapping: Mapping, session: ExportSession, *, check: bool, force: bool) -> None:
    """The diff and the thresholds, then the verdict: refused, checked or written."""
    counts = report.counts
    report.diff = checks.diff(mapping, session, counts["persons"], counts["roles"])
    removals = checks.thresholds(mapping, report.diff, counts["previousPersons"], counts["previousRoles"])
    report.thresholds = removals + report.thresholds
    last = session.last
    if last and last.status == "writing":
        report.warnings.append(
            f"export #{last.id} of {last.time} did not finish renaming its files: the files in"
            f" {last.out_dir} may come from different exports; this export replaces them all"
        )
    if report.blocking or ((report.problems or report.tripped) and not force):
        report.status = "refused"
    else:
        report.status = "checked" if check else "written"
        report.forced = bool(report.problems or report.tripped) and not check


def _record(report: ExportReport, session: ExportSession, staging: Staging, out: Path) -> None:
    """The export as 'writing', in the session (which commits it and empties the change log)."""
    staging.check_encoding()
    rows = [staging.written_rows.get(kind, report.counts[kind]) for kind in ("persons", "roles")]
    report.files = [
        {"name": s.final.name, "path": str(s.final), "rows": n, "sha256": s.sha256}
        for s, n in zip(staging.staged, rows, strict=False)
    ]
    report.export_id = session.record(
        time=report.time, forced=report.forced, out_dir=str(out), files=report.files, summary=report.summary()
    )


def _publish(report: ExportReport, store: Store, out: Path, staging: Staging, export: Export) -> None:
    """Renames the recorded files into place, marks the export complete, writes the report."""
    export_id = report.export_id
    assert export_id is not None
    for i, item in enumerate(staging.staged):
        if i:
            _fault("between-renames")
        os.replace(item.temp, item.final)
    files.fsync_dir(out)
    with store.transaction():
        store.exports.finish(export_id)
        written = ", ".join(f"{f['name']} ({f['rows']} rows)" for f in report.files)
        forced = ""
        if report.forced:
            overridden = [t.describe() for t in report.tripped] + [f"preflight: {p}" for p in report.problems]
            forced = "; overridden with --force: " + "; ".join(overridden)
        held = ""
        if report.held:
            keys = [h["key"] for h in report.held]
            held = f"; {len(keys)} held back: " + ", ".join(keys[:10]) + (", ..." if len(keys) > 10 else "")
        store.audit.add(
            time=now(),
            action="ExportFiles",
            ref=None,
            success=True,
            message=f"Exported #{export_id} to {out}: {written}{held}{forced}"
            f" (mapping {report.stamp['mapping'][:19]}, scmapper {report.stamp['scmapper']})",
            details=[
                {
                    "exportId": export_id,
                    "files": report.files,
                    "forced": report.forced,
                    "held": report.held,
                    "stamp": report.stamp,
                }
            ],
        )
    last = report.previous
    if last and last.status == "complete" and _same_files(last, report.files) and archived(out, last.id):
        report.unchanged_since = last.id  # its archive copy holds these very files
    else:
        report.archived = export.archive > 0
    text = json.dumps(report.as_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"
    files.write_atomic(out / REPORT_NAME, text.encode("utf-8"), export.file_mode)
    if report.archived:
        archive(
            out, export_id, [s.final for s in staging.staged] + [out / REPORT_NAME], export.archive, export.file_mode
        )


def _same_files(last: ExportRecord, written: list[dict[str, Any]]) -> bool:
    return [f["sha256"] for f in last.files] == [f["sha256"] for f in written]


def _log_refusal(report: ExportReport, store: Store) -> None:
    """A refused export in the audit log: the one thing it writes."""
    reasons = [f"threshold {t.describe()}" for t in report.tripped] + report.problems
    shown = "; ".join(reasons[:5]) + (f"; and {len(reasons) - 5} more" if len(reasons) > 5 else "")
    if report.tripped and not report.problems:
        shown += " (--dry-run lists the changes; --force writes past the threshold)"
    with store.transaction():
        details = {"problems": report.problems, "thresholds": [t.as_dict() for t in report.tripped]}
        store.audit.note("ExportRefused", f"Export refused, nothing written: {shown}", success=False, details=[details])


def _fault(point: str) -> None:
    """Test hook: SCMAPPER_FAULT=<point> kills the process there, as a power cut would;
    SCMAPPER_FAULT=<point>:<seconds> pauses there instead (a long render)."""
    fault = os.environ.get("SCMAPPER_FAULT", "")
    if fault == point:
        os._exit(137)
    name, _, seconds = fault.partition(":")
    if name == point and seconds:
        time.sleep(float(seconds))
