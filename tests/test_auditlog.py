"""`scmapper log`: limits, action filters, one line per entry with its messages kept apart,
times at one precision; refused and forced exports and snapshots are in it."""

import json
import re
import sqlite3

from conftest import DEFAULT_MAPPING, edit, make_person, native, rows, run_cli

LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  \S+ +\S+ +.*")


def apply(db, event):
    return run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "-", input=event)


def created(db, *keys):
    for key in keys:
        assert apply(db, native("create", make_person(key))).code == 0


def test_limit_shows_the_newest_entries_oldest_first(db):
    created(db, "1", "2", "3", "4")
    result = run_cli("log", "--db", db, "--limit", "2")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0] == "(the newest 2 of 4 events; raise --limit for more)"
    assert [line.split()[2] for line in lines[1:]] == ["3", "4"]
    assert [e["accountReference"] for e in run_cli("log", "--db", db, "--limit", "2", "--json").json] == ["3", "4"]
    assert run_cli("log", "--db", db, "--limit", "9").out.splitlines()[0].split()[2] == "1"  # all fit: no note
    for bad in ("0", "-1", "ten"):
        refused = run_cli("log", "--db", db, "--limit", bad)
        assert (refused.code, refused.out) == (2, "")
        assert refused.err == f"scmapper: --limit takes a number of events, not {bad!r}\n"


def test_action_filters_in_any_casing_and_suggests_on_a_typo(db):
    created(db, "1", "2")
    assert apply(db, native("disable", accountReference="2")).code == 0
    result = run_cli("log", "--db", db, "--action", "disableaccount")
    assert result.code == 0 and [line.split()[1:3] for line in result.out.splitlines()] == [["DisableAccount", "2"]]
    combined = run_cli("log", "--db", db, "--action", "CreateAccount", "--account", "2", "--json")
    assert [(e["action"], e["accountReference"]) for e in combined.json] == [("CreateAccount", "2")]
    typo = run_cli("log", "--db", db, "--action", "CreateAcount")
    assert (typo.code, typo.out) == (2, "")
    assert typo.err.startswith("scmapper: --action 'CreateAcount' is not an audit action; did you mean CreateAccount?")
    assert "ExportRefused" in typo.err  # the list of actions to choose from
    none = run_cli("log", "--db", db, "--action", "ExportFiles")  # known, just not happened yet
    assert (none.code, none.out) == (0, "no audit events\n")


def test_an_events_messages_stay_apart_on_its_one_line(db, tmp_path):
    created(db, "1")
    person = make_person("1", FamilyName="Nieuw")
    person["Contracts"][0]["Department"] = {"ExternalId": "OE-2", "DisplayName": "Afdeling 2"}
    assert apply(db, native("update", person, accountReference="1")).code == 0
    [line] = run_cli("log", "--db", db, "--action", "UpdateAccount").out.splitlines()
    assert LINE.fullmatch(line)
    assert line.endswith("Updated account '1': achternaam | Roles of '1': 1 added, 1 removed"), line
    snapshot = tmp_path / "snap.json"
    snapshot.write_text(json.dumps([make_person("1", FamilyName="Weer")]))
    assert run_cli("sync", "--mapping", DEFAULT_MAPPING, "--db", db, "--source", snapshot).code == 0
    last = run_cli("log", "--db", db, "--limit", "1").out.splitlines()[-1]
    # its origin once, in front (the snapshot's person is back in department OE-1)
    assert last.endswith("[sync] Updated account '1': achternaam | Roles of '1': 1 added, 1 removed"), last


def test_times_are_shown_at_one_precision(db):
    created(db, "1")
    # an upload row as scmapper wrote them before its times were made one format (milliseconds)
    edit(
        db,
        "INSERT INTO events (time, action, account_ref, success, message, details)"
        " VALUES ('2026-11-27T05:30:01.250Z', 'UploadFile', NULL, 1, 'Uploaded export #1 file', '[]')",
    )
    text = run_cli("log", "--db", db).out.splitlines()
    assert all(LINE.fullmatch(line) for line in text), text
    assert text[1].startswith("2026-11-27T05:30:01Z  UploadFile")
    stamps = [e["time"] for e in run_cli("log", "--db", db, "--json").json]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", t) for t in stamps), stamps
    assert stamps[1] == "2026-11-27T05:30:01.250000Z"


def refusing_setup(db, tmp_path):
    """Four persons exported; then three disabled: past the 25-or-5% removal threshold."""
    created(db, "1", "2", "3", "4")
    out = tmp_path / "out"
    assert run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", out).code == 0
    for key in ("1", "2", "3"):
        assert apply(db, native("disable", accountReference=key)).code == 0
    return out


def test_a_refused_export_is_logged_and_writes_nothing_else(db, tmp_path):
    out = refusing_setup(db, tmp_path)
    files = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    before = {table: rows(db, f"SELECT * FROM {table}") for table in ("exports", "exported_changes", "persons")}
    refused = run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", out)
    assert refused.code == 1
    [entry] = run_cli("log", "--db", db, "--action", "ExportRefused", "--json").json
    assert entry["success"] is False
    assert entry["message"].startswith("Export refused, nothing written: threshold removed_persons: 3 of 4 persons")
    assert entry["auditLogs"][0]["thresholds"][0]["tripped"] is True
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == files
    assert {table: rows(db, f"SELECT * FROM {table}") for table in before} == before
    # a dry run that would be refused is only a preview: it logs nothing
    check = run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", out, "--dry-run")
    assert check.code == 1 and len(run_cli("log", "--db", db, "--action", "ExportRefused", "--json").json) == 1


def test_a_forced_export_is_logged_with_the_threshold_it_passed(db, tmp_path):
    out = refusing_setup(db, tmp_path)
    forced = run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", out, "--force")
    assert forced.code == 0
    entry = run_cli("log", "--db", db, "--action", "ExportFiles", "--json").json[-1]
    assert entry["auditLogs"][0]["forced"] is True
    assert "; overridden with --force: removed_persons: 3 of 4 persons (75.0%)" in entry["message"]


def test_a_database_damaged_where_the_log_does_not_read_is_refused_by_log(db):
    """The persons table's root page overwritten: the audit trail itself still reads, but the file
    is damaged, and `log` says so (exit 2) as sync and export would."""
    for n in range(1, 60):
        assert (
            run_cli(
                "apply", "--mapping", DEFAULT_MAPPING, "--db", db, "-", input=native("create", make_person(str(n)))
            ).code
            == 0
        )
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    [root] = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'persons'").fetchone()
    conn.close()
    assert run_cli("log", "--db", db, "--limit", "1").code == 0
    with open(db, "r+b") as handle:
        handle.seek((root - 1) * page_size)
        handle.write(b"\x0d" + b"\xff" * (page_size - 1))
    for command in (("log", "--db", db, "--limit", "1"), ("status", "--mapping", DEFAULT_MAPPING, "--db", db)):
        result = run_cli(*command)
        assert result.code == 2 and result.out == "", command
        assert "integrity check" in result.err or "database disk image is malformed" in result.err
