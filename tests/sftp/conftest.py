"""A real OpenSSH server on 127.0.0.1 for the SFTP delivery tests.

Each test gets its own `sshd -D -e` on a free port, with throwaway host and client keys.
Run as root, the server logs in the unprivileged user `nobody` (its shell does not matter:
`ForceCommand internal-sftp` never starts it), so file permissions are enforced as for a
real customer account; run as anyone else, it logs in the current user.

No sshd installed: the tests are skipped, unless SCMAPPER_REQUIRE_SSHD=1 (CI), which turns
the skip into a failure so a missing server can never pass for a green run.

Password authentication needs a real account with a password (sshd runs with UsePAM no and
checks /etc/shadow). The tests create no users; set SCMAPPER_SSHD_PASSWORD_USER and
SCMAPPER_SSHD_PASSWORD to an existing account to run that test.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SSHD = Path("/usr/sbin/sshd")


def _require_sshd() -> None:
    if SSHD.exists() and shutil.which("ssh-keygen"):
        return
    reason = "OpenSSH server not installed (apt-get install openssh-server)"
    if os.environ.get("SCMAPPER_REQUIRE_SSHD") == "1":
        pytest.fail(f"SCMAPPER_REQUIRE_SSHD=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _keygen(path: Path, passphrase: str = "", kind: str = "ed25519", *extra: str) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, *extra, "-N", passphrase, "-C", "scmapper-test", "-f", str(path)], check=True
    )
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _sshd_version() -> tuple[int, int]:
    out = subprocess.run([str(SSHD), "-V"], capture_output=True, text=True).stderr
    match = re.search(r"OpenSSH_(\d+)\.(\d+)", out)
    return (int(match[1]), int(match[2])) if match else (0, 0)


@dataclass
class Keys:
    """Keys made once per session: host keys for the server, client keys for us."""

    dir: Path
    host_key: Path
    other_host_key: Path
    client_key: Path
    locked_client_key: Path  # encrypted with `passphrase`
    stranger_key: Path  # not in authorized_keys
    other_client_keys: dict[str, Path]  # RSA (PEM format) and ECDSA, also authorized
    passphrase: str = "correct horse battery staple 42"


@dataclass
class Sshd:
    """One sshd process serving SFTP; `root` is the directory its user may write in."""

    keys: Keys
    dir: Path
    user: str
    port: int = field(default_factory=_free_port)
    password_auth: bool = False
    proc: subprocess.Popen | None = None
    _logged: int = 0  # where in the log the current start began

    @property
    def root(self) -> Path:
        return self.dir / "root"

    @property
    def log(self) -> Path:
        return self.dir / "sshd.log"

    def write_config(self) -> Path:
        config = self.dir / "sshd_config"
        lines = [
            f"Port {self.port}",
            "ListenAddress 127.0.0.1",
            "AddressFamily inet",
            f"HostKey {self.keys.host_key}",
            f"PidFile {self.dir / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.dir / 'authorized_keys'}",
            "StrictModes no",
            "UsePAM no",
            "PermitRootLogin yes",
            "UseDNS no",
            "PubkeyAuthentication yes",
            f"PasswordAuthentication {'yes' if self.password_auth else 'no'}",
            "KbdInteractiveAuthentication no",
            f"AllowUsers {self.user}",
            "Subsystem sftp internal-sftp",
            "ForceCommand internal-sftp",
            "MaxStartups 50",
            "LogLevel VERBOSE",
        ]
        if _sshd_version() >= (9, 8):
            lines.append("PerSourcePenalties no")  # tests fail logins on purpose
        config.write_text("\n".join(lines) + "\n")
        return config

    def start(self) -> None:
        if os.geteuid() == 0:  # privilege separation directory; packages may not make it
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        for _ in range(5):  # a free port may be taken before sshd binds it (other test runs)
            config = self.write_config()
            log = self.log.open("ab")
            self._logged = log.tell()  # what this start logs comes after this point
            self.proc = subprocess.Popen(
                [str(SSHD), "-D", "-e", "-f", str(config)], stdout=log, stderr=log, stdin=subprocess.DEVNULL
            )
            log.close()
            try:
                self._wait_listening()
                return
            except RuntimeError:
                if "Address already in use" not in self.log.read_text()[self._logged :]:
                    raise
                self.port = _free_port()
        raise RuntimeError(f"sshd found no free port: {self.log.read_text()}")

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {self.log.read_text()}")
            # Listening is what our sshd logs; a connection alone could reach another process's.
            if f"listening on 127.0.0.1 port {self.port}" in self.log.read_text()[self._logged :]:
                return
            time.sleep(0.05)
        raise RuntimeError(f"sshd did not listen on {self.port}: {self.log.read_text()}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def known_hosts(self, key: Path | None = None) -> Path:
        """A known_hosts file listing `key` (the server's own by default) for this server."""
        public = Path(f"{key or self.keys.host_key}.pub").read_text().split()
        path = self.dir / f"known_hosts.{time.monotonic_ns()}"
        path.write_text(f"[127.0.0.1]:{self.port} {public[0]} {public[1]}\n")
        return path

    def host_fingerprint(self) -> str:
        out = subprocess.run(
            ["ssh-keygen", "-l", "-E", "sha256", "-f", f"{self.keys.host_key}.pub"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return out.split()[1]


def _sftp_user() -> str:
    if os.geteuid() != 0:
        return pwd.getpwuid(os.getuid()).pw_name
    try:
        return pwd.getpwnam("nobody").pw_name
    except KeyError:
        return "root"


def _shared_dir(prefix: str) -> Path:
    """A temp dir the sftp user can read: sshd reads authorized_keys as that user, and
    pytest's own tmp_path sits under a 0700 directory."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


@pytest.fixture(scope="session")
def ssh_keys() -> Iterator[Keys]:
    _require_sshd()
    base = _shared_dir("scmapper-keys-")
    keys = Keys(
        dir=base,
        host_key=_keygen(base / "host"),
        other_host_key=_keygen(base / "other_host"),
        client_key=_keygen(base / "client"),
        locked_client_key=base / "locked_client",
        stranger_key=_keygen(base / "stranger"),
        other_client_keys={
            "rsa": _keygen(base / "client_rsa", "", "rsa", "-b", "2048", "-m", "PEM"),
            "ecdsa": _keygen(base / "client_ecdsa", "", "ecdsa"),
        },
    )
    _keygen(keys.locked_client_key, keys.passphrase)
    yield keys
    shutil.rmtree(base, ignore_errors=True)


def _make_server(keys: Keys, user: str, password_auth: bool = False) -> Sshd:
    server = Sshd(keys=keys, dir=_shared_dir("scmapper-sshd-"), user=user, password_auth=password_auth)
    clients = [keys.client_key, keys.locked_client_key, *keys.other_client_keys.values()]
    authorized = [Path(f"{k}.pub").read_text() for k in clients]
    (server.dir / "authorized_keys").write_text("".join(authorized))
    (server.dir / "authorized_keys").chmod(0o644)
    out = server.root / "out"
    out.mkdir(parents=True)
    account = pwd.getpwnam(user)
    for path in (server.root, out):
        os.chown(path, account.pw_uid, account.pw_gid)
    return server


@pytest.fixture
def sshd(ssh_keys: Keys) -> Iterator[Sshd]:
    server = _make_server(ssh_keys, _sftp_user())
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.dir, ignore_errors=True)


@pytest.fixture
def password_sshd(ssh_keys: Keys) -> Iterator[tuple[Sshd, str]]:
    user = os.environ.get("SCMAPPER_SSHD_PASSWORD_USER")
    password = os.environ.get("SCMAPPER_SSHD_PASSWORD")
    if not (user and password):
        pytest.skip(
            "password auth needs a real account with a password (sshd checks "
            "/etc/shadow); the tests create no users. Set SCMAPPER_SSHD_PASSWORD_USER "
            "and SCMAPPER_SSHD_PASSWORD to run it"
        )
    server = _make_server(ssh_keys, user, password_auth=True)
    server.start()
    yield server, password
    server.stop()
    shutil.rmtree(server.dir, ignore_errors=True)
