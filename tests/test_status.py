"""`status` for monitoring, and the stamp every export carries (scmapper version, mapping digest)."""

import hashlib
import json
from datetime import UTC, datetime, timedelta

from conftest import DEFAULT_MAPPING, ROOT, edit, make_person, native, open_store, run_cli

SHARED_BASE = ROOT / "mappings" / "shared" / "spendcloud-base.yaml"


def created(db, *keys):
    for key in keys:
        assert run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "-", input=native("create", make_person(key))).code == 0


def status(db, *args):
    return run_cli("status", "--mapping", DEFAULT_MAPPING, "--db", db, *args)


def test_a_clean_export_is_healthy_and_names_what_made_it(db, tmp_path):
    created(db, "1", "2")
    exported = run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", tmp_path / "out", "--json")
    assert exported.code == 0
    resolved = SHARED_BASE.read_bytes() + b"\0" + DEFAULT_MAPPING.read_bytes()  # the base, then the file
    stamp = {"scmapper": "0.1.0", "mapping": "sha256:" + hashlib.sha256(resolved).hexdigest()}
    assert exported.json["stamp"] == stamp
    assert json.loads((tmp_path / "out" / "export-report.json").read_text("utf-8"))["stamp"] == stamp
    done = status(db, "--json")
    assert done.code == 0 and done.json["healthy"] is True
    assert done.json["lastExport"]["id"] == 1 and done.json["lastExport"]["stamp"] == stamp
    assert done.json["lastApply"]["action"] == "CreateAccount"
    logged = run_cli("log", "--db", db, "--action", "ExportFiles")
    assert f"(mapping {stamp['mapping'][:19]}, scmapper 0.1.0)" in logged.out


def test_a_refused_export_needs_attention_and_says_why(db, tmp_path):
    created(db, "1", "2", "3", "4")
    assert run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", tmp_path / "out").code == 0
    for key in ("1", "2", "3"):
        assert run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "-", input=native("disable", accountReference=key)).code == 0
    assert run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", tmp_path / "out").code == 1
    done = status(db)
    assert done.code == 1
    [line] = [line for line in done.out.splitlines() if line.startswith("ATTENTION:")]
    assert line.startswith("ATTENTION: refused since the last export: Export refused, nothing written: threshold")
    assert "waiting for the next export: 3 changed persons" in done.out


def test_held_persons_and_an_old_export_need_attention(db, tmp_path):
    from scmapper.cli.status import read_status
    from scmapper.mapping.loading import load_rules

    created(db, "1", "2")
    edit(db, "UPDATE persons SET email = '' WHERE scm_ref = '2'")
    assert run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", tmp_path / "out").code == 0
    done = status(db)
    assert done.code == 1 and "ATTENTION: export #1 held back 1 persons whose rows fail a check (2)" in done.out
    store = open_store(db, load_rules(DEFAULT_MAPPING).mapping)
    try:
        later = datetime.now(UTC) + timedelta(hours=30)
        report = read_status(store, db, max_age=24, now=later)
    finally:
        store.close()
    assert any("more than --max-age 24: check the scheduled export" in f for f in report.findings)
    assert status(db, "--max-age", "often").code == 2
