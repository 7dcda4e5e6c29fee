"""`scmapper export --upload` and `scmapper upload` through the real CLI, against a real sshd."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import DEFAULT_MAPPING, ROOT, derived_mapping, make_person, native, rows, run_cli


def kept(tmp_path, source):
    """A key or known_hosts file copied where an implementer keeps them: inside the mapping's
    folder (files a mapping names may not lie outside it); its name relative to the mapping."""
    folder = tmp_path / "secrets"
    folder.mkdir(mode=0o700, exist_ok=True)
    target = folder / Path(source).name
    shutil.copyfile(source, target)
    target.chmod(0o600)
    return f"secrets/{target.name}"


def mapping_for(tmp_path, server, keys, **sftp):
    settings = {
        "host": "127.0.0.1",
        "port": server.port,
        "username": server.user,
        "remote_dir": str(server.root / "out"),
        "key_file": kept(tmp_path, keys.client_key),
        "known_hosts": kept(tmp_path, server.known_hosts()),
        "connect_timeout": 5,
        "timeout": 10,
        "retries": 0,
        **sftp,
    }
    settings = {k: v for k, v in settings.items() if v is not None}
    return derived_mapping(tmp_path / "m.yaml", lambda m: m.update(sftp=settings))


def loaded_db(tmp_path, mapping, people=("1", "2")):
    db = tmp_path / "sc.db"
    batch = tmp_path / "events.jsonl"
    batch.write_text("\n".join(native("create", make_person(p)) for p in people) + "\n")
    assert run_cli("apply", "--mapping", mapping, "--db", db, "--batch", batch).code == 0
    return db


def test_export_upload_places_identical_files_and_logs_it(sshd, ssh_keys, tmp_path):
    mapping = mapping_for(tmp_path, sshd, ssh_keys)
    db = loaded_db(tmp_path, mapping)
    out = tmp_path / "out"
    result = run_cli("export", "--mapping", mapping, "--db", db, "--out", out, "--upload")
    assert result.code == 0, result.err
    for name in ("Users.csv", "Roles.csv"):
        assert (sshd.root / "out" / name).read_bytes() == (out / name).read_bytes()
    assert f"Uploaded {sshd.root / 'out' / 'Users.csv'}" in result.out
    log = run_cli("log", "--db", db, "--json").json
    uploads = [e for e in log if e["action"] == "UploadFile"]
    assert [(u["success"], u["auditLogs"][0]["exportId"]) for u in uploads] == [(True, 1), (True, 1)]
    assert uploads[0]["auditLogs"][0]["size"] == (out / "Users.csv").stat().st_size
    assert any(e["action"] == "ExportFiles" for e in log)
    text = run_cli("log", "--db", db).out
    assert "UploadFile" in text and "Uploaded export #1 file to 127.0.0.1:" in text


def test_unknown_host_key_is_refused_then_pinned(sshd, ssh_keys, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    mapping = mapping_for(tmp_path, sshd, ssh_keys, known_hosts=str(empty))
    db = loaded_db(tmp_path, mapping)
    assert run_cli("export", "--mapping", mapping, "--db", db, "--out", tmp_path / "out").code == 0
    refused = run_cli("upload", "--mapping", mapping, "--db", db)
    assert refused.code == 11
    fingerprint = sshd.host_fingerprint()
    assert fingerprint in refused.err and "--trust-host-key" in refused.err
    assert not (sshd.root / "out" / "Users.csv").exists()
    pinned = run_cli("upload", "--mapping", mapping, "--db", db, "--trust-host-key", fingerprint)
    assert pinned.code == 0, pinned.err
    assert (sshd.root / "out" / "Users.csv").read_bytes() == (tmp_path / "out" / "Users.csv").read_bytes()
    outcomes = [e["success"] for e in run_cli("log", "--db", db, "--json").json if e["action"] == "UploadFile"]
    assert outcomes == [False, False, True, True]


def test_an_older_export_is_uploaded_from_the_archive(sshd, ssh_keys, tmp_path):
    mapping = mapping_for(tmp_path, sshd, ssh_keys)
    db = loaded_db(tmp_path, mapping)
    out = tmp_path / "out"
    assert run_cli("export", "--mapping", mapping, "--db", db, "--out", out).code == 0
    first = (out / "Users.csv").read_bytes()
    assert run_cli("apply", "--mapping", mapping, "--db", db, "-", input=native("create", make_person("3"))).code == 0
    assert run_cli("export", "--mapping", mapping, "--db", db, "--out", out).code == 0
    assert run_cli("upload", "--mapping", mapping, "--db", db, "--export", "1").code == 0
    assert (sshd.root / "out" / "Users.csv").read_bytes() == first
    assert run_cli("upload", "--mapping", mapping, "--db", db, "--export", "9").code == 2


def test_remote_directory_missing(sshd, ssh_keys, tmp_path):
    mapping = mapping_for(tmp_path, sshd, ssh_keys, remote_dir=str(sshd.root / "nope"))
    db = loaded_db(tmp_path, mapping)
    result = run_cli("export", "--mapping", mapping, "--db", db, "--out", tmp_path / "out", "--upload")
    assert result.code == 13
    assert "nope" in result.err


def test_passphrase_never_appears_anywhere(sshd, ssh_keys, tmp_path):
    mapping = mapping_for(
        tmp_path, sshd, ssh_keys, key_file=kept(tmp_path, ssh_keys.locked_client_key), passphrase_env="SCMAPPER_KEY_PASS"
    )
    db = loaded_db(tmp_path, mapping)
    out = tmp_path / "out"
    secret = ssh_keys.passphrase
    ok = run_cli("export", "--mapping", mapping, "--db", db, "--out", out, "--upload", env={"SCMAPPER_KEY_PASS": secret})
    assert ok.code == 0, ok.err
    wrong = run_cli("upload", "--mapping", mapping, "--db", db, env={"SCMAPPER_KEY_PASS": secret[::-1]})
    assert wrong.code == 12
    places = [ok.out, ok.err, wrong.out, wrong.err, run_cli("log", "--db", db, "--json").out]
    places += [p.read_bytes().decode("utf-8", "replace") for p in tmp_path.rglob("*") if p.is_file()]
    for text in places:
        assert secret not in text and secret[::-1] not in text


def test_connection_file_named_by_the_mapping(sshd, ssh_keys, tmp_path):
    connection = tmp_path / "sftp.yaml"
    connection.write_text(
        yaml.safe_dump(
            {
                "host": "127.0.0.1",
                "port": sshd.port,
                "username": sshd.user,
                "key_file": kept(tmp_path, ssh_keys.client_key),
                "known_hosts": kept(tmp_path, sshd.known_hosts()),
                "retries": 0,
            }
        )
    )
    mapping = derived_mapping(
        tmp_path / "m.yaml",
        lambda m: m.update(
            sftp={
                "connection": "sftp.yaml",
                "remote_dir": str(sshd.root / "out"),
                "files": {"persons": "medewerkers.csv"},
            }
        ),
    )
    db = loaded_db(tmp_path, mapping)
    result = run_cli("export", "--mapping", mapping, "--db", db, "--out", tmp_path / "out", "--upload")
    assert result.code == 0, result.err
    assert (sshd.root / "out" / "medewerkers.csv").read_bytes() == (tmp_path / "out" / "Users.csv").read_bytes()
    connection.write_text("host: h\npassword: hunter2\n")
    bad = run_cli("upload", "--mapping", mapping, "--db", db)
    assert bad.code == 2 and "secrets never go in a mapping file" in bad.err and "hunter2" not in bad.err


def test_upload_without_an_export_or_sftp_section(tmp_path, db):
    assert (
        run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "-", input=native("create", make_person("1"))).code
        == 0
    )
    none = run_cli("upload", "--mapping", DEFAULT_MAPPING, "--db", db)
    assert (none.code, none.err) == (2, f"scmapper: there is no complete export in {db}: run scmapper export first\n")
    assert run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", tmp_path / "out").code == 0
    unset = run_cli("upload", "--mapping", DEFAULT_MAPPING, "--db", db)
    assert unset.code == 2 and f"{DEFAULT_MAPPING} has no sftp section" in unset.err
    assert rows(db, "SELECT count(*) AS n FROM events WHERE action = 'UploadFile'")[0]["n"] == 0


def test_apply_does_not_import_paramiko(db):
    code = (
        "import sys; from scmapper.cli.main import main; "
        f"rc = main(['apply', '--mapping', {str(DEFAULT_MAPPING)!r}, '--db', {str(db)!r}, '--action', 'create', "
        f"{str(ROOT / 'mappings/samples/helloid/create-event.json')!r}]); "
        "print(rc, 'paramiko' in sys.modules, 'scmapper.export.sftp.upload' in sys.modules, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.stderr.strip().splitlines()[-1] == "0 False False"
    assert json.loads(done.stdout)["success"] is True


def test_upload_draws_a_bar_on_a_terminal_and_ends_with_a_summary(sshd, ssh_keys, tmp_path, monkeypatch):
    from scmapper.core import progress

    monkeypatch.setattr(progress, "INTERVAL", 0)  # a small upload finishes inside one redraw interval
    mapping = mapping_for(tmp_path, sshd, ssh_keys)
    db = loaded_db(tmp_path, mapping)
    out = tmp_path / "out"
    assert run_cli("export", "--mapping", mapping, "--db", db, "--out", out).code == 0
    size = sum((out / name).stat().st_size for name in ("Users.csv", "Roles.csv"))
    result = run_cli("upload", "--mapping", mapping, "--db", db, tty=True)
    assert result.code == 0, result.err
    frames = [f.rstrip() for f in result.err.split("\r") if f.startswith("upload [")]
    assert frames[-1].startswith(f"upload [########################] 100%  {size} B  ") and frames[-1].endswith(
        "0:00 left"
    )
    assert f"scmapper: upload: 2 files, {size:,} bytes delivered in " in result.err
    quiet = run_cli("upload", "--mapping", mapping, "--db", db, "--json", tty=True)
    assert quiet.code == 0 and "upload [" not in quiet.err and "scmapper: upload" not in quiet.err


def test_upload_dry_run_says_what_would_go_where_and_sends_nothing(sshd, ssh_keys, tmp_path):
    mapping = mapping_for(tmp_path, sshd, ssh_keys)
    db = loaded_db(tmp_path, mapping)
    out = tmp_path / "out"
    assert run_cli("export", "--mapping", mapping, "--db", db, "--out", out).code == 0
    events = len(run_cli("log", "--db", db, "--json").json)
    result = run_cli("upload", "--mapping", mapping, "--db", db, "--dry-run")
    assert result.code == 0, result.err
    remote = sshd.root / "out"
    assert result.out.splitlines() == [
        f"Export #1 would go to 127.0.0.1:{sshd.port}:",
        f"  {out / 'Users.csv'} -> {remote / 'Users.csv'} ({(out / 'Users.csv').stat().st_size} bytes)",
        f"  {out / 'Roles.csv'} -> {remote / 'Roles.csv'} ({(out / 'Roles.csv').stat().st_size} bytes)",
        "Dry run: nothing sent, nothing recorded (no connection is made, so the server is not checked).",
    ]
    assert not (remote / "Users.csv").exists() and len(run_cli("log", "--db", db, "--json").json) == events
    (out / "Users.csv").write_text("changed behind scmapper's back")
    archived = run_cli("upload", "--mapping", mapping, "--db", db, "--dry-run")
    assert archived.code == 0 and f"  {out / 'archive' / '000001' / 'Users.csv'} -> " in archived.out
    shutil.rmtree(out / "archive")
    stale = run_cli("upload", "--mapping", mapping, "--db", db, "--dry-run")
    assert stale.code == 2 and "no longer on disk unchanged" in stale.err and "export again" in stale.err
