"""The files of one export on disk: staged beside their final names, discarded, archived.

Vocabulary: a *staged* file is written under a temporary name in the output folder (so
its rename into place never crosses file systems), synced, with its SHA-256; the *archive*
keeps copies of the last exports in `OUT/archive/<id>/`.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import io
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from scmapper import files
from scmapper.errors import UsageError
from scmapper.export.csvformat import Layout
from scmapper.mapping.exportspec import Export

ARCHIVE_DIR = "archive"


@dataclass(frozen=True)
class Staged:
    temp: Path
    final: Path
    sha256: str


class Staging:
    """The files of one export, written to temporary names beside their final ones and synced;
    a check renders and keeps nothing. `discard` leaves the folder as it was (a folder it had
    to create goes again)."""

    def __init__(self, out: Path, export: Export, *, write: bool) -> None:
        self.out, self.export, self.write = out, export, write
        self.staged: list[Staged] = []
        self.created = False
        self.unencodable: str | None = None
        self.written_rows: dict[str, int] = {}  # data rows a template wrote, by file kind
        self._names: dict[str, str] = {}  # the file of each kind a template wrote

    def stage(self, layout: Layout, chunks: Iterator[str]) -> None:
        if layout.template is not None:  # what a template writes is counted, not assumed
            counter = RowCounter(layout.dialect.delimiter)
            chunks = counter.counting(chunks)
        self._stage(layout, chunks)
        if layout.template is not None:
            # A template may print the header row or leave it out: the first record tells.
            header = layout.spec.header is not None and counter.first == list(layout.spec.header)
            self.written_rows[layout.kind] = counter.records - (1 if header else 0)
            self._names[layout.kind] = layout.spec.file

    def rows_lost(self, given: dict[str, int]) -> list[str]:
        """A problem for each template that wrote more or fewer data rows than it was given: the
        counts, the diff and the thresholds speak of the rows given, so Spend Cloud would get
        another file than the report describes (a person left out is deactivated). --force
        writes it all the same. (A persons template that wrote none is refused before this.)"""
        found = []
        for kind, wrote in self.written_rows.items():
            if wrote != given[kind] and (wrote or kind == "roles"):
                found.append(
                    f"{self._names[kind]}: the template wrote {wrote} data rows for {given[kind]} {kind}: it must"
                    " write each row it is given once (choose rows in the mapping, not in the template; a header"
                    " the file's `header` does not declare counts as a row)"
                )
        return found

    def _stage(self, layout: Layout, chunks: Iterator[str]) -> None:
        if not self.write or self.unencodable:
            for _ in chunks:  # the rows are still counted and judged
                pass
            return
        if not self.staged:
            self._prepare_folder()
        spec = layout.spec
        temp = self.out / f".{spec.file}.{os.getpid()}.tmp"
        digest = hashlib.sha256()
        encoder = codecs.getincrementalencoder(spec.encoding)()
        try:
            opened = files.create_private(temp, self.export.file_mode)
        except OSError as exc:  # a read-only folder, a full disk: the folder is what to look at
            raise UsageError(f"cannot write in the output folder {self.out}: {exc.strerror}; nothing written") from None
        with opened as handle:
            self.staged.append(Staged(temp, self.out / spec.file, ""))
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
        self.staged[-1] = Staged(temp, self.out / spec.file, digest.hexdigest())

    def check_encoding(self) -> None:
        if self.unencodable:
            raise UsageError(f"{self.unencodable}; nothing written")

    def _prepare_folder(self) -> None:
        self.created = not self.out.exists()
        try:
            self.out.mkdir(parents=True, exist_ok=True, mode=files.dir_mode(self.export.file_mode))
        except OSError as exc:
            raise UsageError(f"cannot create output folder {self.out}: {exc.strerror}") from None
        archive_dir = self.out / ARCHIVE_DIR
        if archive_dir.is_symlink() or (archive_dir.exists() and not archive_dir.is_dir()):
            raise UsageError(
                f"{archive_dir} is a link or not a folder: the archive is kept, and pruned, only in a folder of"
                f" the export's own; remove it; nothing written"
            )
        # Temporary files a killed export left behind: never published, safe to remove.
        for spec in (self.export.persons, self.export.roles):
            for stale in self.out.glob(f".{spec.file}.*.tmp") if spec else ():
                stale.unlink(missing_ok=True)

    def discard(self) -> None:
        for item in self.staged:
            item.temp.unlink(missing_ok=True)
        self.staged = []
        if self.created:
            with contextlib.suppress(OSError):
                self.out.rmdir()
            self.created = False


class RowCounter:
    """Counts the non-empty records of CSV text going by in pieces: a line end inside quotes is
    part of a field, a line holding nothing is no record (CSV readers skip it). Keeps the first
    record's fields, to tell a header row from a data row."""

    def __init__(self, delimiter: str = ";") -> None:
        self.records = 0
        self.first: list[str] | None = None
        self._delimiter = delimiter
        self._start: list[str] = []  # the text so far, until the first record is complete
        self._quoted = False
        self._content = False

    def counting(self, chunks: Iterator[str]) -> Iterator[str]:
        for chunk in chunks:
            if self.first is None:
                self._start.append(chunk)
            self._feed(chunk)
            if self.records and self.first is None:
                self.first = self._first_record()
            yield chunk
        if self._content:
            self.records += 1
        if self.first is None and self.records:
            self.first = self._first_record()

    def _first_record(self) -> list[str]:
        text = "".join(self._start)
        self._start = []
        return next(csv.reader(io.StringIO(text, newline=""), delimiter=self._delimiter), [])

    def _feed(self, text: str) -> None:
        for i, part in enumerate(text.split('"')):
            if i:  # a quote: it opens or closes a field (a doubled one does both)
                self._quoted, self._content = not self._quoted, True
            if self._quoted:
                continue
            for j, line in enumerate(part.split("\n")):
                if j and self._content:
                    self.records += 1
                    self._content = False
                if line.strip(" \t\r"):
                    self._content = True


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


def archived(out: Path, export_id: int) -> bool:
    """Whether out/archive/ still holds a copy of this export."""
    return (out / ARCHIVE_DIR / f"{export_id:06d}").is_dir()


def archive(out: Path, export_id: int, paths: list[Path], keep: int, file_mode: int) -> None:
    """Keeps copies of the last `keep` exports in out/archive/<id>/."""
    if keep <= 0:
        return
    root = out / ARCHIVE_DIR
    target = root / f"{export_id:06d}"
    root.mkdir(exist_ok=True, mode=files.dir_mode(file_mode))
    target.mkdir(exist_ok=True, mode=files.dir_mode(file_mode))
    for path in paths:
        shutil.copy2(path, target / path.name)
    if root.is_symlink():  # never prune through a link: only what the export made in its folder
        return
    old = sorted(p for p in root.iterdir() if p.name.isdigit() and len(p.name) == 6 and _own_folder(p))
    for stale in old[:-keep]:
        shutil.rmtree(stale)


def _own_folder(path: Path) -> bool:
    """A real folder (not a link to one) holding only files (what `archive` makes)."""
    if path.is_symlink() or not path.is_dir():
        return False
    return all(child.is_file() and not child.is_symlink() for child in path.iterdir())
