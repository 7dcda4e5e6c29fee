"""The export session: its cheap SQL tests find every row Python's exact checks would fail, and its
change log, kept by triggers, gives the diff a comparison of two snapshots would."""

import json
import random
import sqlite3
from collections import Counter
from contextlib import closing

from test_export import export, load, make_person

from scmapper.store import exports
from scmapper.store.schema import SCHEMA_VERSION

from conftest import DEFAULT_MAPPING, edit, native, rows, run_cli


def test_blank_start_covers_exactly_what_str_strip_removes():
    everything = "".join(map(chr, range(0x110000)))
    assert set(exports.WHITESPACE) == {ch for ch in everything if ch.isspace()}


def test_the_cp1252_pattern_matches_exactly_the_characters_cp1252_cannot_hold():
    chars = [chr(c) for c in range(1, 0x10000) if not 0xD800 <= c <= 0xDFFF] + ["\U0001f600", "\U00010000"]
    with closing(sqlite3.connect(":memory:")) as conn:
        conn.execute("CREATE TABLE t (c TEXT)")
        conn.executemany("INSERT INTO t VALUES (?)", [(c,) for c in chars])
        found = {c for (c,) in conn.execute("SELECT c FROM t WHERE c GLOB ?", (exports.outside_cp1252_glob(),))}

    def unencodable(ch):
        try:
            ch.encode("cp1252")
        except UnicodeEncodeError:
            return True
        return False

    assert found == {c for c in chars if unencodable(c)}
    assert "Ł" in found and "€" not in found and "é" not in found


def test_the_first_export_counts_its_joiners_and_the_next_lists_changes(db, tmp_path):
    load(db, [make_person(str(i)) for i in (1, 2, 3)])
    first = export(db, tmp_path / "out", "--json").json
    assert first["diff"]["listed"] is False and first["diff"]["joiners"] == []
    assert first["diff"]["totals"]["joiners"] == 3 and first["diff"]["totals"]["rolesAdded"] == 3
    load(db, [make_person("4"), make_person("2", NickName="Tessa")])
    second = export(db, tmp_path / "out", "--json").json
    assert second["diff"]["listed"] is True
    assert second["diff"]["joiners"] == [{"key": "4", "username": "user4"}]
    assert second["diff"]["changed"] == [
        {"key": "2", "username": "user2", "fields": {"voornaam": {"before": "Test", "after": "Tessa"}}}
    ]
    assert second["diff"]["rolesAdded"] == [
        {"person": "4", "ou": "Afdeling 1", "gebruikersnaam": "user4", "functiecode": "FP-1"}
    ]
    assert rows(db, "SELECT count(*) AS n FROM exported_changes") == [{"n": 0}]  # the next diff starts here


# --- the change log against a brute-force diff of two snapshots ------------------------------

COMPARED = ["voornaam", "tussenvoegsel", "achternaam", "geslacht", "email", "gebruikersnaam"]
ROLE_COLUMNS = ["ou", "gebruikersnaam", "functiecode"]


def snapshot(db):
    """Active persons (key -> row) and their roles (key -> role identities), read directly."""
    persons = {r["externalId"]: r for r in rows(db, "SELECT * FROM persons WHERE scm_active = 1")}
    roles = {key: [] for key in persons}
    for r in rows(
        db, "SELECT p.externalId AS k, r.* FROM roles r JOIN persons p USING (scm_ref) WHERE p.scm_active = 1"
    ):
        roles[r["k"]].append(tuple(r[c] for c in ROLE_COLUMNS))
    return persons, roles


def expected_diff(before, after):
    (old, old_roles), (new, new_roles) = before, after
    changed, added, removed = [], [], []
    for key in sorted(set(old) & set(new)):
        fields = {c: {"before": old[key][c], "after": new[key][c]} for c in COMPARED if old[key][c] != new[key][c]}
        if fields:
            changed.append({"key": key, "username": new[key]["gebruikersnaam"], "fields": fields})
    for key in sorted(set(old) | set(new)):
        mine, theirs = Counter(new_roles.get(key, [])), Counter(old_roles.get(key, []))
        added += [{"person": key, **dict(zip(ROLE_COLUMNS, r, strict=True))} for r in (mine - theirs).elements()]
        removed += [{"person": key, **dict(zip(ROLE_COLUMNS, r, strict=True))} for r in (theirs - mine).elements()]
    return {
        "joiners": [{"key": k, "username": new[k]["gebruikersnaam"]} for k in sorted(set(new) - set(old))],
        "leavers": [{"key": k, "username": old[k]["gebruikersnaam"]} for k in sorted(set(old) - set(new))],
        "changed": changed,
        "rolesAdded": sorted(added, key=json.dumps),
        "rolesRemoved": sorted(removed, key=json.dumps),
    }


def random_events(rng, people, next_key):
    """Changes of every kind the lifecycle makes: renames and reverts, usernames, contracts,
    disable, enable, delete, a new key for an existing account, and new persons."""
    events = []
    for _ in range(25):
        ref = rng.choice(sorted(people))
        person, kind = people[ref], rng.randrange(9)
        if kind == 0:
            person["Name"]["NickName"] = rng.choice(["Anna", "Bo", "Test"])  # sometimes back to what it was
        elif kind == 1:
            person["Accounts"]["MicrosoftActiveDirectory"]["sAMAccountName"] = f"user{ref}{rng.choice('ab')}"
        elif kind == 2:
            person["Contracts"].append(
                {
                    "Context": {"InConditions": True},
                    "Department": {"ExternalId": "OE-2", "DisplayName": "Afd 2"},
                    "Title": {"ExternalId": f"FP-{rng.randrange(3)}", "Code": "C", "Name": "F"},
                }
            )
        elif kind == 3:
            person["Contracts"] = person["Contracts"][:1] if rng.random() < 0.5 else person["Contracts"][::-1]
        if kind <= 3:
            events.append(native("update", person, accountReference=ref))
        elif kind == 4:
            events.append(native("disable", accountReference=ref))
        elif kind == 5:
            events.append(native("enable", accountReference=ref))
        elif kind == 6:
            events.append(native("delete", accountReference=ref))
        elif kind == 7:  # the account keeps its reference, the person gets a new key
            person["ExternalId"] = str(next_key())
            events.append(native("update", person, accountReference=ref))
        else:
            key = str(next_key())
            people[key] = make_person(key)
            events.append(native("create", people[key]))
    return events


def test_the_change_log_gives_the_diff_a_comparison_of_two_snapshots_would(db, tmp_path):
    rng = random.Random(7)
    people = {str(i): make_person(str(i)) for i in range(1, 31)}
    counter = iter(range(100, 1000))
    load(db, list(people.values()))
    assert export(db, tmp_path / "out", "--force").code == 0
    before = snapshot(db)
    for cycle in range(5):
        batch = tmp_path / f"cycle{cycle}.jsonl"
        batch.write_text("\n".join(random_events(rng, people, lambda: next(counter))) + "\n", "utf-8")
        run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "--batch", batch)  # some events may fail
        after = snapshot(db)
        report = export(db, tmp_path / "out", "--force", "--json").json
        found = {k: report["diff"][k] for k in ("joiners", "leavers", "changed")}
        found["rolesAdded"] = sorted(report["diff"]["rolesAdded"], key=json.dumps)
        found["rolesRemoved"] = sorted(report["diff"]["rolesRemoved"], key=json.dumps)
        assert found == expected_diff(before, after), f"cycle {cycle}"
        before = after


def test_a_schema_4_baseline_becomes_change_log_entries_and_the_next_diff_is_exact(db, tmp_path):
    """Schema 4 kept the whole last export; upgrading keeps its meaning: one change, one diff entry."""
    load(db, [make_person(str(i)) for i in range(1, 6)])
    assert export(db, tmp_path / "out").code == 0
    edit(  # what a schema 4 database held after that export
        db,
        "CREATE TABLE exported_persons (key TEXT PRIMARY KEY, data TEXT NOT NULL)",
        "CREATE TABLE exported_roles (owner TEXT PRIMARY KEY, count INTEGER NOT NULL, data TEXT NOT NULL)",
        "INSERT INTO exported_persons SELECT externalId, json_object('externalId', externalId, 'voornaam', voornaam,"
        " 'tussenvoegsel', tussenvoegsel, 'achternaam', achternaam, 'gebruikersnaam', gebruikersnaam,"
        " 'geslacht', geslacht, 'email', email) FROM persons WHERE scm_active = 1",
        "INSERT INTO exported_roles SELECT p.externalId, count(*), json_group_array(json_object('gebruikersnaam',"
        " r.gebruikersnaam, 'ou', r.ou, 'functie', r.functie, 'oucode', r.oucode, 'functiecode', r.functiecode))"
        " FROM roles r JOIN persons p USING (scm_ref) GROUP BY p.externalId",
        "DROP TABLE exported_changes",
        *(f"DROP TRIGGER scm_log_{name}" for name in ("person_insert", "person_update", "person_delete")),
        *(f"DROP TRIGGER scm_log_{name}" for name in ("role_insert", "role_update", "role_delete")),
        "UPDATE scm_meta SET value = '4' WHERE key = 'schema_version'",
        "UPDATE scm_meta SET value = '4:old' WHERE key = 'mapping_fingerprint'",
    )
    load(db, [make_person("3", NickName="Derde"), make_person("6")])
    assert rows(db, "SELECT value FROM scm_meta WHERE key = 'schema_version'") == [{"value": str(SCHEMA_VERSION)}]
    assert "exported_persons" not in {r["name"] for r in rows(db, "SELECT name FROM sqlite_master")}
    diff = export(db, tmp_path / "out", "--json").json["diff"]
    assert diff["joiners"] == [{"key": "6", "username": "user6"}] and diff["leavers"] == []
    assert diff["changed"] == [
        {"key": "3", "username": "user3", "fields": {"voornaam": {"before": "Test", "after": "Derde"}}}
    ]
    assert diff["rolesAdded"] == [{"person": "6", "ou": "Afdeling 1", "gebruikersnaam": "user6", "functiecode": "FP-1"}]
    assert diff["rolesRemoved"] == []
