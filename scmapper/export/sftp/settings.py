"""SFTP delivery settings: the `sftp:` section of a mapping, checked before any connection.

Secrets are never settings: only the *names* of the environment variables that hold a
password or a key's passphrase. Kept apart from `sftp.py` so that reading settings never
imports paramiko.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path

from scmapper.errors import UsageError
from scmapper.mapping.trust import Root


@dataclass(frozen=True)
class SftpSettings:
    """Where and how to deliver: the validated `sftp:` section of a mapping."""

    host: str
    username: str
    remote_dir: str
    port: int = 22
    key_file: Path | None = None
    passphrase_env: str | None = None
    password_env: str | None = None
    known_hosts: Path | None = None
    trust_host_key: str | None = None
    connect_timeout: float = 15.0
    timeout: float = 60.0
    retries: int = 3
    retry_delay: float = 2.0

    def __post_init__(self) -> None:
        for problem in _settings_problems(self):
            raise UsageError(f"sftp settings: {problem}")

    @classmethod
    def from_dict(cls, data: dict, base_dir: Path, root: Root, *, check_files: bool = True) -> SftpSettings:
        """Build settings from a mapping's `sftp:` section; paths are relative to base_dir and
        must stay inside the mapping's root; with check_files, the key file must exist."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UsageError(f"sftp settings: unknown key(s) {', '.join(unknown)}")
        values = dict(data)
        for name in ("key_file", "known_hosts"):
            if values.get(name) is not None:
                values[name] = root.resolve(str(values[name]), base_dir, f"sftp.{name}")
        missing = [name for name in ("host", "username", "remote_dir") if name not in values]
        if missing:
            needed = "host, username and remote_dir are required"
            raise UsageError(f"sftp settings: {', '.join(missing)} missing ({needed})")
        settings = cls(**values)
        if check_files:
            check_key_file(settings)
        return settings

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def host_key_name(self) -> str:
        """How OpenSSH names this server in known_hosts."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"


@dataclass(frozen=True)
class UploadResult:
    """One file's delivery attempt, for the caller's records (never holds a secret)."""

    remote_path: str
    size: int
    sha256: str
    ok: bool
    error: str | None
    started_at: str
    finished_at: str


SECRET_PREFIX = "SCMAPPER_"  # noqa: S105 - a name prefix, not a secret
SECRET_LIST = "SCMAPPER_SECRETS"  # noqa: S105 - the operator's list of further variables a mapping may name


def secret_allowed(name: str) -> bool:
    """Whether a mapping may name this environment variable for a secret: one with the
    product's prefix, or one the operator lists in SCMAPPER_SECRETS (which no mapping sets)."""
    listed = {n.strip() for n in os.environ.get(SECRET_LIST, "").split(",") if n.strip()}
    return name.startswith(SECRET_PREFIX) or name in listed


def _settings_problems(s: SftpSettings) -> Iterator[str]:
    if not s.host or not s.username or not s.remote_dir:
        yield "host, username and remote_dir must not be empty"
    if not 0 < s.port < 65536:
        yield f"port {s.port} is not between 1 and 65535"
    if s.key_file is None and s.password_env is None:
        yield "set key_file (a private key) or password_env (an environment variable's name)"
    if s.passphrase_env is not None and s.key_file is None:
        yield "passphrase_env is set but key_file is not"
    for key, name in (("password_env", s.password_env), ("passphrase_env", s.passphrase_env)):
        if name is not None and not secret_allowed(name):
            yield (
                f"{key} {name!r}: a mapping names only environment variables that start with {SECRET_PREFIX}"
                f" (or that the operator lists in {SECRET_LIST}), so it cannot send another secret of this"
                f" machine anywhere; rename the variable, e.g. {SECRET_PREFIX}{name}"
            )
    if s.trust_host_key is not None and parse_pin(s.trust_host_key) is None:
        yield (
            f"trust_host_key {s.trust_host_key!r} is not a SHA256 fingerprint like "
            "'SHA256:' followed by 43 base64 characters (as ssh-keygen -lf prints)"
        )
    if s.connect_timeout <= 0 or s.timeout <= 0 or s.retry_delay < 0 or s.retries < 0:
        yield "timeouts must be positive, retries and retry_delay not negative"


def check_key_file(settings: SftpSettings) -> None:
    if settings.key_file is not None and not settings.key_file.is_file():
        raise UsageError(f"sftp settings: key_file {settings.key_file} does not exist or is not a file")


def parse_pin(pin: str) -> str | None:
    """The canonical form of a pin, or None when it is not a SHA256 fingerprint."""
    pin = pin.strip()
    if not pin.startswith("SHA256:"):
        return None
    body = pin[len("SHA256:") :].rstrip("=")
    try:
        raw = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return "SHA256:" + body if len(raw) == 32 else None
