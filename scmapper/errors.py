"""The one exception hierarchy, and the exit code each kind of failure maps to.

Exit codes are a contract with the programs that call scmapper (the HelloID agent,
schedulers), one table for every command:

    0      ok
    1      refused (a threshold, a preflight problem) or failed on its data
    2      usage, mapping or environment: a bad option, a malformed input, an invalid
           mapping, a missing file, a database that cannot be opened or is corrupt
    3      internal error (a bug)
    10-16  delivery (SFTP), one code per kind of failure (DeliveryError's subclasses)
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_DATA = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_BUSY = 75  # sysexits' EX_TEMPFAIL: nothing was done, try again in a moment


@dataclass(frozen=True)
class Problem:
    """One problem found in a file, located as file:line:col (1-based). A warning does not make
    the file invalid (validate still exits 0)."""

    file: str
    line: int
    col: int
    message: str
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        label = "warning: " if self.severity == "warning" else ""
        return f"{self.file}:{self.line}:{self.col}: {label}{self.message}"

    def as_dict(self) -> dict[str, object]:
        found: dict[str, object] = {"file": self.file, "line": self.line, "col": self.col, "message": self.message}
        return found | ({"severity": "warning"} if self.severity == "warning" else {})


class ScmapperError(Exception):
    """Base class of every error scmapper reports to its user."""

    exit_code = EXIT_INTERNAL


class UsageError(ScmapperError):
    """The command line asks for something impossible (missing file, bad option value)."""

    exit_code = EXIT_USAGE


class MappingError(ScmapperError):
    """A mapping file is unreadable or invalid; carries every problem found in it."""

    exit_code = EXIT_USAGE

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(dict.fromkeys(problems))  # the same problem found twice is said once
        super().__init__("\n".join(str(p) for p in self.problems))


class EventError(ScmapperError):
    """An event is not a valid event: not JSON, not an object, unknown action, no person."""

    exit_code = EXIT_USAGE


class DataError(ScmapperError):
    """The action failed on its data: an empty required column, a conflict, an unknown account."""

    exit_code = EXIT_DATA

    def __init__(self, message: str, column: str | None = None) -> None:
        super().__init__(message)
        self.column = column  # the mapping column at fault, when there is one


class ConflictError(DataError):
    """A write would break a uniqueness rule of the store (a key, an account reference, a unique
    column), found by the store itself: another process got there first, or the data was
    changed behind scmapper's back."""


class ExpressionError(DataError):
    """An expression failed while mapping one record (a missing field, a bad value)."""


class SandboxViolation(ScmapperError):
    """An expression reached for something the sandbox forbids; a mapping error, never data."""

    exit_code = EXIT_USAGE


class StoreError(ScmapperError):
    """The SQLite store cannot be opened, migrated or written: the environment (a missing,
    unreadable or corrupt database, a newer schema), never the data."""

    exit_code = EXIT_USAGE


class BusyError(StoreError):
    """Another scmapper run held the database's write lock for longer than this one waits (a
    sync, or an export recording): nothing was done, and the same command may simply be run
    again (exit 75)."""

    exit_code = EXIT_BUSY


class Interrupted(KeyboardInterrupt):
    """Ctrl+C during a run of many transactions: says how far it got (what is committed stays
    committed, and a rerun finishes the rest). Exit 130, as any interruption."""


class DeliveryError(ScmapperError):
    """SFTP delivery failed; each subclass has its own exit code so schedulers can tell them apart."""

    exit_code = 16


class HostUnreachable(DeliveryError):
    """The SFTP host did not answer (DNS, refused, timeout) after every retry."""

    exit_code = 10


class HostKeyRefused(DeliveryError):
    """The server's host key is unknown or changed; carries the presented fingerprint."""

    exit_code = 11


class AuthFailed(DeliveryError):
    """The server refused our key or password."""

    exit_code = 12


class RemoteDirMissing(DeliveryError):
    """The configured remote directory does not exist on the server."""

    exit_code = 13


class RemotePermissionDenied(DeliveryError):
    """The server refused to let us write, rename or remove in the remote directory."""

    exit_code = 14


class RemoteDiskFull(DeliveryError):
    """The server ran out of space while we wrote."""

    exit_code = 15
