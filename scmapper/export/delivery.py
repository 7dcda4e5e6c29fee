"""`upload`: deliver the files of a recorded export over SFTP, and record every attempt.

Vocabulary: the *export* is a row of the exports table (its files, sizes and SHA-256);
the *connection* is the mapping's `sftp:` section, optionally read from a separate file
it names. `sftp.upload` (and with it paramiko) is imported only when an upload runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scmapper.core.progress import Meter
from scmapper.errors import EXIT_OK, DeliveryError, MappingError, UsageError
from scmapper.export.sftp.settings import SftpSettings
from scmapper.export.staging import ARCHIVE_DIR
from scmapper.mapping import yamlio
from scmapper.mapping.model import Mapping
from scmapper.mapping.schema import validate_against
from scmapper.store import ExportRecord, Store, now, stored_time

# Keys of the sftp section that are about files, not about the connection.
_FILE_KEYS = ("connection", "files")


def connection_settings(mapping: Mapping) -> dict[str, Any]:
    """The mapping's sftp section merged over its connection file, if it names one."""
    section = dict(mapping.sftp)
    if not section:
        raise UsageError(
            f"{mapping.file} has no sftp section: add host, username, remote_dir and a key or password_env"
        )
    settings: dict[str, Any] = {}
    if "connection" in section:
        path = mapping.root.resolve(str(section["connection"]), mapping.base_dir, "sftp.connection")
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read sftp connection file {path}: {exc.strerror}") from None
        doc = yamlio.load_bytes(raw, str(path))
        if not isinstance(doc.data, dict):  # say nothing of what a file that is no connection file holds
            raise UsageError(f"sftp connection file {path} is not a YAML mapping of connection settings")
        problems = validate_against(doc, "sftpConnection")
        if problems:
            raise MappingError(problems)
        settings.update(doc.data or {})
    settings.update({k: v for k, v in section.items() if k not in _FILE_KEYS})
    return settings


def export_files(mapping: Mapping, record: ExportRecord) -> list[tuple[Path, str]]:
    """(local file, remote name) for each file of an export, checked against its SHA-256: in the
    output folder, in the export's archive copy, or in the newest archive copy with the same
    content (an export that changed nothing keeps no copy of its own)."""
    remote_names = mapping.sftp.get("files", {})
    kinds = ["persons", "roles"]
    result = []
    for kind, item in zip(kinds, record.files, strict=False):
        out = Path(record.out_dir)
        archived = sorted((out / ARCHIVE_DIR).glob(f"*/{item['name']}"), reverse=True)
        candidates = [out / item["name"], out / ARCHIVE_DIR / f"{record.id:06d}" / item["name"], *archived]
        local = next((p for p in candidates if p.is_file() and _sha256(p) == item["sha256"]), None)
        if local is None:
            raise UsageError(
                f"the files of export #{record.id} are no longer on disk unchanged"
                f" ({item['name']} in {out} or its archive); export again"
            )
        result.append((local, remote_names.get(kind, item["name"])))
    return result


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class UploadReport:
    """One row per file delivered (or failed), as the audit log holds them."""

    rows: list[dict[str, Any]]
    exit_code: int = EXIT_OK

    def as_dict(self) -> list[dict[str, Any]]:
        return self.rows

    def text(self) -> list[str]:
        return [f"Uploaded {r['remotePath']} ({r['size']} bytes)" for r in self.rows if r["outcome"] == "ok"]

    def summary_line(self) -> str:
        done = [r for r in self.rows if r["outcome"] == "ok"]
        return f"upload: {len(done)} files, {sum(r['size'] for r in done):,} bytes delivered"


@dataclass(frozen=True)
class UploadPlan:
    """What an upload would deliver, checked without connecting: `upload --dry-run`."""

    export_id: int
    host: str
    files: list[dict[str, Any]]
    exit_code: int = EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        return {"dryRun": True, "exportId": self.export_id, "host": self.host, "files": self.files}

    def text(self) -> list[str]:
        lines = [f"Export #{self.export_id} would go to {self.host}:"]
        lines += [f"  {f['local']} -> {f['remotePath']} ({f['size']} bytes)" for f in self.files]
        return [
            *lines,
            "Dry run: nothing sent, nothing recorded (no connection is made, so the server is not checked).",
        ]


def upload(
    mapping: Mapping,
    store: Store,
    export_id: int | None,
    *,
    trust_host_key: str | None = None,
    log: Callable[[str], None] | None = None,
    progress: Callable[[int], Meter] | None = None,
) -> UploadReport:
    """Uploads one export's files; every attempt lands in the audit log, failed ones too.
    `progress` makes the meter for the bytes to send, once their total is known."""
    from scmapper.export.sftp import upload as sftp

    record, settings, files = _prepare(mapping, store, export_id, trust_host_key)
    meter = progress(sum(local.stat().st_size for local, _ in files)) if progress else None
    try:
        results = sftp.upload_files(settings, files, log=log, sent=meter.advance if meter else None)
    except DeliveryError as exc:
        attempts = getattr(exc, "results", [])
        _record(store, record.id, attempts, settings, files, failure=str(exc))
        raise
    return UploadReport(_record(store, record.id, results, settings, files, failure=None))


def plan_upload(mapping: Mapping, store: Store, export_id: int | None, *, trust_host_key: str | None) -> UploadPlan:
    """Everything an upload checks before it connects: the export, its files, the settings."""
    record, settings, files = _prepare(mapping, store, export_id, trust_host_key)
    rows = [
        {"local": str(local), "remotePath": f"{settings.remote_dir.rstrip('/')}/{name}", "size": local.stat().st_size}
        for local, name in files
    ]
    return UploadPlan(record.id, settings.address, rows)


def _prepare(
    mapping: Mapping, store: Store, export_id: int | None, trust_host_key: str | None
) -> tuple[ExportRecord, SftpSettings, list[tuple[Path, str]]]:
    record = store.exports.get(export_id)
    if record is None:
        which = f"export #{export_id}" if export_id is not None else "complete export"
        raise UsageError(f"there is no {which} in {store.path}: run scmapper export first")
    values = connection_settings(mapping)
    if trust_host_key:
        values["trust_host_key"] = trust_host_key
    settings = SftpSettings.from_dict(values, mapping.base_dir, mapping.root)
    return record, settings, export_files(mapping, record)


def _record(
    store: Store,
    export_id: int,
    results: list[Any],
    settings: Any,
    files: list[tuple[Path, str]],
    failure: str | None,
) -> list[dict[str, Any]]:
    rows = [
        {
            "exportId": export_id,
            "time": stored_time(r.finished_at),
            "remotePath": r.remote_path,
            "size": r.size,
            "sha256": r.sha256,
            "outcome": "ok" if r.ok else "failed",
            "error": r.error,
        }
        for r in results
    ]
    if failure and not any(r["outcome"] == "failed" for r in rows):
        # Never reached the server: one row per file, so the log says what did not go.
        rows += [
            {
                "exportId": export_id,
                "time": now(),
                "remotePath": f"{settings.remote_dir.rstrip('/')}/{name}",
                "size": local.stat().st_size,
                "sha256": None,
                "outcome": "failed",
                "error": failure,
            }
            for local, name in files
        ]
    with store.transaction():
        for row in rows:
            verb = "Uploaded" if row["outcome"] == "ok" else "Failed to upload"
            message = f"{verb} export #{export_id} file to {settings.host}:{row['remotePath']} ({row['size']} bytes)"
            if row["error"]:
                message += f": {row['error']}"
            store.audit.add(
                time=row["time"],
                action="UploadFile",
                ref=None,
                success=row["outcome"] == "ok",
                message=message,
                details=[row],
            )
    return rows
