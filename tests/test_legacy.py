"""Switching from the old PowerShell connector: its database adopted, then HelloID goes on.

HelloID keeps the account reference the old connector returned (the username) and never runs
create again for those accounts; after `adopt` every later action must still find the person.
`compare` shows, before going live, what a mapping would change for them; `reconcile` holds the
store against Spend Cloud's own user list; `accounts` lists what HelloID's import reads.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
import sqlite3
from contextlib import closing

import pytest

from conftest import DEFAULT_MAPPING, ROOT, derived_mapping, rows, run_cli
from powershell_connector import (
    ANOUK,
    BRAM,
    BRAM_OLD,
    CAS,
    JAN,
    KEES_OLD,
    RIA_OLD,
    SEAN,
    customer_202,
    customer_205,
)

LEGACY = ROOT / "mappings" / "spendcloud-legacy.yaml"


def helloid(person, reference, dry_run=False):
    """An action context as HelloID hands it to an account script (the scripts pass it on as it is)."""
    return json.dumps(
        {
            "actionContext": {
                "Configuration": {"databasePath": "C:\\HelloID\\SpendCloud\\data\\spendcloud.db"},
                "DryRun": dry_run,
                "AccountCorrelated": False,
                "References": {"Account": reference},
                "Data": {},
            },
            "personContext": {"Person": person},
        }
    )


def apply(db, action, event, mapping=DEFAULT_MAPPING):
    return run_cli("apply", "--mapping", mapping, "--db", db, "--action", action, "-", input=event)


@pytest.fixture
def adopted(tmp_path):
    """The 2.0.5 customer's database (apostrophes, a retried create, a soft delete) adopted."""
    db = tmp_path / "scmapper.db"
    result = run_cli("adopt", "--mapping", DEFAULT_MAPPING, "--db", db, customer_205(tmp_path / "SpendCloud.db"))
    assert result.code == 0, result.out
    assert "Adopted 5 persons (1 inactive) and 6 roles; 5 old references kept as aliases." in result.out
    return db


def test_helloid_actions_with_the_old_username_reference_reach_the_right_person(adopted):
    moved = copy.deepcopy(JAN[0])
    moved["Contracts"][0]["Department"] = {"ExternalId": "OE-PO", "DisplayName": "Personeel & Organisatie"}
    update = apply(adopted, "update", helloid(moved, "jjansen"))
    assert update.code == 0, update.out
    result = update.json
    assert result["success"] is True and result["accountReference"] == "100801"
    assert result["auditLogs"][0]["message"] == "Reference 'jjansen' is an alias of account '100801'"
    assert rows(adopted, "SELECT ou FROM roles WHERE scm_ref = '100801'") == [{"ou": "Personeel & Organisatie"}]

    disable = apply(adopted, "disable", helloid(SEAN[0], "sobrien"))
    assert disable.code == 0 and disable.json["accountReference"] == "100517"
    delete = apply(adopted, "delete", helloid(CAS[0], "choff"))
    assert delete.code == 0 and delete.json["accountReference"] == "100482"
    states = rows(adopted, "SELECT scm_ref, scm_active, scm_deleted_at IS NOT NULL AS deleted FROM persons ORDER BY 1")
    assert states == [
        {"scm_ref": "100482", "scm_active": 0, "deleted": 1},
        {"scm_ref": "100517", "scm_active": 0, "deleted": 0},
        {"scm_ref": "100733", "scm_active": 0, "deleted": 0},
        {"scm_ref": "100801", "scm_active": 1, "deleted": 0},
        {"scm_ref": "100900", "scm_active": 1, "deleted": 0},
    ]
    # The audit log files every action under the stable reference.
    logged = rows(adopted, "SELECT action, account_ref FROM events WHERE action <> 'AdoptAccount' ORDER BY id")
    assert logged == [
        {"action": "UpdateAccount", "account_ref": "100801"},
        {"action": "DisableAccount", "account_ref": "100517"},
        {"action": "DeleteAccount", "account_ref": "100482"},
    ]


def test_a_rename_keeps_the_old_reference_working(adopted):
    renamed = copy.deepcopy(BRAM[0])
    renamed["Accounts"]["MicrosoftActiveDirectory"]["sAMAccountName"] = "bvdboele"
    update = apply(adopted, "update", helloid(renamed, "bboele"))
    assert update.code == 0 and update.json["accountReference"] == "100900"
    assert rows(adopted, "SELECT gebruikersnaam FROM persons WHERE scm_ref = '100900'") == [
        {"gebruikersnaam": "bvdboele"}
    ]
    disable = apply(adopted, "disable", helloid(renamed, "bboele"))
    assert disable.code == 0 and disable.json["accountReference"] == "100900"
    enable = apply(adopted, "enable", helloid(renamed, "bboele"))
    assert enable.code == 0 and rows(adopted, "SELECT scm_active FROM persons WHERE scm_ref = '100900'") == [
        {"scm_active": 1}
    ]


def test_dry_run_by_alias_previews_and_writes_nothing(adopted):
    before = hashlib.sha256(adopted.read_bytes()).hexdigest()
    preview = apply(adopted, "delete", helloid(JAN[0], "jjansen", dry_run=True))
    assert preview.code == 0 and preview.json["accountReference"] == "100801"
    assert preview.json["auditLogs"][-1]["message"].startswith("[DryRun] Deleted account '100801'")
    assert hashlib.sha256(adopted.read_bytes()).hexdigest() == before


def test_an_unknown_reference_still_fails_clearly(adopted):
    result = apply(adopted, "update", helloid(JAN[0], "nobody"))
    assert result.code == 1
    assert result.json["auditLogs"][0]["message"] == "cannot update: no account with reference 'nobody'"


def test_an_alias_is_never_another_persons_reference(adopted):
    newcomer = copy.deepcopy(KEES_OLD[0])
    newcomer["ExternalId"] = "jjansen"  # an employee number that is someone's old reference
    create = run_cli(
        "apply",
        "--mapping",
        DEFAULT_MAPPING,
        "--db",
        adopted,
        "-",
        input=json.dumps({"action": "create", "person": newcomer}),
    )
    assert create.code == 1
    assert "'jjansen' is an alias of account '100801' (its old reference)" in create.json["auditLogs"][0]["message"]
    conn = sqlite3.connect(adopted)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="names one account for good"):
            conn.execute("UPDATE scm_aliases SET scm_ref = '100900' WHERE alias = 'jjansen'")
        with pytest.raises(sqlite3.IntegrityError, match="names one account for good"):
            conn.execute("DELETE FROM scm_aliases WHERE alias = 'jjansen'")
        with pytest.raises(sqlite3.IntegrityError, match="the alias is the reference of another account"):
            conn.execute("INSERT INTO scm_aliases VALUES ('100900', '100801', 'test', 't')")
        with pytest.raises(sqlite3.IntegrityError):  # an alias names one account only
            conn.execute("INSERT INTO scm_aliases VALUES ('jjansen', '100900', 'test', 't')")
    finally:
        conn.close()


def test_an_old_reference_that_is_another_persons_key_is_an_error(tmp_path):
    from powershell_connector import OldDatabase

    old = OldDatabase(tmp_path / "SpendCloud.db", "2.0.5")
    old.create(JAN[1], "2024-11-01 09:00:00")
    clash = copy.deepcopy(KEES_OLD[1])
    clash.gebruikersnaam = "100801"  # a username that is Jan's employee number
    old.create(clash, "2024-11-02 09:00:00")
    refused = run_cli("adopt", "--mapping", DEFAULT_MAPPING, "--db", tmp_path / "new.db", old.close(), "--json")
    assert refused.code == 1
    assert refused.json["errors"] == [
        "the old reference '100801' of person '100950' is also the externalId of person '100801':"
        " HelloID's reference would be ambiguous; with --force it is not kept as an alias"
    ]
    forced = run_cli("adopt", "--mapping", DEFAULT_MAPPING, "--db", tmp_path / "new.db", old.path, "--force")
    assert forced.code == 0
    assert rows(tmp_path / "new.db", "SELECT alias, scm_ref FROM scm_aliases") == [
        {"alias": "jjansen", "scm_ref": "100801"}
    ]


def test_an_adopted_database_without_function_codes_exports(tmp_path):
    """The SuccessFactors connector never fills functiecode; the roles file requires only
    the username and the unit by default."""
    from powershell_connector import OldDatabase

    old = OldDatabase(tmp_path / "SpendCloud.db", "2.0.5")
    for day, (_, account) in enumerate((JAN, BRAM), start=1):
        old.create(account, f"2024-11-0{day} 09:00:00")
    db = old.close()
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE roles SET functiecode = ''")
    new = tmp_path / "new.db"
    assert run_cli("adopt", "--mapping", DEFAULT_MAPPING, "--db", new, db).code == 0
    result = run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", new, "--out", tmp_path / "out")
    assert result.code == 0, result.out
    assert (tmp_path / "out" / "Roles.csv").read_text("utf-8-sig").splitlines()[
        1
    ] == '"Sociale Zaken; Werk & Inkomen","jjansen",""'


# --- compare ---------------------------------------------------------------------------------


def events_file(tmp_path, people):
    path = tmp_path / "events.jsonl"
    path.write_text("".join(helloid(person, account.gebruikersnaam) + "\n" for person, account in people), "utf-8")
    return path


def legacy_mapping(tmp_path, append_prefix, function_code):
    """spendcloud-legacy.yaml with its settings changed, as an implementer changes them."""
    folder = tmp_path / "mappings"
    shutil.copytree(ROOT / "mappings" / "shared", folder / "shared", dirs_exist_ok=True)
    text = LEGACY.read_text("utf-8")
    text = text.replace('append_prefix: "false"', f'append_prefix: "{append_prefix}"')
    text = text.replace("function_code: \"'ExternalId'\"", f"function_code: \"'{function_code}'\"")
    path = folder / f"legacy-{append_prefix}-{function_code}.yaml"
    path.write_text(text, "utf-8")
    return path


def compare(db, mapping, *events, json_out=True):
    return run_cli("compare", "--mapping", mapping, "--db", db, *events, *(["--json"] if json_out else []))


def test_compare_with_the_legacy_mapping_finds_nothing_to_change(adopted, tmp_path):
    events = events_file(tmp_path, [JAN, CAS, SEAN, BRAM, ANOUK])
    before = hashlib.sha256(adopted.read_bytes()).hexdigest()
    result = compare(adopted, LEGACY, events)
    assert result.code == 0, result.out
    assert (result.json["compared"], result.json["changed"], result.json["columns"]) == (5, 0, {})
    assert hashlib.sha256(adopted.read_bytes()).hexdigest() == before  # nothing written, nothing migrated
    text = compare(adopted, LEGACY, events, json_out=False).out
    assert "No differences: going live with this mapping changes nothing in Spend Cloud for them." in text


def test_compare_on_an_older_customer_lists_the_prefix_and_function_code_differences(tmp_path):
    db = tmp_path / "scmapper.db"
    adopt = run_cli("adopt", "--mapping", DEFAULT_MAPPING, "--db", db, customer_202(tmp_path / "SpendCloud.db"))
    assert adopt.code == 0, adopt.out
    events = events_file(tmp_path, [RIA_OLD, BRAM_OLD, JAN, KEES_OLD])

    default = compare(db, DEFAULT_MAPPING, events)
    assert default.code == 1
    assert default.json["columns"] == {"achternaam": 2, "roles.functiecode": 4}
    changed = {p["account"]: p["differences"] for p in default.json["persons"]}
    assert changed["100920"] == [
        {"column": "achternaam", "stored": "Vries - van den Berg de", "mapped": "Vries - van den Berg"},
        {"column": "roles[0].functiecode", "stored": "HR3", "mapped": "FP-HR-03"},
    ]
    assert changed["100801"] == [{"column": "roles[0].functiecode", "stored": "SZW4", "mapped": "FP-SZW-04"}]
    text = compare(db, DEFAULT_MAPPING, events, json_out=False).out
    assert "4 events: 4 persons compared with" in text and "0 unchanged, 4 would change in Spend Cloud" in text
    assert "Differences per column: achternaam 2, roles.functiecode 4" in text
    assert "  achternaam: 'Boele van den' -> 'Boele'" in text

    assert compare(db, legacy_mapping(tmp_path, "false", "ExternalId"), events).json["columns"] == {
        "achternaam": 2,
        "roles.functiecode": 4,
    }
    matching = compare(db, legacy_mapping(tmp_path, "true", "Code"), events)
    assert matching.code == 0 and matching.json["changed"] == 0 and matching.json["compared"] == 4


def test_compare_reports_events_it_cannot_compare(adopted, tmp_path):
    stranger = copy.deepcopy(KEES_OLD[0])
    broken = copy.deepcopy(JAN[0])
    broken["Accounts"]["MicrosoftActiveDirectory"]["sAMAccountName"] = ""
    events = tmp_path / "mixed.jsonl"
    lines = [
        helloid(stranger, None),
        helloid(broken, "jjansen"),
        "{not json",
        json.dumps({"action": "delete", "accountReference": "choff"}),
    ]
    events.write_text("\n".join(lines) + "\n", "utf-8")
    result = compare(adopted, LEGACY, events)
    assert result.code == 1
    assert result.json["missing"] == [
        {"origin": f"{events}:1", "key": "100950", "reason": "no account with externalId '100950'"}
    ]
    assert [f["origin"] for f in result.json["failed"]] == [f"{events}:2", f"{events}:3"]
    assert "required column 'gebruikersnaam' is empty" in result.json["failed"][0]["reason"]
    assert result.json["skipped"] == [{"origin": f"{events}:4"}]


def test_compare_takes_bare_persons_and_arrays_too(adopted, tmp_path):
    """HelloID's person preview gives a bare person: found by its key, not a reference."""
    people = tmp_path / "persons.json"
    people.write_text(json.dumps([JAN[0], CAS[0]]), "utf-8")
    one = tmp_path / "one.json"
    one.write_text(json.dumps({"personContext": {"Person": BRAM[0]}, "actionContext": {}}), "utf-8")
    result = compare(adopted, LEGACY, people, one)
    assert result.code == 0, result.out
    assert (result.json["events"], result.json["compared"], result.json["changed"]) == (3, 3, 0)
    changed = copy.deepcopy(JAN[0])
    changed["Name"]["NickName"] = "Johannes"
    people.write_text(json.dumps([changed]), "utf-8")
    found = compare(adopted, LEGACY, people).json
    assert found["persons"] == [
        {
            "origin": f"{people}#1",
            "reference": None,
            "account": "100801",
            "differences": [{"column": "voornaam", "stored": "Jan", "mapped": "Johannes"}],
        }
    ]


def test_compare_needs_a_database_it_can_read_as_it_is(tmp_path):
    missing = compare(tmp_path / "nope.db", LEGACY, tmp_path / "e.json")
    assert missing.code == 2 and "database" in missing.err and "does not exist" in missing.err
    old = customer_205(tmp_path / "SpendCloud.db")
    before = hashlib.sha256(old.read_bytes()).hexdigest()
    not_ours = compare(old, LEGACY, tmp_path / "e.json")
    assert not_ours.code == 2 and "run `scmapper adopt`" in not_ours.err
    assert hashlib.sha256(old.read_bytes()).hexdigest() == before


# --- reconcile -------------------------------------------------------------------------------

SPENDCLOUD_USERS = """\ufeffGebruikersnaam;E-mailadres;Personeelsnummer;Actief
choff;cas.vanthoff@gemeente-voorbeeld.nl;100482;Ja
SOBRIEN;sean.obrien@gemeente-voorbeeld.nl;100517;Ja
adancona;anouk.dancona@gemeente-voorbeeld.nl;100733;Nee
jjansen;johan.jansen@gemeente-voorbeeld.nl;200117;Ja
pkoster;p.koster@gemeente-voorbeeld.nl;;Ja
bvdboele;bram.vandenboele@gemeente-voorbeeld.nl;;Nee
"""


def reconcile_mapping(tmp_path, **override):
    section = {
        "columns": {"gebruikersnaam": "Gebruikersnaam", "email": "E-mailadres", "externalId": "Personeelsnummer"},
        "active": {"column": "Actief", "values": ["Ja"]},
        **override,
    }
    return derived_mapping(tmp_path / "reconcile.yaml", lambda m: m.update(reconcile=section))


def test_reconcile_finds_hand_made_users_and_values_spend_cloud_would_refuse(adopted, tmp_path):
    users = tmp_path / "users.csv"
    users.write_text(SPENDCLOUD_USERS, "utf-8")
    mapping = reconcile_mapping(tmp_path)
    result = run_cli("reconcile", "--mapping", mapping, "--db", adopted, "--spendcloud", users, "--json")
    assert result.code == 1, result.err
    found = result.json
    assert found["counts"] == {
        "linked": 2,
        "onlyInSpendCloud": 2,
        "onlyHere": 1,
        "heldByAnotherUser": 1,
        "usernameOfAnotherPerson": 1,
    }
    assert [(p["key"], p["username"]) for p in found["linked"]] == [("100482", "choff"), ("100517", "sobrien")]
    assert [u["gebruikersnaam"] for u in found["onlyInSpendCloud"]] == ["pkoster", "bvdboele"]
    assert found["onlyHere"] == [{"key": "100900", "username": "bboele"}]
    assert found["heldByAnotherUser"] == [
        {
            "key": "100900",
            "column": "email",
            "value": "bram.vandenboele@gemeente-voorbeeld.nl",
            "heldBy": "bvdboele",
            "heldByActive": False,
            "line": 7,
        }
    ]
    taken = found["usernameOfAnotherPerson"]
    assert [(t["key"], t["username"], t["line"]) for t in taken] == [("100801", "jjansen", 5)]
    assert taken[0]["why"] == "its externalId is '200117', this person's '100801'"

    text = run_cli("reconcile", "--mapping", mapping, "--db", adopted, "--spendcloud", users).out
    assert "6 Spend Cloud users against 4 active persons here: 2 linked, 2 only in Spend Cloud, 1 only here" in text
    assert (
        "person '100900': email 'bram.vandenboele@gemeente-voorbeeld.nl' is held by Spend Cloud user 'bvdboele'"
        " (inactive, line 7)" in text
    )


def test_reconcile_without_the_key_column_tells_persons_apart_by_email(adopted, tmp_path):
    users = tmp_path / "users.csv"
    users.write_text(SPENDCLOUD_USERS, "utf-8")
    mapping = reconcile_mapping(tmp_path, columns={"gebruikersnaam": "gebruikersnaam", "email": "e-mailadres"})
    found = run_cli("reconcile", "--mapping", mapping, "--db", adopted, "--spendcloud", users, "--json").json
    assert found["usernameOfAnotherPerson"][0]["why"] == (
        "its email is 'johan.jansen@gemeente-voorbeeld.nl', this person's 'jan.jansen@gemeente-voorbeeld.nl'"
    )


def test_reconcile_says_what_is_missing(adopted, tmp_path):
    users = tmp_path / "users.csv"
    users.write_text("Login,Mail\njjansen,jan.jansen@gemeente-voorbeeld.nl\n", "utf-8")
    result = run_cli("reconcile", "--mapping", reconcile_mapping(tmp_path), "--db", adopted, "--spendcloud", users)
    assert result.code == 2
    assert (
        "users.csv:1: no column 'Gebruikersnaam', 'E-mailadres', 'Personeelsnummer', 'Actief' in the header"
        in result.err
    )
    plain = run_cli("reconcile", "--mapping", DEFAULT_MAPPING, "--db", adopted, "--spendcloud", users)
    assert plain.code == 2 and "has no reconcile section: add reconcile.columns" in plain.err
    bad = derived_mapping(tmp_path / "bad.yaml", lambda m: m.update(reconcile={"columns": {"email": "Mail"}}))
    invalid = run_cli("validate", bad)
    assert invalid.code == 1
    assert "reconcile.columns must name the username column (gebruikersnaam): users are linked by it" in invalid.out


# --- accounts (HelloID's account import) -------------------------------------------------------


def test_accounts_lists_what_helloids_import_reads(adopted):
    assert apply(adopted, "delete", helloid(CAS[0], "choff")).code == 0
    result = run_cli("accounts", "--mapping", DEFAULT_MAPPING, "--db", adopted, "--json-lines")
    assert result.code == 0
    accounts = [json.loads(line) for line in result.out.splitlines()]
    # Listed under the reference HelloID holds: the old connector's, until HelloID moves.
    assert [(a["accountReference"], a["reference"], a["enabled"], a["aliases"]) for a in accounts] == [
        ("sobrien", "100517", True, ["sobrien"]),
        ("adancona", "100733", False, ["adancona"]),
        ("jjansen", "100801", True, ["jjansen"]),
        ("bboele", "100900", True, ["bboele"]),
    ]  # the deleted account is gone
    assert accounts[0]["userName"] == "sobrien" and accounts[0]["displayName"] == "Seán O'Brien"
    assert accounts[3]["displayName"] == "Bram van den Boele" and accounts[3]["data"]["email"] == BRAM[1].email
    assert set(accounts[0]["data"]) == {"externalId", "voornaam", "tussenvoegsel", "achternaam", "gebruikersnaam",
                                        "geslacht", "email"}  # every column, empty where unknown
    text = run_cli("accounts", "--mapping", DEFAULT_MAPPING, "--db", adopted).out
    assert "bboele\tenabled\tbboele\tBram van den Boele\t(HelloID's reference; scmapper's is 100900)" in text
    assert text.endswith("4 accounts\n")
    # An update addressed by the alias keeps it; one by scmapper's own reference moves HelloID to it.
    assert apply(adopted, "update", helloid(BRAM[0], "bboele")).code == 0
    assert _reference_of(adopted, "100900") == "bboele"
    assert apply(adopted, "update", helloid(BRAM[0], "100900")).code == 0
    assert _reference_of(adopted, "100900") == "100900"


def _reference_of(db, ref):
    listed = run_cli("accounts", "--mapping", DEFAULT_MAPPING, "--db", db, "--json")
    return next(a["accountReference"] for a in listed.json["accounts"] if a["reference"] == ref)


# --- the legacy mapping's own cases ----------------------------------------------------------


def test_the_legacy_mapping_passes_its_cases_under_every_setting():
    result = run_cli("test", LEGACY, "--json")
    assert result.code == 0, [c for c in result.json["cases"] if not c["passed"]]
    names = [c["name"] for c in result.json["cases"]]
    assert len(names) >= 20
    assert any(n.startswith("current:") for n in names) and any(n.startswith("2.0.0-2.0.2:") for n in names)
    assert any(n.startswith("April 2024:") for n in names)


def test_a_case_may_set_vars_the_mapping_has_and_no_others(tmp_path):
    shutil.copytree(ROOT / "mappings" / "shared", tmp_path / "shared")
    shutil.copy(LEGACY, tmp_path / "legacy.yaml")
    person = copy.deepcopy(BRAM[0])
    cases = {
        "version": 1,
        "cases": [
            {"name": "appended", "vars": {"append_prefix": "true"}, "record": person,
             "expect": {"person": {"achternaam": "Boele van den"}}},
            {"name": "default", "record": person, "expect": {"person": {"achternaam": "Boele"}}},
            {"name": "typo", "vars": {"append_prefx": "true"}, "record": person,
             "expect": {"person": {"achternaam": "Boele"}}},
        ],
    }  # fmt: skip
    (tmp_path / "legacy.tests.yaml").write_text(json.dumps(cases), "utf-8")
    result = run_cli("test", tmp_path / "legacy.yaml", "--json")
    assert result.code == 1
    assert [(c["name"], c["differences"]) for c in result.json["cases"]] == [
        ("appended", []),
        ("default", []),
        ("typo", ["vars: the mapping has no var 'append_prefx'"]),
    ]


def test_the_walkthrough_samples_are_the_2_0_2_customer_of_these_tests(tmp_path):
    """docs/implementers.md builds its old database and events from mappings/samples/old-connector/."""
    samples = ROOT / "mappings" / "samples" / "old-connector"
    built = tmp_path / "from-sql.db"
    sqlite3.connect(built).executescript((samples / "SpendCloud.sql").read_text("utf-8")).connection.close()
    replayed = customer_202(tmp_path / "replayed.db")
    for table in ("persons", "roles"):
        assert rows(built, f"SELECT * FROM {table} ORDER BY rowid") == rows(
            replayed, f"SELECT * FROM {table} ORDER BY rowid"
        )
    expected = [helloid(p, a.gebruikersnaam) for p, a in (RIA_OLD, BRAM_OLD, JAN, KEES_OLD)]
    assert (samples / "events.jsonl").read_text("utf-8").splitlines() == expected
