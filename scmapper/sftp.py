"""Deliver exported files to the SFTP location Spend Cloud's import job fetches from.

Vocabulary:

- **settings**: the `sftp:` section of a mapping (`SftpSettings`); secrets are never in it,
  only the *names* of the environment variables that hold them.
- **pin**: an OpenSSH-style host key fingerprint (`SHA256:` + unpadded base64) trusted in
  addition to the entries of the known_hosts file.
- **session**: one authenticated SSH connection with its SFTP channel; all files of one
  attempt travel over one session.
- **attempt**: one session's try at delivering the files still pending. Only connection-level
  failures (refused, timeout, reset, EOF) start another attempt, after a doubling delay.
- **staging**: writing a file under a hidden temporary name (`.Users.csv.<hex>.part`) in the
  remote directory, then checking its size and SHA-256 by reading it back.
- **publishing**: renaming a staged file over its final name. Every file is staged before any
  is published, so the import job never sees a new Users.csv beside a stale Roles.csv for
  longer than two renames take, and never sees a half-written file.

This is the only module that imports paramiko.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import logging
import os
import posixpath
import secrets
import socket
import stat
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paramiko
from paramiko.sftp import CMD_EXTENDED, CMD_EXTENDED_REPLY

from scmapper.errors import (
    AuthFailed,
    DeliveryError,
    HostKeyRefused,
    HostUnreachable,
    RemoteDirMissing,
    RemoteDiskFull,
    RemotePermissionDenied,
    ScmapperError,
    UsageError,
)
from scmapper.sftp_settings import SftpSettings, UploadResult, check_key_file, parse_pin

# paramiko logs a failed negotiation with a traceback through `logging`; with no handler set,
# Python's last-resort handler would print it on stderr. Our own messages say what went wrong.
logging.getLogger("paramiko").addHandler(logging.NullHandler())
logging.getLogger("paramiko").propagate = False

_CHUNK = 32768  # paramiko's largest SFTP write request; bigger chunks are split anyway
_Sent = Callable[[int], None] | None  # told the size of each chunk sent
_DISK_FULL_HINTS = ("no space", "disk full", "quota", "space on filesystem")


# --- host keys ---------------------------------------------------------------------------


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's fingerprint of a public key: SHA256 of the key blob, unpadded base64."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def _load_known_hosts(settings: SftpSettings) -> paramiko.HostKeys:
    known = paramiko.HostKeys()
    path = settings.known_hosts
    if path is not None and path.exists():
        try:
            known.load(str(path))
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read known_hosts file {path}: {exc}") from exc
    return known


def _known_key_types(settings: SftpSettings) -> set[str]:
    entries = _load_known_hosts(settings).lookup(settings.host_key_name)
    return set(entries.keys()) if entries else set()


def check_host_key(settings: SftpSettings, key: paramiko.PKey) -> str:
    """Accept the server's key or raise HostKeyRefused; returns why it was accepted."""
    presented = fingerprint(key)
    if settings.trust_host_key and parse_pin(settings.trust_host_key) == presented:
        return "matches trust_host_key"
    entries = _load_known_hosts(settings).lookup(settings.host_key_name) or {}
    known = entries.get(key.get_name())
    if known is not None and known.asbytes() == key.asbytes():
        return f"listed in {settings.known_hosts}"
    raise HostKeyRefused(_refusal(settings, key, presented, entries))


def _refusal(settings: SftpSettings, key: paramiko.PKey, presented: str, entries: Any) -> str:
    kind = key.get_name()
    head = f"sftp host {settings.address} presented host key {kind} {presented}"
    if kind in entries:
        why = (
            f", but {settings.known_hosts} has a different {kind} key for "
            f"{settings.host_key_name} ({fingerprint(entries[kind])}). The host key has "
            "CHANGED: the connection may be intercepted, or the server was reinstalled. "
            "Confirm the new fingerprint with the server's administrator; if it is right, "
            f"remove the old entry (ssh-keygen -R '{settings.host_key_name}' -f "
            f"{settings.known_hosts}) and trust the new key"
        )
    elif entries:
        why = f", but {settings.known_hosts} lists only {', '.join(sorted(entries))} keys for {settings.host_key_name}"
    else:
        why = f", which is not trusted ({_trust_sources(settings)})"
    return (
        f"{head}{why}. To trust it, pass --trust-host-key {presented} (or set "
        f"trust_host_key in the sftp settings), or add it to known_hosts, e.g. "
        f"ssh-keyscan -p {settings.port} {settings.host} >> "
        f"{settings.known_hosts or 'known_hosts'} (then check the fingerprint with "
        "ssh-keygen -lf)"
    )


def _trust_sources(settings: SftpSettings) -> str:
    if settings.known_hosts is None:
        kh = "no known_hosts file configured"
    elif not settings.known_hosts.exists():
        kh = f"known_hosts file {settings.known_hosts} does not exist"
    else:
        kh = f"not in {settings.known_hosts}"
    pin = f"pin {settings.trust_host_key} differs" if settings.trust_host_key else "no pin"
    return f"{kh}; {pin}"


def _prefer_known_key_types(transport: paramiko.Transport, known: set[str]) -> None:
    """Ask for the key types known_hosts lists, as OpenSSH does, so a server with several
    host keys shows us the one we can check rather than one we have never seen."""
    if not known:
        return
    options = transport.get_security_options()
    algorithms = list(options.key_types)
    # RSA keys are listed as ssh-rsa but negotiated as rsa-sha2-*.
    first = [a for a in algorithms if ("ssh-rsa" if a.startswith("rsa-sha2-") else a) in known]
    options.key_types = first + [a for a in algorithms if a not in first]


# --- credentials and sessions ------------------------------------------------------------


@dataclass(frozen=True)
class _Credentials:
    """The secrets read from the environment; repr never shows them."""

    key: paramiko.PKey | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    passphrase: str | None = field(default=None, repr=False)  # kept only to scrub it

    @property
    def secrets(self) -> list[str]:
        return [s for s in (self.password, self.passphrase) if s]


def _env_secret(env: Mapping[str, str], name: str | None, what: str) -> str | None:
    if name is None:
        return None
    value = env.get(name)
    if not value:
        raise AuthFailed(
            f"the {what} is missing: environment variable {name} is not set or empty; set it before running scmapper"
        )
    try:  # POSIX hands undecodable bytes over as surrogates, which SSH cannot send
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise AuthFailed(f"the {what} in environment variable {name} is not valid UTF-8 text; set it again") from None
    return value


def _load_credentials(settings: SftpSettings, env: Mapping[str, str]) -> _Credentials:
    password = _env_secret(env, settings.password_env, "sftp password")
    if settings.key_file is None:
        return _Credentials(password=password)
    check_key_file(settings)
    passphrase = _env_secret(env, settings.passphrase_env, "private key passphrase")
    key = _load_key(settings.key_file, passphrase)
    return _Credentials(key=key, password=password, passphrase=passphrase)


def _load_key(path: Path, passphrase: str | None) -> paramiko.PKey:
    secret = None if passphrase is None else passphrase.encode()  # cryptography wants bytes
    try:
        try:
            return paramiko.PKey.from_path(path, secret)  # positional: renamed in paramiko 5
        except TypeError:  # cryptography's way to say "encrypted" or "not encrypted"
            if passphrase is None:
                raise paramiko.PasswordRequiredException() from None
            return paramiko.PKey.from_path(path)  # a passphrase for a plain key is harmless
    except paramiko.PasswordRequiredException as exc:
        raise AuthFailed(
            f"private key {path} is encrypted: name the environment variable holding its passphrase in passphrase_env"
        ) from exc
    except paramiko.UnknownKeyType as exc:
        raise AuthFailed(
            f"private key {path} has a type paramiko cannot use; use an ed25519, ecdsa or RSA key"
        ) from exc
    except (paramiko.SSHException, ValueError, OSError) as exc:
        raise AuthFailed(
            f"cannot load private key {path}: wrong passphrase, or not an OpenSSH/PEM private key"
        ) from exc


class _ConnectionLost(Exception):
    """A connection-level failure: the only kind worth another attempt."""

    def __init__(self, reason: str, *, connected: bool) -> None:
        super().__init__(reason)
        self.connected = connected  # False: we never got a session up this attempt


def _open_socket(settings: SftpSettings) -> socket.socket:
    try:
        return socket.create_connection((settings.host, settings.port), timeout=settings.connect_timeout)
    except socket.gaierror as exc:
        raise _ConnectionLost(f"cannot resolve host name: {exc.strerror}", connected=False) from exc
    except TimeoutError as exc:
        raise _ConnectionLost(f"no answer within {settings.connect_timeout:g}s", connected=False) from exc
    except OSError as exc:
        raise _ConnectionLost(exc.strerror or str(exc), connected=False) from exc


def _start_transport(settings: SftpSettings) -> paramiko.Transport:
    transport = paramiko.Transport(_open_socket(settings))
    transport.banner_timeout = transport.handshake_timeout = settings.connect_timeout
    transport.auth_timeout = settings.timeout
    _prefer_known_key_types(transport, _known_key_types(settings))
    try:
        _handshake(transport, settings.connect_timeout)
    except paramiko.IncompatiblePeer as exc:
        transport.close()
        raise DeliveryError(
            f"sftp host {settings.address}: no common SSH algorithms ({exc}); the server needs updating"
        ) from exc
    except (paramiko.SSHException, EOFError, OSError) as exc:
        transport.close()
        raise _ConnectionLost(f"SSH handshake failed: {exc or type(exc).__name__}", connected=False) from exc
    return transport


def _handshake(transport: paramiko.Transport, timeout: float) -> None:
    # start_client(timeout=...) returns quietly when the time is up; an event lets us tell.
    done = threading.Event()
    transport.start_client(event=done)
    if not done.wait(timeout):
        raise TimeoutError(f"no SSH handshake within {timeout:g}s")
    if not transport.is_active():
        raise transport.get_exception() or paramiko.SSHException("negotiation failed")


def _authenticate(transport: paramiko.Transport, settings: SftpSettings, creds: _Credentials) -> None:
    try:
        remaining = _try_key(transport, settings, creds)
        if remaining and creds.password:
            # paramiko falls back to keyboard-interactive if the server wants that instead
            transport.auth_password(settings.username, creds.password)
    except paramiko.AuthenticationException as exc:
        raise AuthFailed(_auth_refusal(settings, creds)) from exc
    except (paramiko.SSHException, EOFError, OSError) as exc:
        if transport.is_active():
            raise DeliveryError(f"sftp host {settings.address}: authentication broke off: {exc}") from exc
        raise _ConnectionLost(f"connection lost during authentication: {exc}", connected=False) from exc
    if not transport.is_authenticated():
        raise AuthFailed(_auth_refusal(settings, creds))


def _try_key(transport: paramiko.Transport, settings: SftpSettings, creds: _Credentials) -> list[str]:
    """Offer the key, if any; return the methods the server still wants."""
    if creds.key is None:
        return ["password"]
    try:
        return transport.auth_publickey(settings.username, creds.key)
    except paramiko.AuthenticationException:
        if not creds.password:
            raise
        return ["password"]  # refused; a password may still get us in


def _auth_refusal(settings: SftpSettings, creds: _Credentials) -> str:
    if creds.key is not None:
        used = f"private key {settings.key_file} ({creds.key.get_name()} {fingerprint(creds.key)})"
    else:
        used = f"the password from environment variable {settings.password_env}"
    if creds.key is not None and creds.password:
        used += f" and the password from environment variable {settings.password_env}"
    return (
        f"sftp host {settings.address} refused {used} for user {settings.username}: "
        "check the user name, and that the server lists the public key in the user's "
        "authorized_keys (or that the password is current)"
    )


@contextmanager
def _session(settings: SftpSettings, creds: _Credentials, say: _Say) -> Iterator[_Remote]:
    say(f"connecting to {settings.address} as {settings.username}")
    transport = _start_transport(settings)
    try:
        say(f"host key {_accept_host_key(settings, transport)}")
        _authenticate(transport, settings, creds)
        yield _Remote(_open_sftp(transport, settings), transport)
    finally:
        transport.close()


def _accept_host_key(settings: SftpSettings, transport: paramiko.Transport) -> str:
    try:
        key = transport.get_remote_server_key()
    except paramiko.SSHException as exc:  # the server hung up right after the handshake
        raise _ConnectionLost(f"connection lost after the handshake: {exc}", connected=False) from exc
    why = check_host_key(settings, key)
    return f"{key.get_name()} {fingerprint(key)} accepted: {why}"


def _open_sftp(transport: paramiko.Transport, settings: SftpSettings) -> paramiko.SFTPClient:
    try:
        sftp = paramiko.SFTPClient.from_transport(transport)
    except (paramiko.SSHException, EOFError, OSError) as exc:
        if not transport.is_active():
            raise _ConnectionLost(f"connection lost opening SFTP: {exc}", connected=False) from exc
        raise DeliveryError(
            f"sftp host {settings.address} refused the SFTP subsystem: "
            f"{exc}; ask its administrator to enable SFTP for "
            f"{settings.username}"
        ) from exc
    sftp.get_channel().settimeout(settings.timeout)
    return sftp


# --- remote operations -------------------------------------------------------------------


@dataclass
class _Remote:
    """An open SFTP client plus what we learn about the server while using it."""

    sftp: paramiko.SFTPClient
    transport: paramiko.Transport
    posix_rename: bool = True

    def alive(self) -> bool:
        return self.transport.is_active() and not self.sftp.get_channel().closed

    @contextmanager
    def doing(self, what: str) -> Iterator[None]:
        """Turn paramiko's errors while doing `what` into connection loss or a
        DeliveryError; paramiko reports both as OSError, so ask the transport which."""
        try:
            yield
        except ScmapperError:
            raise
        except TimeoutError as exc:
            raise _ConnectionLost(f"{what}: no answer within the timeout", connected=True) from exc
        except (OSError, EOFError, paramiko.SSHException) as exc:
            # EOF: the SFTP channel ended, whatever the transport's reader thread has noticed yet.
            if isinstance(exc, EOFError) or not self.alive():
                raise _ConnectionLost(f"{what}: connection lost ({exc or type(exc).__name__})", connected=True) from exc
            raise _remote_error(exc, what) from exc


def _remote_error(exc: BaseException, what: str) -> DeliveryError:
    code = getattr(exc, "errno", None)
    text = str(exc) or type(exc).__name__
    if code in (errno.ENOSPC, errno.EDQUOT) or any(h in text.lower() for h in _DISK_FULL_HINTS):
        return RemoteDiskFull(
            f"{what}: the server is out of disk space or quota ({text}); free space on the server, then deliver again"
        )
    if code in (errno.EACCES, errno.EPERM):
        return RemotePermissionDenied(
            f"{what}: permission denied; ask the server's "
            "administrator to let this user write, rename and "
            "remove files in the remote directory"
        )
    return DeliveryError(f"{what}: {text}")


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


class _Say:
    """The caller's log callback, with every known secret blanked out of each line."""

    def __init__(self, log: Callable[[str], None] | None, hidden: list[str]) -> None:
        self.log, self.hidden = log, hidden

    def scrub(self, text: str) -> str:
        for secret in self.hidden:
            text = text.replace(secret, "***")
        return text

    def __call__(self, line: str) -> None:
        if self.log is not None:
            self.log(self.scrub(line))


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


def upload_files(
    settings: SftpSettings,
    files: list[tuple[Path, str]],
    *,
    env: Mapping[str, str] | None = None,
    log: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    sent: _Sent = None,
) -> list[UploadResult]:
    """Deliver each (local path, remote file name) into settings.remote_dir over one session.

    Returns one UploadResult per file per attempt that reached the server (earlier attempts
    cut short by a lost connection stay in the list with ok=False). Raises the
    DeliveryError subclass that says what went wrong, with the results so far as `.results`.
    """
    env = os.environ if env is None else env
    say = _Say(log, [])
    job = _Delivery(settings, [(Path(p), n) for p, n in files], say, sent=sent)
    try:
        _check_files(job.pending)
        creds = _load_credentials(settings, env)
        say.hidden.extend(creds.secrets)
        _with_retries(job, creds, sleep)
    except ScmapperError as exc:
        _attach(exc, job)
        raise
    except (paramiko.SSHException, EOFError, OSError) as exc:
        # a failure the classification above did not foresee is still a failed delivery
        error = DeliveryError(f"sftp host {settings.address}: unexpected failure: {exc or type(exc).__name__}")
        raise _attach(error, job) from exc
    return job.results


def _attach(exc: ScmapperError, job: _Delivery) -> ScmapperError:
    """Give the caller the attempts so far, and make sure no secret rides along."""
    exc.args = tuple(job.say.scrub(str(a)) for a in exc.args)
    exc.results = list(job.results)  # type: ignore[attr-defined]
    return exc


def _with_retries(job: _Delivery, creds: _Credentials, sleep: Callable[[float], None]) -> None:
    settings = job.settings
    attempts = settings.retries + 1
    for attempt in range(1, attempts + 1):
        try:
            with _session(settings, creds, job.say) as remote:
                _deliver(remote, job)
            return
        except _ConnectionLost as lost:
            job.say(f"attempt {attempt} of {attempts} failed: {lost}")
            if attempt == attempts:
                raise _gave_up(settings, lost, attempts) from lost
            delay = settings.retry_delay * 2 ** (attempt - 1)
            job.say(f"retrying in {delay:g}s")
            sleep(delay)


def _gave_up(settings: SftpSettings, lost: _ConnectionLost, attempts: int) -> DeliveryError:
    tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
    if lost.connected:
        return DeliveryError(
            f"sftp host {settings.address}: the connection kept breaking "
            f"during delivery ({lost}) after {tries}; files not yet "
            "published keep their previous version, deliver again later"
        )
    return HostUnreachable(
        f"sftp host {settings.address} is unreachable after {tries}: "
        f"{lost}. Check the host name, port and firewall, or try later"
    )
