"""`scmapper sync` through the real CLI, on HelloID-shaped persons with the default mapping."""

import json

import pytest

from conftest import DEFAULT_MAPPING, count, derived_mapping, make_person, native, open_store, rows, run_cli


def snapshot(tmp_path, people, name="snap.json", shape="list"):
    path = tmp_path / name
    if shape == "jsonl":
        path.write_text("\n".join(json.dumps(p) for p in people) + "\n", "utf-8")
    elif shape == "odata":
        path.write_text(json.dumps({"d": {"results": people}}), "utf-8")
    else:
        path.write_text(json.dumps(people), "utf-8")
    return path


def sync(db, *sources, mapping=DEFAULT_MAPPING, extra=()):
    return run_cli("sync", "--mapping", mapping, "--db", db, "--source", *sources, "--json", *extra)


def people(n, start=1):
    return [make_person(str(i)) for i in range(start, start + n)]


@pytest.mark.parametrize("shape", ["list", "jsonl", "odata"])
def test_first_sync_creates_everyone(db, tmp_path, shape):
    result = sync(db, snapshot(tmp_path, people(5), shape=shape))
    assert result.code == 0
    assert result.json["counts"]["created"] == 5 and result.json["status"] == "applied"
    assert count(db, "persons") == 5 and count(db, "roles") == 5
    assert all(e["message"].startswith("[sync] ") for e in rows(db, "SELECT message FROM events"))


def test_changes_joiners_and_leavers(db, tmp_path):
    sync(db, snapshot(tmp_path, people(40)))
    changed = people(40)[1:]  # person 1 left
    changed[0]["Name"]["NickName"] = "Anders"  # person 2 changed
    changed.append(make_person("99"))  # a joiner
    result = sync(db, snapshot(tmp_path, changed))
    counts = result.json["counts"]
    assert (counts["created"], counts["updated"], counts["disabled"], counts["unchanged"]) == (1, 1, 1, 38)
    assert rows(db, "SELECT scm_active FROM persons WHERE scm_ref = '1'") == [{"scm_active": 0}]
    assert rows(db, "SELECT voornaam FROM persons WHERE scm_ref = '2'") == [{"voornaam": "Anders"}]
    back = sync(db, snapshot(tmp_path, people(40)))  # person 1 returns, 99 leaves
    assert back.json["counts"]["enabled"] == 1 and back.json["counts"]["disabled"] == 1


def test_second_sync_changes_nothing_and_says_so(db, tmp_path):
    source = snapshot(tmp_path, people(3))
    sync(db, source)
    events = count(db, "events")
    text = run_cli("sync", "--mapping", DEFAULT_MAPPING, "--db", db, "--source", source)
    assert text.code == 0 and "Nothing changed." in text.out
    assert count(db, "events") == events


def test_a_record_that_fails_mapping_is_reported_and_its_person_kept(db, tmp_path):
    sync(db, snapshot(tmp_path, people(3)))
    broken = people(3)
    broken[1]["Accounts"]["MicrosoftActiveDirectory"]["sAMAccountName"] = None
    broken[2]["Name"]["NickName"] = "Nieuw"
    result = sync(db, snapshot(tmp_path, broken))
    assert result.code == 1
    assert result.json["failures"] == [
        {"origin": "snap.json#2", "key": "2", "reason": "person '2': required column 'gebruikersnaam' is empty"}
    ]
    assert result.json["counts"]["updated"] == 1 and result.json["counts"]["disabled"] == 0
    assert rows(db, "SELECT scm_active, gebruikersnaam FROM persons WHERE scm_ref = '2'") == [
        {"scm_active": 1, "gebruikersnaam": "user2"}
    ]


def test_duplicate_keys_in_a_snapshot(db, tmp_path):
    result = sync(db, snapshot(tmp_path, [make_person("1"), make_person("1")]))
    assert result.code == 1
    assert result.json["failures"][0]["reason"] == "duplicate key: snap.json#1 has it too"
    assert count(db, "persons") == 1


def test_inactive_records_without_a_key_are_skipped_not_taken_for_duplicates(db, tmp_path):
    # A directory holds service accounts without an employee id; a contract-less HR record is alike.
    keyless = [make_person(""), make_person("")]
    for person in keyless:
        person["Contracts"] = []
    result = sync(db, snapshot(tmp_path, [make_person("1"), *keyless]))
    assert result.code == 0, result.json["failures"]
    assert (result.json["counts"]["created"], result.json["counts"]["skipped"]) == (1, 2)


def test_truncated_snapshot_is_refused_as_a_whole(db, tmp_path):
    sync(db, snapshot(tmp_path, people(100)))
    before = rows(db, "SELECT * FROM persons ORDER BY scm_ref")
    events = count(db, "events")
    half = people(50)
    half[0]["Name"]["NickName"] = "Changed"  # even the good changes wait
    result = sync(db, snapshot(tmp_path, half))
    assert result.code == 1 and result.json["status"] == "refused"
    assert result.json["threshold"]["removed"] == 50 and result.json["threshold"]["tripped"] is True
    assert "--force applies the snapshot anyway" in result.json["hint"] and "--dry-run" in result.json["hint"]
    assert rows(db, "SELECT * FROM persons ORDER BY scm_ref") == before
    # the refusal is logged, and is all that is written
    assert count(db, "events") == events + 1
    [logged] = rows(db, "SELECT action, success, message FROM events ORDER BY id DESC LIMIT 1")
    assert (logged["action"], logged["success"]) == ("SyncRefused", 0)
    assert logged["message"].startswith("Snapshot refused, nothing written: threshold removed_persons: 50 of 100")
    text = run_cli("sync", "--mapping", DEFAULT_MAPPING, "--db", db, "--source", tmp_path / "snap.json").out
    assert "REFUSED, nothing written: threshold" in text and "--force applies the snapshot anyway" in text
    forced = sync(db, snapshot(tmp_path, half), extra=("--force",))
    assert forced.code == 0 and forced.json["forced"] is True and forced.json["counts"]["disabled"] == 50


def test_the_percent_rule_waits_for_its_minimum_number_of_removals(db, tmp_path):
    sync(db, snapshot(tmp_path, people(10)))
    two = sync(db, snapshot(tmp_path, people(8, start=3)))  # 2 of 10 leave: 20% >= 5%, but 2 < 3
    assert two.code == 0 and two.json["threshold"]["tripped"] is False
    assert two.json["threshold"]["limit"]["minimum"] == 3
    three = sync(db, snapshot(tmp_path, people(5, start=6)))  # 3 of 8 more
    assert three.code == 1 and three.json["threshold"]["tripped"] is True


def test_dry_run_writes_nothing(db, tmp_path):
    source = snapshot(tmp_path, people(4))
    dry = sync(db, source, extra=("--dry-run",))
    assert dry.code == 0 and dry.json["status"] == "checked" and dry.json["counts"]["created"] == 4
    assert not db.exists()
    sync(db, source)
    dry_again = sync(db, snapshot(tmp_path, people(3)), extra=("--dry-run",))
    assert dry_again.json["counts"]["disabled"] == 1
    assert rows(db, "SELECT count(*) AS n FROM persons WHERE scm_active = 1") == [{"n": 4}]


def test_missing_can_delete(db, tmp_path):
    mapping = derived_mapping(tmp_path / "m.yaml", lambda m: m["lifecycle"].update(missing="delete"))
    sync(db, snapshot(tmp_path, people(30)), mapping=mapping)
    result = sync(db, snapshot(tmp_path, people(29)), mapping=mapping)
    assert result.json["counts"]["deleted"] == 1
    assert rows(db, "SELECT scm_deleted_at IS NOT NULL AS gone FROM persons WHERE scm_ref = '30'") == [{"gone": 1}]


def test_several_source_files_make_one_snapshot(db, tmp_path):
    result = sync(db, snapshot(tmp_path, people(2), "a.json"), snapshot(tmp_path, people(2, 3), "b.jsonl", "jsonl"))
    assert result.json["counts"]["created"] == 4


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{nope", "not valid JSON"),
        ('{"x": 1}', "no list of records found; name its path with records"),
        ("[1, 2]", "record 1 is not a JSON object"),
    ],
)
def test_unreadable_snapshots_exit_2_and_write_nothing(db, tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = run_cli("sync", "--mapping", DEFAULT_MAPPING, "--db", db, "--source", path)
    assert result.code == 2 and message in result.err and "Traceback" not in result.err
    assert count(db, "persons") == 0


# --- fingerprints: unchanged records are not mapped again ------------------------------------


def in_process(tmp_path, people_list, day="2026-06-01", counter=None):
    from datetime import date

    from scmapper.lifecycle.sync import run_sync
    from scmapper.mapping.loading import load_rules
    from scmapper.sources.records import Record

    rules = load_rules(DEFAULT_MAPPING)
    if counter is not None:
        original = rules.map_person

        def counting(*args, **kwargs):
            counter.append(args[0].get("ExternalId"))
            return original(*args, **kwargs)

        rules.map_person = counting
    m = rules.mapping
    store = open_store(tmp_path / "fp.db", m)
    records = [Record(p, f"r#{i}") for i, p in enumerate(people_list)]
    report = run_sync(rules, store, records, dry_run=False, today=date.fromisoformat(day))
    store.close()
    return report


def test_unchanged_records_are_not_mapped_again(tmp_path):
    first = people(30)
    assert in_process(tmp_path, first).counts["created"] == 30
    calls = []
    report = in_process(tmp_path, first, counter=calls)
    assert calls == [] and report.counts["unchanged"] == 30
    changed = people(30)
    changed[4]["Name"]["NickName"] = "Anders"
    calls = []
    report = in_process(tmp_path, changed, counter=calls)
    assert calls == ["5"] and report.counts["updated"] == 1 and report.counts["unchanged"] == 29
    calls = []
    assert in_process(tmp_path, changed, day="2026-06-02", counter=calls).counts["unchanged"] == 30
    assert len(calls) == 30  # a new day can change contract windows: everyone is mapped again


def test_a_change_made_through_apply_is_seen_by_the_next_sync(db, tmp_path):
    source = snapshot(tmp_path, people(3))
    sync(db, source)
    sync(db, source)  # fingerprints stored
    update = make_person("2")
    update["Name"]["NickName"] = "Via HelloID"
    assert (
        run_cli(
            "apply", "--mapping", DEFAULT_MAPPING, "--db", db, "-", input=native("update", update, accountReference="2")
        ).code
        == 0
    )
    result = sync(db, source)
    assert result.json["counts"]["updated"] == 1
    assert rows(db, "SELECT voornaam FROM persons WHERE scm_ref = '2'") == [{"voornaam": "Test"}]


def test_a_failed_update_stores_no_fingerprint(db, tmp_path):
    sync(db, snapshot(tmp_path, people(2)))
    clash = people(2)
    clash[1]["Accounts"]["MicrosoftActiveDirectory"]["sAMAccountName"] = "user1"  # taken by person 1
    assert sync(db, snapshot(tmp_path, clash)).json["counts"]["failed"] == 1
    again = sync(db, snapshot(tmp_path, clash))
    assert again.json["counts"]["failed"] == 1  # tried (and refused) again, not skipped as unchanged


@pytest.mark.parametrize("shape", ["list", "jsonl"])
def test_a_person_out_remembers_the_inactive_record_and_returns_when_it_changes(db, tmp_path, shape):
    """An inactive record whose person is already out is not mapped again while it stays the same."""
    sync(db, snapshot(tmp_path, people(40), shape=shape))  # 1 of 40 stays under the removal threshold
    team = people(40)
    team[1]["Contracts"][0]["Context"]["InConditions"] = False  # person 2: no qualifying contract
    first = sync(db, snapshot(tmp_path, team, shape=shape))
    assert first.json["counts"]["disabled"] == 1
    assert rows(db, "SELECT scm_source IS NOT NULL AS known FROM persons WHERE scm_ref = '2'") == [{"known": 1}]
    again = sync(db, snapshot(tmp_path, team, shape=shape)).json["counts"]
    assert (again["skipped"], again["unchanged"], again["disabled"], again["enabled"]) == (1, 39, 0, 0)
    team[1]["Contracts"][0]["Context"]["InConditions"] = True
    back = sync(db, snapshot(tmp_path, team, shape=shape)).json["counts"]
    assert back["enabled"] == 1
    assert rows(db, "SELECT scm_active FROM persons WHERE scm_ref = '2'") == [{"scm_active": 1}]


@pytest.mark.parametrize(
    ("third", "message"),
    [
        (lambda line: line[:-1], ":2 is not valid JSON: "),
        (lambda line: line.replace(b'"Test"', b'"T\xffst"', 1), ":2 is not valid UTF-8"),
        (lambda line: b"[" + line + b"]", ":2 is not a JSON object"),
        (lambda line: line.replace(b'"Test"', b"NaN", 1), ":2 holds NaN, which is not a JSON value"),
        (lambda line: line.replace(b'"Test"', b"9" * 5000, 1), ":2 holds a number with more than 4300 digits"),
        (lambda line: line.replace(b'"Test"', b"1e400", 1), ":2 holds a number too large to read"),
    ],
    ids=["cut short", "not utf-8", "not an object", "NaN", "5000 digits", "1e400"],
)
def test_json_lines_are_read_one_by_one_and_a_broken_line_fails_alone(db, tmp_path, third, message):
    """A line that is no record fails that record, named by file and line; the others are
    applied, and since nobody knows whose record it was, nobody is taken out this run."""
    path = tmp_path / "snap.jsonl"
    lines = [json.dumps(p).encode() for p in people(3)]
    assert sync(db, snapshot(tmp_path, people(3), shape="jsonl")).code == 0
    lines[2] = third(lines[2])
    lines[1] = json.dumps({**people(3)[1], "Name": {**people(3)[1]["Name"], "NickName": "Later"}}).encode()
    path.write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines[1:]) + b"\n")  # person 1 is missing; a BOM is fine
    result = run_cli("sync", "--mapping", DEFAULT_MAPPING, "--db", db, "--source", path, "--json")
    assert result.code == 1, result.out
    report = result.json
    assert report["counts"]["updated"] == 1 and report["counts"]["failed"] == 1 and report["counts"]["disabled"] == 0
    [failure] = report["failures"]
    assert failure["key"] is None and f"snap.jsonl{message}" in failure["reason"]
    assert "not disabled this run" in report["warnings"][0]
    assert rows(db, "SELECT count(*) AS n FROM persons WHERE scm_active = 1") == [{"n": 3}]


def test_a_broken_document_over_many_lines_is_named_as_one_not_as_json_lines(db, tmp_path):
    """A pretty-printed export with one bad value: its first line is no JSON value on its own,
    so the file is one document and its own error is the one to show."""
    path = tmp_path / "T4E_HelloID_Users_v2.json"
    text = json.dumps({"skip": 0, "take": 3, "rows": people(3)}, indent=2).replace('"Test"', "NaN", 1)
    path.write_text(text)
    result = run_cli("sync", "--mapping", DEFAULT_MAPPING, "--db", db, "--source", path)
    assert (result.code, result.err) == (2, f"scmapper: {path} holds NaN, which is not a JSON value\n")


def changed_snapshot(tmp_path):
    """Forty persons synced; then a snapshot where 2 left, 3 got a new username, 4 a new
    family name and department, and 41 joined."""
    return [
        *people(1),
        make_person("3")
        | {
            "Accounts": {
                "MicrosoftActiveDirectory": {"sAMAccountName": "nieuw3", "userPrincipalName": "user3@example.nl"}
            }
        },
        dict(
            make_person("4", FamilyName="Jansen"),
            Contracts=[
                {
                    "Context": {"InConditions": True},
                    "Department": {"ExternalId": "OE-2", "DisplayName": "Afdeling 2"},
                    "Title": {"ExternalId": "FP-1", "Code": "C1", "Name": "Functie 1"},
                }
            ],
        ),
        *people(36, start=5),
        make_person("41"),
    ]


def test_dry_run_lists_the_changes_with_old_and_new_values(db, tmp_path):
    assert sync(db, snapshot(tmp_path, people(40))).code == 0
    source = snapshot(tmp_path, changed_snapshot(tmp_path), name="next.json")
    before = rows(db, "SELECT * FROM persons ORDER BY scm_ref")
    result = run_cli("sync", "--mapping", DEFAULT_MAPPING, "--db", db, "--source", source, "--dry-run")
    assert result.code == 0
    assert result.out.splitlines() == [
        "Dry run, nothing written: this snapshot would create 1, update 2, enable 0, disable 1, delete 0;"
        " 37 unchanged, 0 skipped (inactive in the source).",
        "Leavers (1):",
        "  2 (user2)",
        "Username changes: Spend Cloud will create a new employee and deactivate the old one (1):",
        "  3: 'user3' -> 'nieuw3'",
        "Changed (2):",
        "  3 (nieuw3): gebruikersnaam 'user3' -> 'nieuw3'",
        "  4 (user4): achternaam 'Person4' -> 'Jansen'",
        "Joiners (1):",
        "  41 (user41)",
        "Roles removed (3):",
        "  person=2, gebruikersnaam=user2, ou=Afdeling 1, functie=Functie 1, oucode=OE-1, functiecode=FP-1",
        "  person=3, gebruikersnaam=user3, ou=Afdeling 1, functie=Functie 1, oucode=OE-1, functiecode=FP-1",
        "  person=4, gebruikersnaam=user4, ou=Afdeling 1, functie=Functie 1, oucode=OE-1, functiecode=FP-1",
        "Roles added (3):",
        "  person=3, gebruikersnaam=nieuw3, ou=Afdeling 1, functie=Functie 1, oucode=OE-1, functiecode=FP-1",
        "  person=4, gebruikersnaam=user4, ou=Afdeling 2, functie=Functie 1, oucode=OE-2, functiecode=FP-1",
        "  person=41, gebruikersnaam=user41, ou=Afdeling 1, functie=Functie 1, oucode=OE-1, functiecode=FP-1",
    ]
    assert rows(db, "SELECT * FROM persons ORDER BY scm_ref") == before
    diff = sync(db, source, extra=("--dry-run",)).json["diff"]
    assert diff["totals"] == {
        "joiners": 1,
        "leavers": 1,
        "changed": 2,
        "usernameChanges": 1,
        "rolesAdded": 3,
        "rolesRemoved": 3,
    }
    assert diff["changed"][1] == {
        "key": "4",
        "username": "user4",
        "fields": {"achternaam": {"before": "Person4", "after": "Jansen"}},
    }


def test_failed_records_read_as_left_alone_not_as_applied(db, tmp_path):
    broken = make_person("2")
    broken["Accounts"]["MicrosoftActiveDirectory"]["sAMAccountName"] = None
    source = snapshot(tmp_path, [make_person("1"), broken])
    result = run_cli("sync", "--mapping", DEFAULT_MAPPING, "--db", db, "--source", source, "--dry-run")
    assert result.code == 1
    assert result.out.splitlines()[:2] == [
        "Dry run, nothing written: this snapshot would create 1, update 0, enable 0, disable 0, delete 0;"
        " 0 unchanged, 0 skipped (inactive in the source); 1 failed and left as they are (listed below).",
        "FAILED snap.json#2 (key 2): person '2': required column 'gebruikersnaam' is empty",
    ]
