"""`upload_files`: one delivery, attempted again after a connection-level failure, its every
step told to the caller's log with the secrets blanked out."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import paramiko

from scmapper.errors import (
    DeliveryError,
    HostUnreachable,
    ScmapperError,
)
from scmapper.export.sftp.connection import _ConnectionLost, _Credentials, _load_credentials, _Say, _session
from scmapper.export.sftp.settings import SftpSettings, UploadResult
from scmapper.export.sftp.transfer import _check_files, _deliver, _Delivery, _Sent


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
