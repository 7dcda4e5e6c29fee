"""One session: the socket, the SSH handshake, the host key, the login from the operator's
secrets, the SFTP channel; and the mapping of what goes wrong to delivery errors (exit 10-16)."""

from __future__ import annotations

import errno
import logging
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from scmapper.errors import (
    AuthFailed,
    DeliveryError,
    RemoteDiskFull,
    RemotePermissionDenied,
    ScmapperError,
)
from scmapper.export.sftp.hostkeys import _known_key_types, _prefer_known_key_types, check_host_key, fingerprint
from scmapper.export.sftp.settings import SftpSettings, check_key_file

# paramiko logs a failed negotiation with a traceback through `logging`; with no handler set,
# Python's last-resort handler would print it on stderr. Our own messages say what went wrong.
logging.getLogger("paramiko").addHandler(logging.NullHandler())
logging.getLogger("paramiko").propagate = False

_DISK_FULL_HINTS = ("no space", "disk full", "quota", "space on filesystem")

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


