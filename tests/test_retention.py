"""Audit retention: `log --prune` archives, removes (or redacts) and records, in one transaction;
it is the only path past the append-only guarantee, which holds again afterwards."""

import json
import sqlite3

import pytest

from conftest import DEFAULT_MAPPING, make_person, native, rows, run_cli


@pytest.fixture
def logged(db, tmp_path):
    for key in ("1", "2"):
        assert run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "-", input=native("create", make_person(key))).code == 0
    assert run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", tmp_path / "out").code == 0
    return db


def test_prune_archives_every_earlier_entry_and_leaves_its_own_record(logged, tmp_path):
    before = rows(logged, "SELECT id, action, message FROM events ORDER BY id")
    archive = tmp_path / "a.jsonl"
    done = run_cli("log", "--db", logged, "--prune", "--older-than", "0", "--archive", archive, "--json")
    assert done.code == 0 and done.json["entries"] == len(before) == 3
    kept = [json.loads(line) for line in archive.read_text("utf-8").splitlines()]
    assert [(e["id"], e["action"], e["message"]) for e in kept] == [tuple(r.values()) for r in before]
    [record] = rows(logged, "SELECT action, message FROM events")
    assert record["action"] == "AuditPruned" and done.json["sha256"] in record["message"]
    assert rows(logged, "PRAGMA integrity_check") == [{"integrity_check": "ok"}]
    conn = sqlite3.connect(logged)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM events")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE events SET message = 'x'")
    finally:
        conn.close()


def test_redact_keeps_the_entries_without_person_data(logged):
    done = run_cli("log", "--db", logged, "--prune", "--older-than", "0", "--redact")
    assert done.code == 0 and done.out.startswith("Redacted 3 audit entries older than")
    entries = rows(logged, "SELECT action, account_ref, message, details, before, after FROM events ORDER BY id")
    assert [e["action"] for e in entries] == ["CreateAccount", "CreateAccount", "ExportFiles", "AuditPruned"]
    assert all(e["message"] == "(redacted)" and e["before"] is None and e["account_ref"] is None for e in entries[:3])
    assert "Person1" not in json.dumps(entries)


def test_prune_arguments_are_checked_and_nothing_is_lost_on_a_bad_archive(logged, tmp_path):
    assert run_cli("log", "--db", logged, "--prune").code == 2
    assert run_cli("log", "--db", logged, "--older-than", "3").code == 2
    taken = tmp_path / "taken.jsonl"
    taken.write_text("mine\n")
    done = run_cli("log", "--db", logged, "--prune", "--older-than", "0", "--archive", taken)
    assert done.code == 2 and "exists: the archive goes into a new file (nothing pruned)" in done.err
    assert len(rows(logged, "SELECT id FROM events")) == 3 and taken.read_text() == "mine\n"
    recent = run_cli("log", "--db", logged, "--prune", "--older-than", "30")
    assert recent.code == 0 and "nothing changed" in recent.out
