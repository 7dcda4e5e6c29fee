"""SFTP delivery against a real OpenSSH server (see conftest.py), plus a few unit tests of
the pieces a real server cannot be made to exercise (a server without posix-rename)."""

from __future__ import annotations

import base64
import hashlib
import os
import pwd
import signal
import socket
import subprocess
import threading
import time
from dataclasses import replace
from pathlib import Path

import paramiko
import pytest

from scmapper.errors import (
    AuthFailed,
    DeliveryError,
    HostKeyRefused,
    HostUnreachable,
    RemoteDirMissing,
    RemoteDiskFull,
    RemotePermissionDenied,
    UsageError,
)
from scmapper.export.sftp import connection, hostkeys, transfer
from scmapper.export.sftp.settings import SftpSettings, UploadResult
from scmapper.export.sftp.upload import upload_files
from scmapper.mapping.trust import OutsideRoot, Root


class Recorder:
    """Stands in for time.sleep and the log callback: remembers, never waits."""

    def __init__(self, on_sleep=None):
        self.delays: list[float] = []
        self.lines: list[str] = []
        self.on_sleep = on_sleep

    def sleep(self, seconds: float) -> None:
        self.delays.append(seconds)
        if self.on_sleep is not None:
            self.on_sleep()

    def log(self, line: str) -> None:
        self.lines.append(line)


def settings_for(server, keys, **changes) -> SftpSettings:
    base = SftpSettings(
        host="127.0.0.1",
        port=server.port,
        username=server.user,
        remote_dir=str(server.root / "out"),
        key_file=keys.client_key,
        known_hosts=server.known_hosts(),
        connect_timeout=5,
        timeout=10,
        retries=0,
        retry_delay=0.5,
    )
    return replace(base, **changes)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith((".part", ".old")))


# --- delivery ----------------------------------------------------------------------------


def test_key_auth_delivers_byte_identical_files(sshd, ssh_keys, tmp_path):
    out = sshd.root / "out"
    write(out / "Users.csv", b"old users\n")
    users = write(tmp_path / "users.csv", os.urandom(200_000))
    roles = write(tmp_path / "roles.csv", "Rôle;Naam\r\n".encode() * 100)
    rec = Recorder()

    files = [(users, "Users.csv"), (roles, "Roles.csv")]
    results = upload_files(settings_for(sshd, ssh_keys), files, log=rec.log, sleep=rec.sleep)

    assert (out / "Users.csv").read_bytes() == users.read_bytes()
    assert (out / "Roles.csv").read_bytes() == roles.read_bytes()
    assert [(r.ok, r.error, r.remote_path, r.size) for r in results] == [
        (True, None, f"{out}/Users.csv", 200_000),
        (True, None, f"{out}/Roles.csv", roles.stat().st_size),
    ]
    assert results[0].sha256 == hashlib.sha256(users.read_bytes()).hexdigest()
    assert results[0].started_at.endswith("Z") and results[0].started_at <= results[0].finished_at
    assert leftovers(out) == [] and rec.delays == []
    assert any("published" in line for line in rec.lines)


@pytest.mark.parametrize("kind", ["rsa", "ecdsa"])
def test_other_key_types(sshd, ssh_keys, tmp_path, kind):
    users = write(tmp_path / "u.csv", kind.encode())
    settings = settings_for(
        sshd, ssh_keys, key_file=ssh_keys.other_client_keys[kind], passphrase_env="SCMAPPER_UNNEEDED"
    )  # a passphrase for a plain key is ignored
    upload_files(settings, [(users, "Users.csv")], env={"SCMAPPER_UNNEEDED": "x"})
    assert (sshd.root / "out" / "Users.csv").read_bytes() == kind.encode()


def test_password_from_environment(password_sshd, ssh_keys, tmp_path):
    server, password = password_sshd
    users = write(tmp_path / "u.csv", b"a;b\n")
    settings = settings_for(server, ssh_keys, key_file=None, password_env="SCMAPPER_SFTP_PW")
    rec = Recorder()
    upload_files(settings, [(users, "Users.csv")], env={"SCMAPPER_SFTP_PW": password}, log=rec.log)
    assert (server.root / "out" / "Users.csv").read_bytes() == b"a;b\n"
    assert not any(password in line for line in rec.lines)


def test_reader_never_sees_a_partial_file(sshd, ssh_keys, tmp_path):
    out = sshd.root / "out"
    old = write(out / "Users.csv", b"previous export\n").read_bytes()
    new = write(tmp_path / "users.csv", os.urandom(30 * 1024 * 1024)).read_bytes()
    seen: dict[str, int] = {"old": 0, "new": 0, "absent": 0, "partial temp": 0}
    bad: list[int] = []
    done = threading.Event()

    def reader():
        while not done.is_set():
            try:
                content = (out / "Users.csv").read_bytes()
            except FileNotFoundError:
                seen["absent"] += 1
                continue
            if content == old:
                seen["old"] += 1
            elif content == new:
                seen["new"] += 1
            else:
                bad.append(len(content))
            for temp in out.glob(".Users.csv.*.part"):
                try:
                    seen["partial temp"] += temp.stat().st_size < len(new)
                except FileNotFoundError:  # published between the listing and the stat
                    pass

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        upload_files(settings_for(sshd, ssh_keys), [(tmp_path / "users.csv", "Users.csv")])
    finally:
        done.set()
        thread.join()
    assert bad == [], f"the final name showed partial content of sizes {bad}"
    assert seen["old"] > 0 and seen["partial temp"] > 0, seen
    assert (out / "Users.csv").read_bytes() == new
    assert leftovers(out) == []


def test_failed_delivery_leaves_previous_files_and_no_temp_file(sshd, ssh_keys, tmp_path):
    out = sshd.root / "out"
    (out / "Users.csv").mkdir()  # publishing Users.csv will fail: a directory has its name
    write(out / "Roles.csv", b"old roles\n")
    users = write(tmp_path / "u.csv", b"new users\n")
    roles = write(tmp_path / "r.csv", b"new roles\n")

    with pytest.raises(DeliveryError) as caught:
        upload_files(settings_for(sshd, ssh_keys), [(users, "Users.csv"), (roles, "Roles.csv")])

    assert type(caught.value) is DeliveryError and caught.value.exit_code == 16
    assert "Users.csv" in str(caught.value)
    # Both were staged; neither published, because every file is staged before any is.
    assert (out / "Roles.csv").read_bytes() == b"old roles\n"
    assert leftovers(out) == []
    results = caught.value.results
    assert [(r.remote_path.rsplit("/", 1)[1], r.ok) for r in results] == [("Users.csv", False), ("Roles.csv", False)]
    assert all(isinstance(r, UploadResult) and r.error for r in results)


# --- host keys ---------------------------------------------------------------------------


def test_unknown_host_key_is_refused_with_its_fingerprint(sshd, ssh_keys, tmp_path):
    empty = write(tmp_path / "known_hosts", b"")
    users = write(tmp_path / "u.csv", b"x\n")
    rec = Recorder()
    with pytest.raises(HostKeyRefused) as caught:
        upload_files(
            settings_for(sshd, ssh_keys, known_hosts=empty, retries=2), [(users, "Users.csv")], sleep=rec.sleep
        )
    message = str(caught.value)
    fingerprint = sshd.host_fingerprint()
    assert f"ssh-ed25519 {fingerprint}" in message
    assert f"--trust-host-key {fingerprint}" in message
    assert f"ssh-keyscan -p {sshd.port} 127.0.0.1 >> {empty}" in message
    assert caught.value.exit_code == 11 and caught.value.results == []
    assert rec.delays == []  # a refused key is not worth retrying
    assert not (sshd.root / "out" / "Users.csv").exists()


def test_changed_host_key_is_refused(sshd, ssh_keys, tmp_path):
    changed = sshd.known_hosts(ssh_keys.other_host_key)
    users = write(tmp_path / "u.csv", b"x\n")
    with pytest.raises(HostKeyRefused) as caught:
        upload_files(settings_for(sshd, ssh_keys, known_hosts=changed), [(users, "Users.csv")])
    message = str(caught.value)
    assert "CHANGED" in message and sshd.host_fingerprint() in message
    assert f"ssh-keygen -R '[127.0.0.1]:{sshd.port}'" in message


def test_pinned_host_key_is_accepted_without_known_hosts(sshd, ssh_keys, tmp_path):
    users = write(tmp_path / "u.csv", b"pinned\n")
    empty = write(tmp_path / "known_hosts", b"")
    for known_hosts in (empty, None):
        settings = settings_for(sshd, ssh_keys, known_hosts=known_hosts, trust_host_key=sshd.host_fingerprint())
        assert upload_files(settings, [(users, "Users.csv")])[0].ok
    assert (sshd.root / "out" / "Users.csv").read_bytes() == b"pinned\n"


def test_hashed_known_hosts_entry_is_accepted(sshd, ssh_keys, tmp_path):
    hashed = sshd.known_hosts()
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(hashed)], check=True, capture_output=True)
    assert hashed.read_text().startswith("|1|")
    users = write(tmp_path / "u.csv", b"hashed\n")
    assert upload_files(settings_for(sshd, ssh_keys, known_hosts=hashed), [(users, "Users.csv")])[0].ok


def test_wrong_pin_is_refused(sshd, ssh_keys, tmp_path):
    users = write(tmp_path / "u.csv", b"x\n")
    other = sshd.known_hosts(ssh_keys.other_host_key).read_text().split()[2]
    pin = "SHA256:" + base64.b64encode(hashlib.sha256(base64.b64decode(other)).digest()).decode().rstrip("=")
    with pytest.raises(HostKeyRefused, match="pin SHA256:.* differs"):
        upload_files(settings_for(sshd, ssh_keys, known_hosts=None, trust_host_key=pin), [(users, "Users.csv")])


def test_fingerprint_matches_ssh_keygen(sshd):
    public = Path(f"{sshd.keys.host_key}.pub").read_text().split()
    key = paramiko.PKey.from_type_string(public[0], base64.b64decode(public[1]))
    assert hostkeys.fingerprint(key) == sshd.host_fingerprint()


# --- connection failures and retries -----------------------------------------------------


def test_retry_succeeds_once_the_server_is_back(sshd, ssh_keys, tmp_path):
    users = write(tmp_path / "u.csv", b"after restart\n")
    sshd.stop()
    rec = Recorder(on_sleep=lambda: sshd.start() if len(rec.delays) == 2 else None)
    settings = settings_for(sshd, ssh_keys, retries=3, retry_delay=0.25)

    results = upload_files(settings, [(users, "Users.csv")], log=rec.log, sleep=rec.sleep)

    assert rec.delays == [0.25, 0.5]
    assert [r.ok for r in results] == [True]
    assert (sshd.root / "out" / "Users.csv").read_bytes() == b"after restart\n"
    assert any("retrying in 0.25s" in line for line in rec.lines)


def test_connection_refused_exhausts_retries_with_backoff(tmp_path, ssh_keys):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    users = write(tmp_path / "u.csv", b"x\n")
    settings = SftpSettings(
        host="127.0.0.1",
        port=port,
        username="u",
        remote_dir="/in",
        key_file=ssh_keys.client_key,
        retries=3,
        retry_delay=2.0,
    )
    rec = Recorder()
    with pytest.raises(HostUnreachable) as caught:
        upload_files(settings, [(users, "Users.csv")], sleep=rec.sleep)
    assert rec.delays == [2.0, 4.0, 8.0]
    assert caught.value.exit_code == 10
    assert f"127.0.0.1:{port} is unreachable after 4 attempts" in str(caught.value)
    assert "refused" in str(caught.value).lower()


def test_silent_server_times_out(tmp_path, ssh_keys):
    users = write(tmp_path / "u.csv", b"x\n")
    with socket.socket() as silent:  # accepts TCP (backlog) but never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        settings = SftpSettings(
            host="127.0.0.1",
            port=silent.getsockname()[1],
            username="u",
            remote_dir="/in",
            key_file=ssh_keys.client_key,
            connect_timeout=0.3,
            retries=1,
            retry_delay=0.1,
        )
        rec = Recorder()
        started = time.monotonic()
        with pytest.raises(HostUnreachable, match="after 2 attempts"):
            upload_files(settings, [(users, "Users.csv")], sleep=rec.sleep)
    assert rec.delays == [0.1]
    assert time.monotonic() - started < 5


def _session_processes(listener_pid: int) -> list[int]:
    """The per-connection sshd processes under the listener (all started by our fixture)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = [], [listener_pid]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def test_connection_lost_mid_upload_is_retried_and_temp_removed(sshd, ssh_keys, tmp_path):
    out = sshd.root / "out"
    write(out / "Users.csv", b"old\n")
    users = write(tmp_path / "u.csv", os.urandom(30 * 1024 * 1024))
    killed: list[int] = []

    def kill_session_when_half_written():
        deadline = time.monotonic() + 20
        while not killed and time.monotonic() < deadline:
            for temp in out.glob(".Users.csv.*.part"):
                if temp.stat().st_size > 1024 * 1024:
                    for pid in _session_processes(sshd.proc.pid):
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
            time.sleep(0.002)

    killer = threading.Thread(target=kill_session_when_half_written)
    killer.start()
    rec = Recorder()
    try:
        results = upload_files(
            settings_for(sshd, ssh_keys, retries=2), [(users, "Users.csv")], log=rec.log, sleep=rec.sleep
        )
    finally:
        killed.append(-1)  # stop the killer if it never fired
        killer.join()
    assert killed[0] != -1, "the session was never killed; the test proves nothing"
    assert rec.delays == [0.5]
    assert [r.ok for r in results] == [False, True]
    assert "connection lost" in results[0].error
    assert (out / "Users.csv").read_bytes() == users.read_bytes()
    assert leftovers(out) == []  # the first attempt's temp file was removed by the second


# --- authentication and secrets ----------------------------------------------------------


def test_refused_key_fails_auth_without_retry(sshd, ssh_keys, tmp_path):
    users = write(tmp_path / "u.csv", b"x\n")
    rec = Recorder()
    with pytest.raises(AuthFailed) as caught:
        upload_files(
            settings_for(sshd, ssh_keys, key_file=ssh_keys.stranger_key, retries=3),
            [(users, "Users.csv")],
            sleep=rec.sleep,
        )
    assert rec.delays == [] and caught.value.exit_code == 12
    assert f"user {sshd.user}" in str(caught.value) and "SHA256:" in str(caught.value)


def test_secrets_never_appear_in_logs_messages_or_results(sshd, ssh_keys, tmp_path):
    passphrase, password = ssh_keys.passphrase, "pw-Secret-4711-do-not-print"
    env = {"SCMAPPER_KEY_PASS": passphrase, "SCMAPPER_SFTP_PW": password}
    users = write(tmp_path / "u.csv", b"secret-free\n")
    rec = Recorder()
    locked = settings_for(
        sshd, ssh_keys, key_file=ssh_keys.locked_client_key, passphrase_env="SCMAPPER_KEY_PASS", password_env="SCMAPPER_SFTP_PW"
    )
    said: list[str] = []

    results = upload_files(locked, [(users, "Users.csv")], env=env, log=rec.log)
    said += [repr(results), repr(locked)]
    with pytest.raises(RemoteDirMissing) as missing:  # fails after authenticating
        upload_files(replace(locked, remote_dir="/nonexistent/dir"), [(users, "Users.csv")], env=env, log=rec.log)
    said += [str(missing.value), repr(missing.value.results)]
    with pytest.raises(AuthFailed) as refused:  # key refused, then the password refused
        upload_files(
            replace(locked, key_file=ssh_keys.stranger_key, passphrase_env=None),
            [(users, "Users.csv")],
            env=env,
            log=rec.log,
        )
    said += [str(refused.value), repr(refused.value.results)]
    with pytest.raises(AuthFailed) as wrong:
        upload_files(locked, [(users, "Users.csv")], env={**env, "SCMAPPER_KEY_PASS": "wrong"}, log=rec.log)
    said += [str(wrong.value)]

    assert "environment variable SCMAPPER_SFTP_PW" in str(refused.value)
    assert "wrong passphrase" in str(wrong.value)
    for text in said + rec.lines:
        assert passphrase not in text and password not in text


def test_missing_secret_variable_is_reported_by_name(ssh_keys, tmp_path):
    users = write(tmp_path / "u.csv", b"x\n")
    settings = SftpSettings(
        host="h", username="u", remote_dir="/in", key_file=ssh_keys.locked_client_key, passphrase_env="SCMAPPER_KEY_PASS"
    )
    with pytest.raises(AuthFailed, match="environment variable SCMAPPER_KEY_PASS is not set"):
        upload_files(settings, [(users, "Users.csv")], env={})
    with pytest.raises(AuthFailed, match="is encrypted"):
        upload_files(replace(settings, passphrase_env=None), [(users, "Users.csv")], env={})


# --- remote directory problems -----------------------------------------------------------


def test_missing_remote_dir(sshd, ssh_keys, tmp_path):
    users = write(tmp_path / "u.csv", b"x\n")
    write(sshd.root / "out" / "plain-file", b"")
    for remote_dir, why in (
        (sshd.root / "nope", "does not exist"),
        (sshd.root / "out" / "plain-file", "is not a directory"),
    ):
        with pytest.raises(RemoteDirMissing, match=why) as caught:
            upload_files(settings_for(sshd, ssh_keys, remote_dir=str(remote_dir)), [(users, "Users.csv")])
        assert caught.value.exit_code == 13 and str(remote_dir) in str(caught.value)


def test_permission_denied(sshd, ssh_keys, tmp_path):
    if sshd.user == "root":
        pytest.skip("the sftp user is root, which ignores file permissions")
    out = sshd.root / "out"
    write(out / "Users.csv", b"old\n")
    out.chmod(0o555)
    users = write(tmp_path / "u.csv", b"new\n")
    with pytest.raises(RemotePermissionDenied) as caught:
        upload_files(settings_for(sshd, ssh_keys), [(users, "Users.csv")])
    assert caught.value.exit_code == 14 and "permission denied" in str(caught.value)
    assert (out / "Users.csv").read_bytes() == b"old\n" and leftovers(out) == []


# --- settings ----------------------------------------------------------------------------


def test_from_dict_resolves_paths_and_checks_combinations(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    write(tmp_path / "id_ed25519", b"key")
    (tmp_path / "conf").mkdir()
    write(tmp_path / "conf" / "deploy_key", b"key")
    base = {"host": "sftp.example.com", "username": "svc", "remote_dir": "/in"}
    root = Root(tmp_path)  # a root wide enough to hold the home folder (--root)

    settings = SftpSettings.from_dict(
        {**base, "key_file": "deploy_key", "port": 2222, "known_hosts": "~/kh"}, tmp_path / "conf", root
    )
    assert settings.key_file == tmp_path / "conf" / "deploy_key"
    assert settings.known_hosts == tmp_path / "kh"
    assert settings.host_key_name == "[sftp.example.com]:2222"
    home_key = SftpSettings.from_dict({**base, "key_file": "~/id_ed25519"}, tmp_path, root)
    assert home_key.key_file == tmp_path / "id_ed25519"
    assert home_key.host_key_name == "sftp.example.com"
    with pytest.raises(OutsideRoot, match="sftp.key_file '~/id_ed25519' leads outside the mapping's folder"):
        SftpSettings.from_dict({**base, "key_file": "~/id_ed25519"}, tmp_path / "conf", Root(tmp_path / "conf"))
    for bad, why in (
        ({}, "set key_file"),
        ({"key_file": "missing"}, "does not exist"),
        ({"password_env": "SCMAPPER_P", "trust_host_key": "SHA256:short"}, "not a SHA256"),
        ({"password_env": "SCMAPPER_P", "port": 0}, "port 0"),
        ({"password_env": "SCMAPPER_P", "passphrase_env": "SCMAPPER_Q"}, "key_file is not"),
        ({"password_env": "SCMAPPER_P", "colour": "red"}, "unknown key"),
    ):
        with pytest.raises(UsageError, match=why):
            SftpSettings.from_dict({**base, **bad}, tmp_path, root)
    with pytest.raises(UsageError, match="host"):
        SftpSettings.from_dict({"password_env": "SCMAPPER_P"}, tmp_path, root)


def test_bad_file_list_is_a_usage_error(tmp_path):
    settings = SftpSettings(host="h", username="u", remote_dir="/in", password_env="SCMAPPER_P")
    with pytest.raises(UsageError, match="no such file"):
        upload_files(settings, [(tmp_path / "absent.csv", "Users.csv")], env={"SCMAPPER_P": "x"})
    users = write(tmp_path / "u.csv", b"x")
    with pytest.raises(UsageError, match="plain file name"):
        upload_files(settings, [(users, "../Users.csv")], env={"SCMAPPER_P": "x"})


# --- a server without posix-rename (fake: OpenSSH always has it) ----------------------------


class NoPosixRenameSftp:
    """In-memory SFTP client whose rename refuses to overwrite, like the SFTP v3 draft."""

    def __init__(self, files: dict[str, bytes], fail_rename_from: str | None = None):
        self.files, self.fail_rename_from = files, fail_rename_from

    def posix_rename(self, old, new):
        raise OSError("Operation unsupported")

    def rename(self, old, new):
        if new in self.files or old == self.fail_rename_from:
            raise OSError("Failure")
        self.files[new] = self.files.pop(old)

    def stat(self, path):
        if path not in self.files:
            raise FileNotFoundError(path)

    def remove(self, path):
        del self.files[path]


class FakeRemote(connection._Remote):
    def alive(self):
        return True


def test_publish_without_posix_rename_swaps_safely():
    fake = NoPosixRenameSftp({"/in/.U.part": b"new", "/in/U": b"old"})
    remote = FakeRemote(sftp=fake, transport=None)
    transfer._publish(remote, "/in/.U.part", "/in/U")
    assert fake.files == {"/in/U": b"new"} and remote.posix_rename is False

    fake = NoPosixRenameSftp({"/in/.U.part": b"new", "/in/U": b"old"}, fail_rename_from="/in/.U.part")
    with pytest.raises(DeliveryError):
        transfer._publish(FakeRemote(sftp=fake, transport=None), "/in/.U.part", "/in/U")
    assert fake.files["/in/U"] == b"old"  # moved aside and back: the old file survives


def test_error_classification():
    cases = [
        (OSError(13, "Permission denied"), RemotePermissionDenied),
        (OSError("No space left on device"), RemoteDiskFull),
        (OSError(28, "whatever"), RemoteDiskFull),
        (OSError("Failure"), DeliveryError),
    ]
    for error, expected in cases:
        assert type(connection._remote_error(error, "writing /in/x")) is expected


def test_disk_full(sshd, ssh_keys, tmp_path):
    out = sshd.root / "small"
    out.mkdir()
    account = pwd.getpwnam(sshd.user)
    mounted = subprocess.run(
        [
            "mount",
            "-t",
            "tmpfs",
            "-o",
            f"size=1m,mode=0755,uid={account.pw_uid},gid={account.pw_gid}",
            "tmpfs",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a 1 MB tmpfs to fill up (needs root with CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        write(out / "Users.csv", b"old\n")
        users = write(tmp_path / "u.csv", os.urandom(3_000_000))
        with pytest.raises(RemoteDiskFull) as caught:
            upload_files(settings_for(sshd, ssh_keys, remote_dir=str(out)), [(users, "Users.csv")])
        assert caught.value.exit_code == 15 and "3000000 needed" in str(caught.value)
        assert (out / "Users.csv").read_bytes() == b"old\n" and leftovers(out) == []
    finally:
        subprocess.run(["umount", str(out)], check=True)
