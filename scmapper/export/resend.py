"""Re-sending an earlier export: `export --resend ID` makes the archived files of export ID the
current files again, as a new export.

Vocabulary: the *received* files are those of the last export written, what Spend Cloud last
imported; the *re-sent* files are export ID's, from `OUT/archive/<ID>/`, checked against the
SHA-256 the exports table recorded for them. The two persons files are compared by the
username column (the role files row by row), and the same thresholds as a regular export guard
the removals (`--force` past them, `--dry-run` to look). Once written, Spend Cloud holds the
re-sent files, so the change log is made to say so: for each person whose rows differ from
the re-sent ones (matched by username, else e-mail), the re-sent rows become what the next
export compares with. A person in the re-sent files whom no one in the database matches is
named: the next export leaves them out without counting them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scmapper import files
from scmapper.core.diff import ThresholdCheck, threshold
from scmapper.errors import EXIT_DATA, EXIT_OK, UsageError
from scmapper.export.csvformat import BUILTIN, formula_like, template_path
from scmapper.export.pipeline import stamp
from scmapper.export.staging import ARCHIVE_DIR, archive
from scmapper.mapping.exportspec import ExportFile
from scmapper.mapping.model import Mapping
from scmapper.store import Store, changelog, now, resends

Row = dict[str, str]


@dataclass
class ResendReport:
    resend_of: int
    received: int | None  # the export Spend Cloud last received
    status: str = "checked"  # checked | written | refused
    export_id: int | None = None
    forced: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    thresholds: list[ThresholdCheck] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # usernames in the re-sent files no one has now
    files: list[dict[str, Any]] = field(default_factory=list)
    stamp: dict[str, str] = field(default_factory=dict)  # what made the re-send (scmapper, mapping)

    @property
    def tripped(self) -> list[ThresholdCheck]:
        return [t for t in self.thresholds if t.tripped]

    @property
    def exit_code(self) -> int:
        return EXIT_DATA if self.status == "refused" else EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "resendOf": self.resend_of,
            "comparedWith": self.received,
            "exportId": self.export_id,
            "forced": self.forced,
            "counts": self.counts,
            "thresholds": [t.as_dict() for t in self.thresholds],
            "unmatched": self.unmatched,
            "files": self.files,
        }

    def text(self) -> list[str]:
        c = self.counts
        against = f"export #{self.received}" if self.received else "nothing (no export written before)"
        lines = [
            f"Re-send of export #{self.resend_of}, compared with {against}:",
            f"  persons: {c.get('receivedPersons', 0)} -> {c.get('persons', 0)} ({c.get('removedPersons', 0)} removed)",
            f"  roles: {c.get('receivedRoles', 0)} -> {c.get('roles', 0)} ({c.get('removedRoles', 0)} removed)",
        ]
        for check in self.tripped:
            verdict = "OVERRIDDEN with --force" if self.forced else "REFUSED"
            lines.append(f"{verdict}: threshold {check.describe()}")
        if self.unmatched:
            shown = ", ".join(self.unmatched[:10]) + (", ..." if len(self.unmatched) > 10 else "")
            lines.append(
                f"WARNING: {len(self.unmatched)} person(s) in the re-sent files match no one in the database by"
                f" username or e-mail ({shown}): the next export removes them from Spend Cloud again (counted)"
            )
        if self.status == "written":
            lines += [f"Wrote {f['path']} ({f['rows']} rows, sha256 {f['sha256'][:12]})" for f in self.files]
            lines.append(f"Recorded as export #{self.export_id}; `scmapper upload` sends it as usual.")
        elif self.status == "checked":
            lines.append("Check only: nothing written.")
        else:
            lines.append("Refused: nothing written. --force re-sends anyway (recorded); --dry-run looks first.")
        return lines


def run_resend(mapping: Mapping, store: Store, out: Path, resend_of: int, *, check: bool, force: bool) -> ResendReport:
    export = mapping.export
    if export is None:
        raise UsageError(f"{mapping.file} has no export section: there is nothing to re-send")
    specs = [s for s in (export.persons, export.roles) if s is not None]
    _same_layout(mapping, specs)
    sent = _archived(store, out, resend_of, specs)
    last = store.exports.get()
    report = ResendReport(resend_of, last.id if last else None, stamp=stamp(mapping))
    received = _received(out, last, specs) if last else [b""] * len(specs)
    old = [_rows(data, spec, f"export #{last.id if last else 0}") for data, spec in zip(received, specs, strict=True)]
    new = [_rows(data, spec, f"export #{resend_of}") for data, spec in zip(sent, specs, strict=True)]
    _judge(report, mapping, old, new)
    entries, report.unmatched = _change_log(mapping, store, new)
    report.forced = bool(report.tripped) and force and not check
    if report.tripped and not force:
        report.status = "refused"
        if not check:
            _log_refusal(store, report)
    if report.status == "refused" or check:
        return report
    report.files = [
        {"name": spec.file, "path": str(out / spec.file), "rows": len(rows), "sha256": hashlib.sha256(data).hexdigest()}
        for spec, data, rows in zip(specs, sent, new, strict=True)
    ]
    with store.transaction():
        newest = store.exports.get()
        if (newest.id if newest else None) != report.received:  # an export written since it compared
            raise UsageError(f"export #{newest.id if newest else 0} was written meanwhile: run the re-send again")
        report.export_id = _record(store, report, out)
        changelog.replace(store.db, entries)
    for spec, data in zip(specs, sent, strict=True):
        files.write_atomic(out / spec.file, data, export.file_mode)
    files.fsync_dir(out)
    with store.transaction():
        store.exports.finish(report.export_id)
    report.status = "written"
    text = json.dumps(report.as_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"
    files.write_atomic(out / "export-report.json", text.encode("utf-8"), export.file_mode)
    archive(
        out,
        report.export_id,
        [out / s.file for s in specs] + [out / "export-report.json"],
        export.archive,
        export.file_mode,
    )
    return report


def _same_layout(mapping: Mapping, specs: list[ExportFile]) -> None:
    """Re-sent files are read back by the built-in layout's columns: a custom template writes
    rows it alone knows."""
    for spec in specs:
        if template_path(mapping, spec, "persons") != BUILTIN:
            raise UsageError(
                f"export file {spec.file} is written by the template {spec.template!r}: a re-send reads the files"
                " back as the built-in layout writes them, so it works with that layout only (nothing re-sent)"
            )


def _log_refusal(store: Store, report: ResendReport) -> None:
    reasons = "; ".join(f"threshold {t.describe()}" for t in report.tripped)
    with store.transaction():
        message = f"Re-send of export #{report.resend_of} refused: {reasons} (--force re-sends anyway)"
        store.audit.note("ExportRefused", message, success=False, details=[report.as_dict()])


def _archived(store: Store, out: Path, export_id: int, specs: list[ExportFile]) -> list[bytes]:
    """The files of export `export_id` from the archive, each as recorded (its SHA-256)."""
    record = store.exports.get(export_id)
    folder = out / ARCHIVE_DIR / f"{export_id:06d}"
    held = (
        sorted(int(p.name) for p in (out / ARCHIVE_DIR).iterdir() if p.name.isdigit())
        if (out / ARCHIVE_DIR).is_dir()
        else []
    )
    if record is None or record.status != "complete" or not folder.is_dir():
        holds = ", ".join(f"#{n}" for n in held) or "nothing"
        raise UsageError(f"export #{export_id} is not in the archive of {out} (it holds {holds}): nothing re-sent")
    found = []
    for spec in specs:
        entry = next((f for f in record.files if f["name"] == spec.file), None)
        path = folder / spec.file
        data = path.read_bytes() if path.is_file() and not path.is_symlink() else None
        if entry is None or data is None or hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise UsageError(
                f"{path} is missing or not the file export #{export_id} wrote (its SHA-256 differs): nothing re-sent"
            )
        found.append(data)
    return found


def _received(out: Path, last: Any, specs: list[ExportFile]) -> list[bytes]:
    """The files Spend Cloud last received: the last export's, from the archive or the output folder."""
    found = []
    for spec in specs:
        entry = next((f for f in last.files if f["name"] == spec.file), None)
        for path in (out / ARCHIVE_DIR / f"{last.id:06d}" / spec.file, out / spec.file):
            data = path.read_bytes() if path.is_file() else None
            if entry is not None and data is not None and hashlib.sha256(data).hexdigest() == entry["sha256"]:
                found.append(data)
                break
        else:
            raise UsageError(
                f"the files of export #{last.id}, which Spend Cloud last received, are neither in {out} nor in its"
                " archive: nothing to compare the re-send with, so nothing re-sent"
            )
    return found


def _rows(data: bytes, spec: ExportFile, which: str) -> list[Row]:
    """A file's data rows as dicts of its columns; its header row must be the mapping's."""
    try:
        text = data.decode(spec.encoding)
    except UnicodeDecodeError:
        raise UsageError(
            f"{spec.file} of {which} is not {spec.encoding}: written with another layout (nothing re-sent)"
        ) from None
    lines = [line for line in csv.reader(io.StringIO(text, newline=""), delimiter=spec.delimiter) if line]
    if spec.header is not None and lines:
        if [_unguarded(c, spec) for c in lines[0]] != list(spec.header):
            raise UsageError(
                f"{spec.file} of {which} has the header {lines[0]!r}, not the mapping's {list(spec.header)!r}:"
                " written with another layout (nothing re-sent)"
            )
        lines = lines[1:]
    return [dict(zip(spec.columns, (_unguarded(c, spec) for c in line), strict=False)) for line in lines]


def _unguarded(cell: str, spec: ExportFile) -> str:
    """A cell as its value was: the formula guard's apostrophe taken off where it added one."""
    return cell[1:] if spec.formula_guard and cell.startswith("'") and formula_like(cell[1:]) else cell


def _judge(report: ResendReport, mapping: Mapping, old: list[list[Row]], new: list[list[Row]]) -> None:
    export = mapping.export
    assert export is not None
    ident = mapping.username or export.persons.columns[0]
    before = Counter(r.get(ident, "") for r in old[0])
    after = Counter(r.get(ident, "") for r in new[0])
    removed_persons = sum((before - after).values())
    report.counts = {
        "receivedPersons": len(old[0]),
        "persons": len(new[0]),
        "removedPersons": removed_persons,
    }
    checks = [threshold("removed_persons", export.removed_persons, removed_persons, len(old[0]))]
    if len(old) > 1:
        role_before = Counter(tuple(sorted(r.items())) for r in old[1])
        role_after = Counter(tuple(sorted(r.items())) for r in new[1])
        removed_roles = sum((role_before - role_after).values())
        report.counts |= {"receivedRoles": len(old[1]), "roles": len(new[1]), "removedRoles": removed_roles}
        checks.append(threshold("removed_roles", export.removed_roles, removed_roles, len(old[1])))
    report.thresholds = [c for c in checks if c is not None]


def _record(store: Store, report: ResendReport, out: Path) -> int:
    summary = {
        "stamp": report.stamp,
        "counts": report.counts,
        "forced": report.forced,
        "resendOf": report.resend_of,
        "thresholds": [t.as_dict() for t in report.thresholds],
    }
    export_id = resends.record(
        store.db, time=now(), forced=report.forced, out_dir=str(out), files=report.files, summary=summary
    )
    overridden = (
        "; overridden with --force: " + "; ".join(t.describe() for t in report.tripped) if report.forced else ""
    )
    message = f"Re-sent export #{report.resend_of} as export #{export_id} to {out}{overridden}"
    details = {"exportId": export_id, "resendOf": report.resend_of, "files": report.files, "forced": report.forced}
    store.audit.note("ExportFiles", message, details=[details])
    return export_id


RESENT_KEY = "re-sent:"  # the change log's key for a re-sent person no one in the database is


def _change_log(mapping: Mapping, store: Store, sent: list[list[Row]]) -> tuple[list[Any], list[str]]:
    """The change log as it must be after the re-send: for each person whose exported rows differ
    from the re-sent ones, the re-sent rows (NULL where the files hold none of them); and for
    each re-sent person no one in the database matches (by username, else e-mail; each row one
    person at most, active persons first), an entry of their own, so the next export counts
    them among those it removes. Also those persons' usernames."""
    export = mapping.export
    assert export is not None
    person_columns = list(export.persons.columns)
    role_columns = list(export.roles.columns) if export.roles else []
    ident = mapping.username or person_columns[0]
    rows = sent[0]
    # Roles go to their person by the username in each role row; without one they cannot, and
    # each person is taught the roles they have now (no role change is seen for them).
    attributable = len(sent) > 1 and ident in role_columns
    roles_of: dict[str, list[Row]] = {}
    for role in sent[1] if attributable else []:
        roles_of.setdefault(role.get(ident, ""), []).append(role)
    people = [
        (key, bool(active), _text(json.loads(data)), [_text(r) for r in json.loads(roles)])
        for key, active, data, roles in changelog.exported_state(
            store.db, store.persons.key, person_columns, role_columns
        )
    ]
    people.sort(key=lambda p: not p[1])  # active persons claim their rows first
    held: dict[str, int] = {}  # person key -> index of the re-sent row they are
    taken: set[int] = set()
    for column, fold in ((ident, str), ("email", str.casefold)):
        index = {fold(r.get(column, "")): i for i, r in enumerate(rows) if r.get(column)}
        for key, _, row, _ in people:
            found = index.get(fold(row.get(column, ""))) if row.get(column) and key not in held else None
            if found is not None and found not in taken:
                held[key] = found
                taken.add(found)
    entries: list[Any] = []
    for key, active, row, now_roles in people:
        sent_row = rows[held[key]] if key in held else None
        if sent_row is None and not active:
            continue
        if sent_row is None:
            sent_roles: list[Row] = []
        else:
            sent_roles = roles_of.get(sent_row.get(ident, ""), []) if attributable else now_roles
        same_roles = Counter(map(_frozen, sent_roles)) == Counter(map(_frozen, now_roles))
        if active and sent_row == row and same_roles:
            continue
        entries.append((key, json.dumps(sent_row) if sent_row else None, json.dumps(sent_roles) if sent_row else None))
    unmatched = [r for i, r in enumerate(rows) if i not in taken]
    for row in unmatched:
        entries.append(
            (RESENT_KEY + row.get(ident, ""), json.dumps(row), json.dumps(roles_of.get(row.get(ident, ""), [])))
        )
    return entries, sorted(r.get(ident, "") for r in unmatched)


def _text(row: dict[str, Any]) -> Row:
    """A row as its file holds it: every value text, null empty."""
    return {k: "" if v is None else str(v) for k, v in row.items()}


def _frozen(row: Row) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(row.items()))
