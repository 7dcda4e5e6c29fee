"""`export --resend ID`: an archived export made the current files again, as a new export, after
the thresholds against what Spend Cloud last received; and the change log taught what Spend
Cloud holds afterwards, so the next export compares with the re-sent files."""

import json

from conftest import DEFAULT_MAPPING, make_person, native, rows, run_cli


def apply(db, event):
    assert run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "-", input=event).code == 0


def export(db, out, *args):
    return run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", out, *args)


def two_exports(db, out):
    """Export 1 of five persons; then person 2 renamed, 3 disabled and a sixth joined: export 2."""
    for key in range(1, 6):
        apply(db, native("create", make_person(str(key))))
    assert export(db, out).code == 0
    first = (out / "Users.csv").read_bytes(), (out / "Roles.csv").read_bytes()
    apply(db, native("update", make_person("2", FamilyName="Jansen"), accountReference="2"))
    apply(db, native("disable", accountReference="3"))
    apply(db, native("create", make_person("6")))
    assert export(db, out).code == 0
    return first


def test_resend_makes_export_1_the_current_files_again_byte_for_byte(db, tmp_path):
    out = tmp_path / "out"
    users, roles = two_exports(db, out)
    assert (out / "Users.csv").read_bytes() != users
    done = export(db, out, "--resend", "1", "--force", "--json")
    assert done.code == 0, done.err
    assert done.json["status"] == "written" and done.json["resendOf"] == 1 and done.json["exportId"] == 3
    assert (out / "Users.csv").read_bytes() == users and (out / "Roles.csv").read_bytes() == roles
    [record] = rows(db, "SELECT id, status, report FROM exports WHERE id = 3")
    assert record["status"] == "complete" and json.loads(record["report"])["resendOf"] == 1
    [logged] = rows(db, "SELECT message FROM events WHERE action = 'ExportFiles' ORDER BY id DESC LIMIT 1")
    assert logged["message"].startswith(f"Re-sent export #1 as export #3 to {out}")
    assert (out / "archive" / "000003" / "Users.csv").read_bytes() == users


def test_the_next_export_compares_with_what_the_resend_put_in_spend_cloud(db, tmp_path):
    out = tmp_path / "out"
    two_exports(db, out)
    assert export(db, out, "--resend", "1", "--force").code == 0
    after = export(db, out, "--dry-run", "--json").json
    diff = after["diff"]
    # Spend Cloud holds export 1 again: 3 is a leaver once more, 6 a joiner, 2's family name a change
    assert [p["key"] for p in diff["leavers"]] == ["3"]
    assert [p["key"] for p in diff["joiners"]] == ["6"]
    assert [(c["key"], sorted(c["fields"])) for c in diff["changed"]] == [("2", ["achternaam"])]


def test_a_resend_past_the_thresholds_is_refused_and_a_dry_run_writes_nothing(db, tmp_path):
    out = tmp_path / "out"
    for key in range(1, 4):
        apply(db, native("create", make_person(str(key))))
    assert export(db, out).code == 0  # export 1: three persons
    for key in range(4, 24):
        apply(db, native("create", make_person(str(key))))
    assert export(db, out).code == 0  # export 2: twenty-three
    current = (out / "Users.csv").read_bytes()
    looked = export(db, out, "--resend", "1", "--dry-run")
    assert looked.code == 1 and "REFUSED: threshold removed_persons: 20 of 23 persons" in looked.out
    refused = export(db, out, "--resend", "1")
    assert refused.code == 1 and refused.out.rstrip().endswith("--dry-run looks first.")
    assert (out / "Users.csv").read_bytes() == current and len(rows(db, "SELECT id FROM exports")) == 2


def test_an_export_the_archive_no_longer_holds_is_named_with_what_it_holds(db, tmp_path):
    out = tmp_path / "out"
    two_exports(db, out)
    missing = export(db, out, "--resend", "7")
    assert missing.code == 2
    assert missing.err == f"scmapper: export #7 is not in the archive of {out} (it holds #1, #2): nothing re-sent\n"
    (out / "archive" / "000001" / "Users.csv").write_text("tampered")
    damaged = export(db, out, "--resend", "1", "--force")
    assert damaged.code == 2 and "not the file export #1 wrote (its SHA-256 differs)" in damaged.err
