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


def test_resending_the_export_spend_cloud_holds_changes_nothing_for_the_next_one(db, tmp_path):
    """A person who left and came back under a new key keeps their username: the re-sent row is
    theirs alone, not also the old key's, so the next export sees no change at all."""
    out = tmp_path / "out"
    for key in range(1, 6):
        apply(db, native("create", make_person(str(key))))
    assert export(db, out).code == 0
    apply(db, native("delete", accountReference="1"))
    again = make_person("7")
    again["Accounts"]["MicrosoftActiveDirectory"] = make_person("1")["Accounts"]["MicrosoftActiveDirectory"]
    apply(db, native("create", again))
    assert export(db, out).code == 0
    assert export(db, out, "--resend", "2").code == 0
    diff = export(db, out, "--dry-run", "--json").json["diff"]
    assert diff["totals"] == dict.fromkeys(diff["totals"], 0)


def test_a_resent_person_no_one_in_the_database_is_counted_by_the_next_export(tmp_path):
    """Hard-deleted persons are in the re-sent files and in nobody's row: the dry run names them,
    and the next export counts them among those it removes (here past the threshold)."""
    db, out = tmp_path / "hard.db", tmp_path / "out"
    mapping = tmp_path / "hard.yaml"
    mapping.write_text(f"version: 1\nextends: {DEFAULT_MAPPING}\nlifecycle: {{ delete: hard }}\n", "utf-8")

    def event(event):
        return run_cli("apply", "--mapping", mapping, "--root", "/", "--db", db, "-", input=event).code

    assert all(event(native("create", make_person(str(key)))) == 0 for key in range(1, 11))
    args = ("export", "--mapping", mapping, "--root", "/", "--db", db, "--out", out)
    assert run_cli(*args).code == 0
    assert all(event(native("delete", accountReference=str(key))) == 0 for key in range(1, 5))
    assert run_cli(*args, "--force").code == 0
    looked = run_cli(*args, "--resend", "1", "--dry-run")
    assert "4 person(s) in the re-sent files match no one in the database" in looked.out
    assert run_cli(*args, "--resend", "1", "--force").code == 0
    after = run_cli(*args, "--dry-run", "--json").json
    assert after["diff"]["totals"]["leavers"] == 4 and after["status"] == "refused"


def test_a_custom_template_is_not_re_sent(db, tmp_path):
    out = tmp_path / "out"
    two_exports(db, out)
    (tmp_path / "layout.j2").write_text("{% for p in rows %}{{ p | csv_row }}{% endfor %}")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        f"version: 1\nextends: {DEFAULT_MAPPING}\nexport:\n  persons: {{ template: layout.j2 }}\n", "utf-8"
    )
    done = run_cli("export", "--mapping", mapping, "--root", "/", "--db", db, "--out", out, "--resend", "1")
    assert done.code == 2 and "works with that layout only" in done.err


def test_an_export_written_while_a_resend_compares_stops_the_resend(db, tmp_path, monkeypatch):
    from scmapper.export import resend

    out = tmp_path / "out"
    two_exports(db, out)
    planned = resend._change_log

    def overtaken(*args):
        found = planned(*args)
        apply(db, native("create", make_person("9")))
        assert export(db, out).code == 0  # export 3 lands between the comparison and the record
        return found

    monkeypatch.setattr(resend, "_change_log", overtaken)
    done = export(db, out, "--resend", "1", "--force")
    assert done.code == 2 and "export #3 was written meanwhile: run the re-send again" in done.err
    assert [r["id"] for r in rows(db, "SELECT id FROM exports")] == [1, 2, 3]


def test_a_resend_with_nothing_to_compare_or_another_header_is_refused(db, tmp_path):
    out = tmp_path / "out"
    two_exports(db, out)
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        f"version: 1\nextends: {DEFAULT_MAPPING}\nexport:\n  roles: {{ header: [OE, Naam, Code] }}\n", "utf-8"
    )
    other = run_cli("export", "--mapping", mapping, "--root", "/", "--db", db, "--out", out, "--resend", "1")
    assert other.code == 2 and "Roles.csv of export #2 has the header" in other.err
    (out / "Users.csv").write_text("changed by hand")
    for path in (out / "archive" / "000002").iterdir():
        path.unlink()
    lost = export(db, out, "--resend", "1", "--force")
    assert lost.code == 2 and "the files of export #2, which Spend Cloud last received, are neither in" in lost.err
