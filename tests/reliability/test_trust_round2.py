"""The trust boundary, second round: a hostile HR feed, a careless or hostile mapping author, odd
input from the operator's side. Each case is refused or bounded: a record's error, never a crash,
never a forged row, nothing outside the export folder touched."""

import json
import os
import shutil
import sqlite3

import pytest

from conftest import DEFAULT_MAPPING, ROOT, derived_mapping, make_person, native, rows, run_cli

# Every test here runs twice: on the mapping compiled to Python and on every piece in Jinja.
pytestmark = pytest.mark.usefixtures("evaluation")

RAET = ROOT / "mappings" / "raet.yaml"
RAET_SAMPLES = ROOT / "mappings" / "samples" / "raet"
TODAY = {"SCMAPPER_TODAY": "2026-06-01"}
FORGED = "\u001eFP-BUD-01\u001f\u001b]0;PWNED\u0007\u001b[2J\u0000"


def raet_sync(tmp_path, db, change=None):
    folder = tmp_path / "raet"
    shutil.copytree(RAET_SAMPLES, folder)
    if change:
        change(folder)
    files = sorted(folder.glob("*.json"))
    return run_cli("sync", "--mapping", RAET, "--db", db, "--source", *files, "--json", env=TODAY)


def forge_unit_name(folder):
    path = folder / "organizationUnits.json"
    units = json.loads(path.read_text("utf-8"))
    units["value"][0]["fullName"] += FORGED
    path.write_text(json.dumps(units), "utf-8")
    return units["value"][0]["id"]


def test_a_lookup_record_with_separators_forges_no_role_and_reaches_no_file(tmp_path):
    clean_db, forged_db = tmp_path / "clean.db", tmp_path / "forged.db"
    assert raet_sync(tmp_path / "a", clean_db).json["failures"][0]["key"] == "10024"  # broken on purpose
    done = raet_sync(tmp_path / "b", forged_db, forge_unit_name)
    assert any(
        w.startswith("lookup input organizationUnits organizationUnits.json#1: record.fullName contains the control"
                      " character U+001E; left out of the table")
        for w in done.json["warnings"]
    ), done.json["warnings"]
    forged_roles = rows(forged_db, "SELECT * FROM roles")
    assert len(forged_roles) <= len(rows(clean_db, "SELECT * FROM roles"))  # not one role more
    everything = json.dumps(rows(forged_db, "SELECT * FROM persons") + forged_roles)
    assert not any(ch in everything for ch in "\u001e\u001f\u001b\u0007\u0000")
    # The persons whose unit was left out have roles without an ou: five of twenty held at once is
    # more than export.held allows (something upstream is wrong), so nothing is written ...
    out = tmp_path / "out"
    exported = run_cli("export", "--mapping", RAET, "--db", forged_db, "--out", out, env=TODAY)
    assert exported.code == 1 and "threshold held: 5 of 20 persons fail a check" in exported.out
    assert not out.exists()
    # ... and with --force the rest is written, the five held back: no forged byte in any file.
    forced = run_cli("export", "--mapping", RAET, "--db", forged_db, "--out", out, "--force", env=TODAY)
    assert forced.code == 0, forced.out
    written = (out / "Roles.csv").read_text("utf-8-sig") + (out / "Users.csv").read_text("utf-8-sig")
    assert not any(ch in written for ch in "\u001e\u001f\u001b\u0007\u0000")
    shown = raet_sync(tmp_path / "c", tmp_path / "c.db", forge_unit_name)
    assert "\u001b" not in json.dumps(shown.json, ensure_ascii=False)


def test_a_lone_surrogate_fails_its_event_and_the_batch_runs_to_the_end(db, tmp_path):
    bad = make_person("2", NickName="Jo\ud800")
    lines = [native("create", make_person("1")), json.dumps({"action": "create", "person": bad}), native("create", make_person("3"))]
    batch = tmp_path / "events.jsonl"
    batch.write_text("\n".join(lines) + "\n", "utf-8")
    done = run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "--batch", batch)
    assert done.code == 1, done.err  # one event failed on its data; no internal error
    results = [json.loads(line) for line in done.out.splitlines()]
    assert [r["success"] for r in results] == [True, False, True]
    assert "half a surrogate pair (U+D800)" in results[1]["auditLogs"][0]["message"]
    assert {r["externalId"] for r in rows(db, "SELECT externalId FROM persons")} == {"1", "3"}


def sftp_mapping(tmp_path, name):
    return derived_mapping(
        tmp_path / "m.yaml",
        lambda m: m.update(sftp={"host": "127.0.0.1", "username": "sc", "remote_dir": "/in", "password_env": name}),
    )


def test_a_mapping_names_only_secrets_with_the_products_prefix(tmp_path):
    refused = run_cli("validate", sftp_mapping(tmp_path, "AGENT_TOKEN"))
    assert refused.code == 1
    assert "password_env 'AGENT_TOKEN': a mapping names only environment variables that start with SCMAPPER_" in (
        refused.out
    )
    assert run_cli("validate", sftp_mapping(tmp_path, "SCMAPPER_SFTP_PASSWORD")).code == 0
    listed = run_cli("validate", sftp_mapping(tmp_path, "AGENT_TOKEN"), env={"SCMAPPER_SECRETS": "OTHER,AGENT_TOKEN"})
    assert listed.code == 0, listed.out  # the operator's own list, which no mapping sets


def test_a_planted_archive_link_deletes_nothing_outside_the_export_folder(db, tmp_path):
    assert run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "-", input=native("create", make_person("1"))).code == 0
    precious = tmp_path / "precious"
    for name in ("000001", "000002", "000003"):
        (precious / name).mkdir(parents=True)
        (precious / name / "keep.txt").write_text("mine")
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(precious, out / "archive")
    done = run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", out)
    assert done.code == 2 and "is a link or not a folder" in done.err
    assert sorted(p.name for p in precious.iterdir()) == ["000001", "000002", "000003"]
    assert not (out / "Users.csv").exists()


def test_scmappers_own_filters_are_not_for_templates(tmp_path):
    template = tmp_path / "users.j2"
    template.write_text('{%- for row in rows %}{{ "=cmd|calc" | scm_literal }}\r\n{% endfor %}')
    mapping = derived_mapping(tmp_path / "m.yaml", lambda m: m["export"]["persons"].update(template="users.j2"))
    done = run_cli("validate", mapping)
    assert done.code == 1 and "filter 'scm_literal' is scmapper's own: not for mappings or templates" in done.out


def test_odd_input_is_a_message_not_an_internal_error(db, tmp_path):
    garbage = run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "-", input=native("create", make_person("1")),
                      env={"SCMAPPER_TODAY": "garbage"})  # fmt: skip
    assert garbage.code == 2 and "SCMAPPER_TODAY 'garbage' is not a date" in garbage.err
    deep = tmp_path / "deep.yaml"
    deep.write_text("version: 1\nx: " + "{a: " * 1000 + "1" + "}" * 1000 + "\n")
    nested = run_cli("validate", deep)
    assert nested.code == 1 and "nesting deeper than 64 levels" in nested.out
    users = tmp_path / "users.csv"
    users.write_text("Gebruikersnaam;E-mailadres\nx;" + "a" * 200_000 + "\n")
    mapping = derived_mapping(
        tmp_path / "r.yaml", lambda m: m.update(reconcile={"columns": {"gebruikersnaam": "Gebruikersnaam"}})
    )
    assert run_cli("apply", "--mapping", mapping, "--db", db, "-", input=native("create", make_person("2"))).code == 0
    big = run_cli("reconcile", "--mapping", mapping, "--db", db, "--spendcloud", users)
    assert big.code == 2 and "not a user list Spend Cloud exports" in big.err


@pytest.mark.parametrize("value", [" =1+1", "\n=cmd|' /C calc'!A0", "\u00a0@SUM(1)", "\uff1dcmd", "\u3000\uff0b1"])
def test_the_formula_guard_sees_past_whitespace_and_fullwidth_signs(value):
    from scmapper.export.csvformat import Dialect

    assert Dialect(";", True, "\r\n", True).cell(value) == '"\'' + value.replace('"', '""') + '"'


def test_an_old_database_row_with_an_invisible_character_is_not_adopted_as_is(tmp_path):
    """The old connector's file is another door: its values pass the same check."""
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.executescript((ROOT / "mappings" / "samples" / "old-connector" / "SpendCloud.sql").read_text("utf-8"))
    conn.execute("UPDATE persons SET achternaam = achternaam || char(8203) WHERE rowid = 1")
    conn.commit()
    conn.close()
    done = run_cli("adopt", "--mapping", DEFAULT_MAPPING, "--db", tmp_path / "new.db", old, "--json")
    assert "U+200B" in json.dumps(done.json), done.out[:2000]


def mapping_named(path, name, extends=None):
    head = f"version: 1\nname: {name}\n" + (f"extends: {extends}\n" if extends else "")
    body = "" if extends else "person:\n  key: externalId\n  columns:\n    externalId: \"{{ person.ExternalId }}\"\n"
    path.write_text(head + body, "utf-8")
    return path


def test_a_cache_entry_renamed_to_another_key_is_not_replayed(tmp_path):
    from scmapper.mapping import cache
    from scmapper.mapping.loading import load_rules

    one, two = mapping_named(tmp_path / "one.yaml", "one"), mapping_named(tmp_path / "two.yaml", "two")
    assert load_rules(one).mapping.name == "one" and load_rules(two).mapping.name == "two"
    entry_one = cache._entry(one, tmp_path.resolve(), one.read_bytes())
    entry_two = cache._entry(two, tmp_path.resolve(), two.read_bytes())
    assert entry_one.is_file() and entry_two.is_file()
    shutil.copyfile(entry_one, entry_two)  # a shared cache folder: the old entry under the new key
    assert load_rules(two).mapping.name == "two"


def test_a_base_behind_a_switched_symlink_is_read_again(tmp_path):
    from scmapper.mapping.loading import load_rules

    for release in ("r1", "r2"):
        (tmp_path / release).mkdir()
        mapping_named(tmp_path / release / "base.yaml", f"base of {release}")
    current = tmp_path / "current"
    current.symlink_to(tmp_path / "r1", target_is_directory=True)
    customer = tmp_path / "cust"
    customer.mkdir()
    mine = customer / "m.yaml"
    mine.write_text("version: 1\nextends: ../current/base.yaml\n", "utf-8")
    assert load_rules(mine, tmp_path).mapping.name == "base of r1"
    current.unlink()
    current.symlink_to(tmp_path / "r2", target_is_directory=True)
    assert load_rules(mine, tmp_path).mapping.name == "base of r2"


def old_database(tmp_path, *extra):
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.executescript((ROOT / "mappings" / "samples" / "old-connector" / "SpendCloud.sql").read_text("utf-8"))
    for statement in extra:
        conn.execute(statement)
    conn.commit()
    conn.close()
    return old


def test_the_old_database_is_read_as_untrusted(tmp_path):
    generated = old_database(tmp_path, "ALTER TABLE persons ADD COLUMN boom TEXT AS (hex(zeroblob(1000000000)))")
    done = run_cli("adopt", "--mapping", DEFAULT_MAPPING, "--db", tmp_path / "n.db", generated)
    assert done.code == 2 and "generated column persons.boom" in done.err and "nothing read" in done.err
    (tmp_path / "t").mkdir()
    trigger = old_database(tmp_path / "t", "CREATE VIEW v AS SELECT 1")
    assert "view 'v'" in run_cli("adopt", "--mapping", DEFAULT_MAPPING, "--db", tmp_path / "n2.db", trigger).err
    (tmp_path / "h").mkdir()
    huge = old_database(tmp_path / "h", "UPDATE persons SET achternaam = hex(randomblob(2600000)) WHERE rowid = 1")
    big = run_cli("adopt", "--mapping", DEFAULT_MAPPING, "--db", tmp_path / "n3.db", huge)
    assert big.code == 2 and "cannot read old database" in big.err
    (tmp_path / "p").mkdir()
    plain = old_database(tmp_path / "p")
    before = sorted(p.name for p in plain.parent.iterdir())
    run_cli("adopt", "--mapping", DEFAULT_MAPPING, "--db", tmp_path / "n4.db", plain)
    assert sorted(p.name for p in plain.parent.iterdir()) == before  # no -shm, no -wal beside it


def test_a_create_correlates_only_on_an_identifying_column(db):
    assert run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "-", input=native("create", make_person("1"))).code == 0
    other = make_person("2")
    event = {
        "actionContext": {
            "DryRun": False,
            "CorrelationConfiguration": {"Enabled": True, "AccountField": "geslacht", "PersonFieldValue": "M"},
        },
        "personContext": {"Person": other},
    }
    done = run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "--action", "create", "-", input=json.dumps(event))
    assert done.code == 1 and "cannot correlate on 'geslacht': only the key or a unique column" in done.out
    assert rows(db, "SELECT externalId, gebruikersnaam FROM persons") == [{"externalId": "1", "gebruikersnaam": "user1"}]
