"""Audit retention: `log --prune` archives, removes (or redacts) and records, in one transaction;
it is the only path past the append-only guarantee, which holds again afterwards."""

import json
import sqlite3

import pytest

from conftest import DEFAULT_MAPPING, make_person, native, rows, run_cli


@pytest.fixture
def logged(db, tmp_path):
    for key in ("1", "2"):
        assert (
            run_cli(
                "apply", "--mapping", DEFAULT_MAPPING, "--db", db, "-", input=native("create", make_person(key))
            ).code
            == 0
        )
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


def age_every_entry(db, days):
    """The log as it would be `days` later: every entry's time moved back (the append-only
    triggers lifted for it and put back as they were)."""
    conn = sqlite3.connect(db)
    try:
        triggers = conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'"
        ).fetchall()
        for name, _ in triggers:
            conn.execute(f'DROP TRIGGER "{name}"')  # ok: names read from sqlite_master
        conn.execute("UPDATE events SET time = strftime('%Y-%m-%dT%H:%M:%fZ', time, ?)", (f"-{days} days",))
        for _, sql in triggers:
            conn.execute(sql)  # ok: the schema's own trigger text
        conn.commit()
    finally:
        conn.close()


def test_a_mappings_retention_prunes_after_each_sync_and_export(logged, tmp_path):
    (tmp_path / "audit-archive").mkdir()
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        f"version: 1\nextends: {DEFAULT_MAPPING}\naudit: {{ retain_days: 30, archive: audit-archive }}\n", "utf-8"
    )
    assert run_cli("validate", mapping, "--root", "/").code == 0
    old = rows(logged, "SELECT id FROM events")
    age_every_entry(logged, 40)
    done = run_cli("export", "--mapping", mapping, "--root", "/", "--db", logged, "--out", tmp_path / "out")
    assert done.code == 0, done.err
    assert "audit retention (30 days): Pruned 3 audit entries older than" in done.err
    [archive] = (tmp_path / "audit-archive").iterdir()
    assert [json.loads(line)["id"] for line in archive.read_text("utf-8").splitlines()] == [r["id"] for r in old]
    left = [r["action"] for r in rows(logged, "SELECT action FROM events ORDER BY id")]
    assert left == ["ExportFiles", "AuditPruned"] and rows(logged, "PRAGMA integrity_check") == [
        {"integrity_check": "ok"}
    ]
    again = run_cli("export", "--mapping", mapping, "--root", "/", "--db", logged, "--out", tmp_path / "out")
    assert again.code == 0 and "audit retention" not in again.err  # nothing old enough: nothing said, nothing written
    assert len(list((tmp_path / "audit-archive").iterdir())) == 1


def test_an_archive_folder_outside_the_mapping_or_missing_is_a_validate_problem(tmp_path):
    mapping = tmp_path / "m.yaml"
    mapping.write_text("version: 1\nextends: starter:spendcloud\naudit: { retain_days: 30, archive: ../elsewhere }\n")
    outside = run_cli("validate", mapping)
    assert outside.code == 1 and "audit.archive" in outside.out and "outside" in outside.out
    mapping.write_text("version: 1\nextends: starter:spendcloud\naudit: { retain_days: 30, archive: not-there }\n")
    missing = run_cli("validate", mapping)
    assert missing.code == 1 and "audit.archive 'not-there' is not a folder: create" in missing.out


def test_retention_that_cannot_run_warns_and_leaves_the_runs_exit_code_alone(logged, tmp_path):
    (tmp_path / "audit-archive").mkdir()
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        f"version: 1\nextends: {DEFAULT_MAPPING}\naudit: {{ retain_days: 30, archive: audit-archive }}\n"
    )
    (tmp_path / "audit-archive").rmdir()  # gone after validate: a folder someone cleaned up
    age_every_entry(logged, 40)
    done = run_cli("export", "--mapping", mapping, "--root", "/", "--db", logged, "--out", tmp_path / "out")
    assert done.code == 0
    assert "scmapper: WARNING: audit retention did not run: audit.archive 'audit-archive' is not a folder" in done.err
    assert "AuditPruned" not in [r["action"] for r in rows(logged, "SELECT action FROM events")]
