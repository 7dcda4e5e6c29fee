"""`export`: the store's active persons and roles as the CSV files Spend Cloud imports.

Order of work: snapshot (one read transaction) -> preflight, diff and thresholds
(`checks.py`) -> render each file through its Jinja template to a temporary name,
fsync -> record the export and its rows as 'writing' -> rename both into place ->
mark it 'complete' -> archive and report. A reader never sees a half-written file;
a crash between the two renames leaves the history saying which export is incomplete.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

from jinja2 import Template

from scmapper import checks, expressions
from scmapper.csvformat import Dialect
from scmapper.errors import EXIT_DATA, EXIT_OK, MappingError, Problem, UsageError
from scmapper.mapping import ExportFile, Mapping, problem_at
from scmapper.scan import Scan
from scmapper.store import Store, now

TEMPLATES = Path(__file__).parent / "templates"
BUILTIN = TEMPLATES / "csv.j2"
REPORT_NAME = "export-report.json"
ARCHIVE_DIR = "archive"


@dataclass
class Outcome:
    """What an export run did or would do, and its exit code."""

    status: str  # written | checked | refused
    report: dict[str, Any] = field(default_factory=dict)
    text: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return EXIT_DATA if self.status == "refused" else EXIT_OK


# --- templates -------------------------------------------------------------------------------


def template_path(mapping: Mapping, spec: ExportFile) -> Path:
    """A built-in template by name, or a .j2 file relative to the mapping."""
    if "/" not in spec.template and "\\" not in spec.template and not spec.template.endswith(".j2"):
        return TEMPLATES / f"{spec.template}.j2"
    return mapping.base_dir / spec.template


def template_problems(mapping: Mapping) -> list[Problem]:
    """Problems with the export templates: missing, broken, unsafe, or disagreeing with the columns."""
    if mapping.export is None:
        return []
    problems = []
    for kind, spec in (("persons", mapping.export.persons), ("roles", mapping.export.roles)):
        if spec is None:
            continue
        path = template_path(mapping, spec)
        try:
            source = path.read_text("utf-8")
        except OSError:
            problems.append(
                problem_at(mapping.file, spec.position, f"export.{kind}: template {spec.template!r} not found ({path})")
            )
            continue
        for line, message in expressions.check_csv_template(source, spec.columns):
            problems.append(Problem(str(path), line, 1, f"export.{kind} template: {message}"))
    return problems


def _template(mapping: Mapping, spec: ExportFile) -> Template:
    return expressions.csv_environment().from_string(template_path(mapping, spec).read_text("utf-8"))


# --- the run ---------------------------------------------------------------------------------


def run_export(mapping: Mapping, store: Store, out: Path, *, check: bool, force: bool) -> Outcome:
    export = mapping.export
    if export is None:
        raise UsageError(f"{mapping.file} has no export section: add export.persons (file, columns)")
    problems = template_problems(mapping)
    if problems:
        raise MappingError(problems)
    scan = Scan(mapping, store)
    staging = _Staging(mapping, out, check)
    scan.begin(write=not check)
    try:
        last = store.last_export()
        staging.file(export.persons, scan.persons(lines=staging.builtin(export.persons)))
        if export.roles:
            staging.file(export.roles, scan.roles(lines=staging.builtin(export.roles)))
        scan.compare()
        report = _report(mapping, scan, last)
        limits = checks.thresholds(mapping, scan.diff, scan.totals.previous_persons, scan.totals.previous_roles)
        report["thresholds"] = [t.as_dict() for t in limits]
        tripped = [t for t in limits if t.tripped]
        status = "refused" if report["problems"] or (tripped and not force) else "checked" if check else "written"
        if status != "written":
            scan.rollback()
            staging.discard()
            return _outcome(status, report, scan.diff, tripped)
        staging.failed_encoding()
        report["forced"] = bool(tripped)
        _record(store, scan, staging, report, out)
    except BaseException:
        scan.rollback()
        staging.discard()
        raise
    _publish(mapping, store, out, staging, report)
    return _outcome("written", report, scan.diff, tripped)


def _report(mapping: Mapping, scan: Scan, last: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "mapping": mapping.file,
        "time": now(),
        "previousExport": {"id": last["id"], "time": last["time"], "status": last["status"]} if last else None,
        "counts": {
            "persons": scan.totals.persons,
            "roles": scan.totals.roles,
            "previousPersons": scan.totals.previous_persons,
            "previousRoles": scan.totals.previous_roles,
        },
        "problems": scan.problems(),
        "thresholds": [],
        "warnings": _interrupted(last),
        "diff": scan.diff.as_dict(),
        "forced": False,
        "files": [],
    }


def _interrupted(last: dict[str, Any] | None) -> list[str]:
    if last and last["status"] == "writing":
        return [
            f"export #{last['id']} of {last['time']} did not finish renaming its files: the files in"
            f" {last['out_dir']} may come from different exports; this export replaces them all"
        ]
    return []


def _record(store: Store, scan: Scan, staging: _Staging, report: dict[str, Any], out: Path) -> None:
    """In the export's transaction: the export as 'writing', and the change log emptied."""
    staging.staged = [replace(item, rows=n) for item, n in zip(staging.staged, scan.row_counts(), strict=False)]
    report["files"] = [
        {"name": s.final.name, "path": str(s.final), "rows": s.rows, "sha256": s.sha256} for s in staging.staged
    ]
    last = store.last_export()
    if last and last["status"] == "writing":
        store.finish_export(last["id"], "interrupted")
    report["exportId"] = store.record_export(
        time=report["time"], forced=report["forced"], out_dir=str(out), files=report["files"], report=_summary(report)
    )
    scan.commit()


def _publish(mapping: Mapping, store: Store, out: Path, staging: _Staging, report: dict[str, Any]) -> None:
    """Renames the recorded files into place, marks the export complete, writes the report."""
    export = mapping.export
    assert export is not None
    export_id = report["exportId"]
    for i, item in enumerate(staging.staged):
        if i:
            _fault("between-renames")
        os.replace(item.temp, item.final)
    _fsync_dir(out)
    with store.transaction():
        store.finish_export(export_id)
        files = ", ".join(f"{f['name']} ({f['rows']} rows)" for f in report["files"])
        forced = " (thresholds overridden with --force)" if report["forced"] else ""
        store.add_event(
            time=now(),
            action="ExportFiles",
            ref=None,
            success=True,
            message=f"Exported #{export_id} to {out}: {files}{forced}",
            details=[{"exportId": export_id, "files": report["files"], "forced": report["forced"]}],
            before=None,
            after=None,
        )
    _write_json(out / REPORT_NAME, report, export.file_mode)
    _archive(out, export_id, [s.final for s in staging.staged] + [out / REPORT_NAME], export.archive, export.file_mode)


@dataclass(frozen=True)
class _Staged:
    temp: Path
    final: Path
    rows: int
    sha256: str


class _Staging:
    """The files of one export, rendered to temporary names beside their final ones and synced to
    disk while the scan reads; a check renders and throws the text away. `discard` leaves the
    folder as it was (a folder it had to create goes again)."""

    def __init__(self, mapping: Mapping, out: Path, check: bool) -> None:
        self.mapping, self.out, self.check = mapping, out, check
        self.staged: list[_Staged] = []
        self.created = False
        self.unencodable: str | None = None

    def builtin(self, spec: ExportFile) -> bool:
        return template_path(self.mapping, spec) == BUILTIN

    def file(self, spec: ExportFile, rows: Iterator[str | Sequence[str]]) -> None:
        export = self.mapping.export
        assert export is not None
        chunks = render(self.mapping, spec, rows)
        if self.check or self.unencodable:
            for _ in chunks:  # the scan still checks and compares every row
                pass
            return
        if not self.staged:
            self._prepare_folder(export)
        temp = self.out / f".{spec.file}.{os.getpid()}.tmp"
        digest = hashlib.sha256()
        encoder = codecs.getincrementalencoder(spec.encoding)()
        with _open_private(temp, export.file_mode) as handle:
            self.staged.append(_Staged(temp, self.out / spec.file, 0, ""))
            try:
                for data in _encoded(chunks, encoder):
                    handle.write(data)
                    digest.update(data)
            except UnicodeEncodeError as exc:
                # Preflight names the cell; only if it does not, this becomes the error.
                self.unencodable = f"{spec.file}: {spec.encoding} cannot hold {exc.object[exc.start]!r}"
                for _ in chunks:
                    pass
                return
            handle.flush()
            os.fsync(handle.fileno())
        self.staged[-1] = _Staged(temp, self.out / spec.file, 0, digest.hexdigest())

    def failed_encoding(self) -> None:
        if self.unencodable:
            self.discard()
            raise UsageError(f"{self.unencodable}; nothing written")

    def _prepare_folder(self, export: Any) -> None:
        self.created = not self.out.exists()
        try:
            self.out.mkdir(parents=True, exist_ok=True, mode=_dir_mode(export.file_mode))
        except OSError as exc:
            raise UsageError(f"cannot create output folder {self.out}: {exc.strerror}") from None
        _remove_stale_temps(self.out, [export.persons] + ([export.roles] if export.roles else []))

    def discard(self) -> None:
        for item in self.staged:
            item.temp.unlink(missing_ok=True)
        self.staged = []
        if self.created:
            with contextlib.suppress(OSError):
                self.out.rmdir()
            self.created = False


def render(
    mapping: Mapping, spec: ExportFile, rows: Iterable[str | Sequence[str]], *, fast: bool = True
) -> Iterator[str]:
    """A file's text, in pieces, from rows that are finished lines (SQL built them) or the
    exported cells in column order. The built-in layout is written without a Jinja loop, through
    the same Dialect.row its template calls (tests prove the bytes identical); others render."""
    dialect = Dialect.of(spec)
    header = list(spec.header) if spec.header else None
    if fast and template_path(mapping, spec) == BUILTIN:
        if header:
            yield dialect.row(header)
        for row in rows:
            yield row if type(row) is str else dialect.row(row)
        return
    columns = list(spec.columns)
    yield from _template(mapping, spec).generate(
        header=header,
        rows=(dict(zip(columns, row, strict=True)) for row in rows),
        columns=columns,
        scm_dialect=dialect,
    )


def _encoded(chunks: Iterator[str], encoder: codecs.IncrementalEncoder) -> Iterator[bytes]:
    """Batches template output into blocks of about 64 KiB, encoded once per block."""
    pending: list[str] = []
    size = 0
    for chunk in chunks:
        pending.append(chunk)
        size += len(chunk)
        if size >= 65_536:
            yield encoder.encode("".join(pending))
            pending, size = [], 0
    yield encoder.encode("".join(pending), final=True)


def _remove_stale_temps(out: Path, specs: list[ExportFile]) -> None:
    """Temporary files a killed export left behind: never published, safe to remove."""
    for spec in specs:
        for stale in out.glob(f".{spec.file}.*.tmp"):
            stale.unlink(missing_ok=True)


def _fault(point: str) -> None:
    """Test hook: SCMAPPER_FAULT=<point> kills the process there, as a power cut would."""
    if os.environ.get("SCMAPPER_FAULT") == point:
        os._exit(137)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _open_private(path: Path, mode: int) -> BinaryIO:
    """A new file created with `mode` from the start, never briefly world-readable."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "wb")


def _dir_mode(file_mode: int) -> int:
    """A folder mode matching a file mode: each read bit brings its search bit (0600 -> 0700)."""
    return file_mode | ((file_mode & 0o444) >> 2)


def _write_json(path: Path, data: dict[str, Any], mode: int) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # Compact: json's C encoder handles that, and a first export's report lists every person.
    with _open_private(temp, mode) as handle:
        handle.write((json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8"))
    os.replace(temp, path)


def _archive(out: Path, export_id: int, files: list[Path], keep: int, file_mode: int) -> None:
    """Keeps copies of the last `keep` exports in out/archive/<id>/."""
    if keep <= 0:
        return
    root = out / ARCHIVE_DIR
    target = root / f"{export_id:06d}"
    root.mkdir(exist_ok=True, mode=_dir_mode(file_mode))
    target.mkdir(exist_ok=True, mode=_dir_mode(file_mode))
    for path in files:
        shutil.copy2(path, target / path.name)
    old = sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit())
    for stale in old[:-keep]:
        shutil.rmtree(stale)


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    """What the exports table keeps of a report: the counts, not the full diff."""
    found = report["diff"]
    return {
        "counts": report["counts"],
        "forced": report["forced"],
        "thresholds": report["thresholds"],
        "diff": found["totals"],
    }


# --- the report as text ----------------------------------------------------------------------


USERNAME_WARNING = "Spend Cloud will create a new employee and deactivate the old one"


def _outcome(status: str, report: dict[str, Any], found: checks.Diff, tripped: list[checks.ThresholdCheck]) -> Outcome:
    report["status"] = status
    return Outcome(status, report, _text(status, report, found, tripped))


def _text(status: str, report: dict[str, Any], found: checks.Diff, tripped: list[checks.ThresholdCheck]) -> list[str]:
    counts, last, totals = report["counts"], report["previousExport"], found.totals
    against = f"export #{last['id']} of {last['time']}" if last else "nothing (first export)"
    lines = [
        f"Compared with {against}:",
        f"  persons: {counts['previousPersons']} -> {counts['persons']} ({totals['joiners']} joiners,"
        f" {totals['leavers']} leavers, {totals['changed']} changed, {totals['usernameChanges']} username changes)",
        f"  roles: {counts['previousRoles']} -> {counts['roles']}"
        f" ({totals['rolesAdded']} added, {totals['rolesRemoved']} removed)",
    ]
    if not found.listed:
        lines.append("  nothing exported before: every person and role is new (counted, not listed)")
    lines += [f"WARNING: {w}" for w in report["warnings"]]
    lines += _section("Problems", report["problems"])
    for check in tripped:
        verdict = "OVERRIDDEN with --force" if report["forced"] else "REFUSED"
        lines.append(f"{verdict}: threshold {check.describe()}")
    lines += _section("Leavers", [f"{p['key']} ({p['username']})" for p in found.leavers])
    lines += _section(
        f"Username changes: {USERNAME_WARNING}",
        [f"{c['key']}: {c['before']!r} -> {c['after']!r}" for c in found.username_changes],
    )
    lines += _section(
        "Changed",
        [
            f"{c['key']} ({c['username']}): "
            + ", ".join(f"{k} {v['before']!r} -> {v['after']!r}" for k, v in c["fields"].items())
            for c in found.changed
        ],
    )
    lines += _section("Joiners", [f"{p['key']} ({p['username']})" for p in found.joiners])
    lines += _section("Roles removed", [", ".join(f"{k}={v}" for k, v in r.items()) for r in found.roles_removed])
    lines += _section("Roles added", [", ".join(f"{k}={v}" for k, v in r.items()) for r in found.roles_added])
    if status == "written":
        lines += [f"Wrote {f['path']} ({f['rows']} rows, sha256 {f['sha256'][:12]})" for f in report["files"]]
    elif status == "checked":
        lines.append("Check only: nothing written.")
    else:
        lines.append("Refused: nothing written; the previous files are untouched.")
    return lines


def _section(title: str, items: list[str], limit: int = 50) -> list[str]:
    if not items:
        return []
    shown = [f"  {item}" for item in items[:limit]]
    if len(items) > limit:
        shown.append(f"  ... and {len(items) - limit} more (see --json)")
    return [f"{title} ({len(items)}):", *shown]
