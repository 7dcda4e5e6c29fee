"""Moving the files: each staged under a hidden name, read back and verified, then all published
by rename; what one delivery still has to do across attempts."""

from __future__ import annotations

import errno
import hashlib
import posixpath
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import paramiko
from paramiko.sftp import CMD_EXTENDED, CMD_EXTENDED_REPLY

from scmapper.errors import (
    DeliveryError,
    RemoteDirMissing,
    RemoteDiskFull,
    RemotePermissionDenied,
    ScmapperError,
    UsageError,
)
from scmapper.export.sftp.connection import _ConnectionLost, _Remote, _Say
from scmapper.export.sftp.settings import SftpSettings, UploadResult

_CHUNK = 32768  # paramiko's largest SFTP write request; bigger chunks are split anyway
_Sent = Callable[[int], None] | None  # told the size of each chunk sent

def _check_remote_dir(remote: _Remote, settings: SftpSettings, say: _Say) -> None:
    where = f"remote directory {settings.remote_dir} on {settings.address}"
    try:
        with remote.doing(f"checking {where}"):
            attrs = remote.sftp.stat(settings.remote_dir)
    except DeliveryError as exc:
        if isinstance(exc.__cause__, OSError) and exc.__cause__.errno == errno.ENOENT:
            raise RemoteDirMissing(
                f"{where} does not exist: create it on the server or fix remote_dir in the sftp settings"
            ) from exc
        if isinstance(exc, RemotePermissionDenied):
            say(f"cannot stat {settings.remote_dir} (permission denied); trying anyway")
            return
        raise
    if attrs.st_mode is not None and not stat.S_ISDIR(attrs.st_mode):
        raise RemoteDirMissing(f"{where} is not a directory: fix remote_dir in the sftp settings")


def _write(remote: _Remote, local: Path, tmp: str, sent: _Sent = None) -> tuple[int, str]:
    """Copy local to tmp (which must not exist yet); return size and SHA-256 of what we sent.
    `sent` hears of each chunk's size (a progress meter)."""
    digest, size = hashlib.sha256(), 0
    with local.open("rb") as src, remote.doing(f"writing {tmp}"):
        # x: fail rather than write into a file someone else created under this name
        with remote.sftp.open(tmp, "wxb") as dst:
            dst.set_pipelined(True)
            while chunk := src.read(_CHUNK):
                dst.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                if sent:
                    sent(len(chunk))
    return size, digest.hexdigest()


def _verify(remote: _Remote, tmp: str, size: int, sha256: str) -> None:
    """Read the staged file back: a short or corrupt copy must never be published."""
    with remote.doing(f"checking {tmp}"):
        remote_size = remote.sftp.stat(tmp).st_size
        if remote_size != size:
            raise DeliveryError(
                f"{tmp} has {remote_size} bytes on the server, we sent {size}; the server may be out of space"
            )
        digest = hashlib.sha256()
        with remote.sftp.open(tmp, "rb") as src:
            src.prefetch(size)
            while chunk := src.read(_CHUNK * 4):
                digest.update(chunk)
    if digest.hexdigest() != sha256:
        raise DeliveryError(
            f"{tmp} on the server differs from what we sent (SHA-256 "
            "mismatch); deliver again and check the server's storage"
        )


def _write_and_verify(remote: _Remote, local: Path, tmp: str, sent: _Sent = None) -> tuple[int, str]:
    try:
        size, sha256 = _write(remote, local, tmp, sent)
        _verify(remote, tmp, size, sha256)
    except DeliveryError as exc:
        # OpenSSH reports ENOSPC as a bare "Failure", and paramiko drops the status of
        # pipelined writes: a short file is all we see. Ask the server how much room is left.
        free = _free_bytes(remote, posixpath.dirname(tmp)) if type(exc) is DeliveryError else None
        if free is not None and free < local.stat().st_size:
            raise RemoteDiskFull(
                f"writing {tmp}: the server is out of disk space ({free} "
                f"bytes free, {local.stat().st_size} needed); free space on "
                "the server, then deliver again"
            ) from exc
        raise
    return size, sha256


def _free_bytes(remote: _Remote, path: str) -> int | None:
    """Space left for us in path, from OpenSSH's statvfs extension; None if unknown.
    paramiko has no public call for it, so this sends the request itself."""
    if not remote.alive():
        return None
    try:
        kind, reply = remote.sftp._request(CMD_EXTENDED, "statvfs@openssh.com", path)
        if kind != CMD_EXTENDED_REPLY:
            return None
        _bsize, frsize, _blocks, _bfree, bavail = (reply.get_int64() for _ in range(5))
    except (OSError, EOFError, paramiko.SSHException, AttributeError, TypeError):
        return None  # not OpenSSH, or a paramiko without _request: just say "failed"
    return int(frsize * bavail)


def _publish(remote: _Remote, tmp: str, final: str) -> None:
    with remote.doing(f"renaming {tmp} to {final}"):
        if remote.posix_rename:
            try:
                remote.sftp.posix_rename(tmp, final)
                return
            except OSError as exc:
                if exc.errno is not None or "unsupported" not in str(exc).lower():
                    raise
                remote.posix_rename = False  # the server lacks posix-rename@openssh.com
        _swap(remote.sftp, tmp, final)


def _swap(sftp: paramiko.SFTPClient, tmp: str, final: str) -> None:
    """Replace final by tmp with plain SFTP renames, which may refuse to overwrite: move the
    old file aside first, and back if the second rename fails, so it is never lost."""
    try:
        sftp.rename(tmp, final)
        return
    except OSError:
        if not _exists(sftp, final):
            raise
    aside = f"{final}.{secrets.token_hex(4)}.old"
    sftp.rename(final, aside)
    try:
        sftp.rename(tmp, final)
    except OSError:
        sftp.rename(aside, final)
        raise
    _quietly(sftp.remove, aside)


def _exists(sftp: paramiko.SFTPClient, path: str) -> bool:
    try:
        sftp.stat(path)
    except OSError:
        return False
    return True


def _quietly(action: Callable[[str], object], path: str) -> bool:
    """Best effort: cleanup must not hide the error that made us clean up. True when done
    (or nothing was there), False when it should be tried again."""
    try:
        action(path)
    except FileNotFoundError:
        return True
    except (OSError, EOFError, paramiko.SSHException):
        return False
    return True


# --- delivery ----------------------------------------------------------------------------


@dataclass
class _Staged:
    local: Path
    final: str
    tmp: str
    size: int
    sha256: str
    started_at: str


@dataclass
class _Delivery:
    """What is left to do across attempts, and what happened so far."""

    settings: SftpSettings
    pending: list[tuple[Path, str]]
    say: _Say
    results: list[UploadResult] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)  # temp files a lost connection left
    sent: _Sent = None  # told the size of every chunk written

    def final_path(self, name: str) -> str:
        return posixpath.join(self.settings.remote_dir, name)

    def record(self, name: str, started: str, error: str | None, size: int = 0, sha256: str = "") -> None:
        self.results.append(
            UploadResult(
                remote_path=self.final_path(name),
                size=size,
                sha256=sha256,
                ok=error is None,
                error=None if error is None else self.say.scrub(error),
                started_at=started,
                finished_at=_now(),
            )
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _deliver(remote: _Remote, job: _Delivery) -> None:
    """Stage every pending file, then publish them all; on failure discard our temp files."""
    job.orphans[:] = [orphan for orphan in job.orphans if not _quietly(remote.sftp.remove, orphan)]
    _check_remote_dir(remote, job.settings, job.say)
    staged: list[_Staged] = []
    try:
        for local, name in job.pending:
            staged.append(_stage(remote, job, local, name))
        while staged:
            _publish(remote, staged[0].tmp, staged[0].final)
            done = staged.pop(0)
            job.record(posixpath.basename(done.final), done.started_at, None, done.size, done.sha256)
            job.pending.pop(0)
            job.say(f"published {done.final} ({done.size} bytes)")
    except (ScmapperError, _ConnectionLost) as exc:
        _abandon(remote, job, staged, exc)
        raise


def _stage(remote: _Remote, job: _Delivery, local: Path, name: str) -> _Staged:
    started = _now()
    final = job.final_path(name)
    tmp = job.final_path(f".{name}.{secrets.token_hex(6)}.part")
    job.say(f"uploading {local} to {tmp}")
    try:
        size, sha256 = _write_and_verify(remote, local, tmp, job.sent)
    except (ScmapperError, _ConnectionLost):
        job.orphans.append(tmp)
        raise
    job.say(f"verified {tmp}: {size} bytes, SHA-256 {sha256[:12]}...")
    return _Staged(local, final, tmp, size, sha256, started)


def _abandon(remote: _Remote, job: _Delivery, staged: list[_Staged], exc: Exception) -> None:
    """Record the failed attempt for every unpublished file and remove our temp files,
    now if the connection still stands, else at the start of the next attempt."""
    job.orphans.extend(s.tmp for s in staged)
    if remote.alive():  # (a channel may have ended unnoticed: what fails now waits for the next attempt)
        job.orphans[:] = [tmp for tmp in job.orphans if not _quietly(remote.sftp.remove, tmp)]
    for index, (local, name) in enumerate(job.pending):
        started = staged[index].started_at if index < len(staged) else _now()
        job.record(name, started, str(exc), size=local.stat().st_size)


def _check_files(files: list[tuple[Path, str]]) -> None:
    for local, name in files:
        if not Path(local).is_file():
            raise UsageError(f"cannot upload {local}: no such file")
        try:  # now, so a local read error is never mistaken for a remote one later
            Path(local).open("rb").close()
        except OSError as exc:
            raise UsageError(f"cannot upload {local}: {exc.strerror}") from exc
        if not name or "/" in name or name in (".", ".."):
            raise UsageError(f"cannot upload {local} as {name!r}: the remote name must be a plain file name")


