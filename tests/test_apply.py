"""`scmapper apply` through the real CLI: the acceptance cases of the core runtime."""

import json
import re
import shutil

import pytest

from conftest import (
    DEFAULT_MAPPING,
    ROOT,
    SAMPLE_EVENT,
    count,
    derived_mapping,
    helloid_event,
    make_person,
    native,
    open_store,
    rows,
    run_cli,
    sample_person,
)


def apply(db, event: str | bytes, *args):
    return run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, *args, "-", input=event)


def person_row(db, ref):
    [row] = rows(db, "SELECT * FROM persons WHERE scm_ref = ?", ref)
    return row


def test_sample_create_event(db):
    result = run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "--action", "create", SAMPLE_EVENT)
    assert result.code == 0, result.err
    out = result.json
    assert out["success"] is True and out["accountReference"] == "100482" and out["accountCorrelated"] is False
    assert out["auditLogs"] == [
        {
            "action": "CreateAccount",
            "message": "Created account '100482' with 2 roles",
            "isError": False,
            "level": "info",
        }
    ]
    row = person_row(db, "100482")
    assert (row["tussenvoegsel"], row["achternaam"]) == ("van 't", "Hoff - Op den Berg")
    assert (row["voornaam"], row["gebruikersnaam"], row["geslacht"]) == ("Cas", "choff", "M")
    roles = rows(db, "SELECT gebruikersnaam, ou, functie, oucode, functiecode FROM roles ORDER BY scm_seq")
    assert roles == [
        {
            "gebruikersnaam": "choff",
            "ou": "Inkoop & Aanbesteding",
            "functie": "Inkoper",
            "oucode": "OE-INK",
            "functiecode": "FP-INK-02",
        },
        {
            "gebruikersnaam": "choff",
            "ou": 'Financiën, "Control" & Audit',
            "functie": "Budgethouder",
            "oucode": "OE-FIN",
            "functiecode": "FP-BUD-01",
        },
    ]
    [event] = rows(db, "SELECT * FROM events")
    assert (event["action"], event["account_ref"], event["success"]) == ("CreateAccount", "100482", 1)
    assert json.loads(event["after"])["person"]["achternaam"] == "Hoff - Op den Berg"
    assert event["before"] is None


def test_dry_run_against_a_new_database_writes_nothing(db):
    result = run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "--action", "create", "--dry-run", SAMPLE_EVENT)
    assert result.code == 0
    assert result.json["dryRun"] is True
    assert result.json["data"]["achternaam"] == "Hoff - Op den Berg"
    assert result.json["auditLogs"][0]["message"].startswith("[DryRun] Created account")
    assert not db.exists()


def test_helloid_dry_run_flag_against_an_existing_database_writes_nothing(db):
    assert apply(db, native("create", make_person("1"))).code == 0
    event = helloid_event()
    event["actionContext"]["DryRun"] = True
    result = apply(db, json.dumps(event), "--action", "create")
    assert result.code == 0 and result.json["dryRun"] is True
    assert (count(db, "persons"), count(db, "roles"), count(db, "events")) == (1, 1, 1)


def test_applying_twice_correlates_instead_of_duplicating(db):
    first = run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "--action", "create", SAMPLE_EVENT)
    second = run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "--action", "create", SAMPLE_EVENT)
    assert (first.code, second.code) == (0, 0)
    assert second.json["accountCorrelated"] is True
    assert [e["action"] for e in second.json["auditLogs"]] == ["CorrelateAccount", "UpdateAccount"]
    assert "up to date" in second.json["auditLogs"][1]["message"]
    assert count(db, "persons") == 1 and count(db, "roles") == 2
    assert count(db, "events") == 1  # nothing changed, so nothing written


def test_rename_then_update_by_account_reference_finds_the_row(db):
    assert apply(db, json.dumps(helloid_event()), "--action", "create").code == 0
    person = sample_person()
    person["Accounts"]["MicrosoftActiveDirectory"]["sAMAccountName"] = "cas.hoff"
    renamed = apply(db, native("update", person, accountReference="100482"))
    assert renamed.code == 0
    assert renamed.json["previousData"]["gebruikersnaam"] == "choff"
    warnings = [e["message"] for e in renamed.json["auditLogs"] if e["level"] == "warning"]
    assert warnings == [
        "Username changed from 'choff' to 'cas.hoff': Spend Cloud will see a new employee and deactivate the old one"
    ]
    person["Name"]["NickName"] = "Casper"
    again = apply(db, native("update", person, accountReference="100482"))
    assert again.code == 0 and again.json["data"]["voornaam"] == "Casper"
    row = person_row(db, "100482")
    assert (row["gebruikersnaam"], row["voornaam"]) == ("cas.hoff", "Casper")
    assert {r["gebruikersnaam"] for r in rows(db, "SELECT gebruikersnaam FROM roles")} == {"cas.hoff"}
    assert count(db, "persons") == 1 and count(db, "events") == 3


@pytest.mark.parametrize(
    ("convention", "prefix", "family"),
    [
        ("B", "van 't", "Hoff"),
        ("P", "Op den", "Berg"),
        ("BP", "van 't", "Hoff - Op den Berg"),
        ("PB", "Op den", "Berg - van 't Hoff"),
        (None, "van 't", "Hoff"),
    ],
)
def test_each_naming_convention(db, convention, prefix, family):
    person = sample_person()
    person["Name"]["Convention"] = convention
    result = apply(db, native("create", person))
    assert result.code == 0
    row = person_row(db, "100482")
    assert (row["tussenvoegsel"], row["achternaam"]) == (prefix, family)


HOSTILE = [
    "van 't",
    "O'Brien",
    "D'Ancona",
    "Van't Slot",
    'Jan "de Man"',
    "'; DROP TABLE persons; --",
    "Robert'); DELETE FROM roles;--",
    "a;b,c",
    "line\nbreak",
    "tab\there",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_apostrophes_quotes_and_sql_in_every_column(db, value):
    person = make_person("300001", FamilyName=value, FamilyNamePrefix=value, NickName=value)
    # A username may not hold a line break or a tab (identity columns refuse control characters).
    username = value if value.isprintable() else "".join(value.split())
    person["Accounts"]["MicrosoftActiveDirectory"] = {
        "sAMAccountName": username,
        "userPrincipalName": "".join(value.split()) + "@x.nl",
    }
    person["Contracts"][0]["Department"] = {"ExternalId": value, "DisplayName": value}
    person["Contracts"][0]["Title"] = {"ExternalId": value, "Name": value}
    result = apply(db, native("create", person))
    assert result.code == 0, result.out
    row = person_row(db, "300001")
    assert row["achternaam"] == value.strip() and row["tussenvoegsel"] == value.strip() and row["voornaam"] == value
    assert row["gebruikersnaam"] == username and row["email"] == "".join(value.split()) + "@x.nl"
    [role] = rows(db, "SELECT * FROM roles")
    assert role["ou"] == role["oucode"] == role["functie"] == role["functiecode"] == value
    assert (count(db, "persons"), count(db, "roles"), count(db, "events")) == (1, 1, 1)


def test_diacritics_are_removed_from_name_columns_only(db):
    person = make_person("300002", FamilyName="Çelik-Müller", FamilyNamePrefix="vän", NickName="Zoë")
    assert apply(db, native("create", person)).code == 0
    row = person_row(db, "300002")
    assert (row["voornaam"], row["tussenvoegsel"], row["achternaam"]) == ("Zoë", "van", "Celik-Muller")


def test_nulls_render_as_empty_text(db):
    person = make_person("300003", NickName=None, GivenName="Piet", FamilyNamePrefix=None)
    person["Details"] = None
    person["Contracts"][0]["Title"] = {"ExternalId": None, "Code": "C9", "Name": None}
    assert apply(db, native("create", person)).code == 0
    row = person_row(db, "300003")
    assert (row["voornaam"], row["tussenvoegsel"], row["geslacht"]) == ("Piet", "", "O")
    [role] = rows(db, "SELECT functie, functiecode FROM roles")
    assert role == {"functie": "", "functiecode": "C9"}
    assert "None" not in json.dumps(rows(db, "SELECT * FROM persons"))


@pytest.mark.parametrize("contracts", [[], None, [{"Context": {"InConditions": False}}]], ids=["empty", "null", "out"])
def test_no_qualifying_contract_gives_zero_roles_and_a_warning(db, contracts):
    person = make_person("300004")
    person["Contracts"] = contracts
    result = apply(db, native("create", person))
    assert result.code == 0
    assert result.json["auditLogs"][1] == {  # a warning of the mapping, filed under the action itself
        "action": "CreateAccount",
        "message": "person '300004' has no qualifying contract, so no roles",
        "isError": False,
        "level": "warning",
    }
    assert (count(db, "persons"), count(db, "roles")) == (1, 0)


def test_identical_role_rows_collapse(db):
    person = make_person("300005")
    person["Contracts"] = person["Contracts"] * 3
    assert apply(db, native("create", person)).code == 0
    assert count(db, "roles") == 1


def test_required_column_empty_fails_and_writes_nothing(db):
    person = make_person("300006")
    person["Accounts"]["MicrosoftActiveDirectory"]["sAMAccountName"] = "  "
    result = apply(db, native("create", person))
    assert result.code == 1
    assert result.json["success"] is False
    assert result.json["auditLogs"][0]["message"] == "person '300006': required column 'gebruikersnaam' is empty"
    assert (count(db, "persons"), count(db, "roles"), count(db, "events")) == (0, 0, 0)


def test_correlation_off_refuses_an_existing_key(db):
    assert apply(db, native("create", make_person("1"))).code == 0
    result = apply(db, native("create", make_person("1"), correlate=False))
    assert result.code == 1
    assert "already exists as account '1' and correlation is off" in result.json["auditLogs"][0]["message"]


def test_helloid_correlation_on_another_account_field(db):
    assert apply(db, native("create", make_person("1"))).code == 0
    event = {
        "actionContext": {
            "CorrelationConfiguration": {
                "enabled": True,
                "accountField": "gebruikersnaam",
                "AccountFieldValue": "user1",
            }
        },
        "personContext": {"person": make_person("1")},
    }
    result = apply(db, json.dumps(event), "--action", "create")
    assert result.code == 0 and result.json["accountCorrelated"] is True
    assert result.json["accountReference"] == "1"


def test_uniqueness_conflict_names_the_other_account(db):
    assert apply(db, native("create", make_person("1"))).code == 0
    other = make_person("2")
    other["Accounts"]["MicrosoftActiveDirectory"]["sAMAccountName"] = "USER1"  # case-insensitive
    other["Accounts"]["MicrosoftActiveDirectory"]["userPrincipalName"] = "User1@Example.nl"
    result = apply(db, native("create", other))
    assert result.code == 1
    assert result.json["auditLogs"][0]["message"] == (
        "person '2': gebruikersnaam 'USER1' is already used by account '1';"
        " email 'User1@Example.nl' is already used by account '1'"
    )
    assert (count(db, "persons"), count(db, "events")) == (1, 1)


def test_a_disabled_person_frees_its_username(db):
    assert apply(db, native("create", make_person("1"))).code == 0
    assert apply(db, native("disable", accountReference="1")).code == 0
    assert apply(db, native("create", make_person("2") | {"Accounts": make_person("1")["Accounts"]})).code == 0
    result = apply(db, native("enable", accountReference="1"))
    assert result.code == 1 and "is already used by account '2'" in result.json["auditLogs"][0]["message"]


@pytest.mark.parametrize("action", ["update", "enable", "disable", "delete"])
def test_unknown_account_fails_clearly(db, action):
    person = make_person("404") if action == "update" else None
    result = apply(db, native(action, person, accountReference="404"))
    assert result.code == 1
    assert result.json["auditLogs"][0]["message"] == f"cannot {action}: no account with reference '404'"


def test_enable_disable_delete_lifecycle(db):
    assert apply(db, native("create", make_person("1"))).code == 0
    disabled = apply(db, native("disable", accountReference="1"))
    assert disabled.json["auditLogs"][0]["action"] == "DisableAccount"
    assert person_row(db, "1")["scm_active"] == 0
    assert "already disabled" in apply(db, native("disable", accountReference="1")).json["auditLogs"][0]["message"]
    assert apply(db, native("enable", accountReference="1")).code == 0
    assert person_row(db, "1")["scm_active"] == 1
    deleted = apply(db, native("delete", accountReference="1"))
    assert deleted.code == 0 and deleted.json["auditLogs"][0]["action"] == "DeleteAccount"
    row = person_row(db, "1")  # soft delete keeps the row
    assert row["scm_active"] == 0 and row["scm_deleted_at"] is not None
    assert count(db, "roles") == 0
    assert [e["action"] for e in rows(db, "SELECT action FROM events ORDER BY id")] == [
        "CreateAccount",
        "DisableAccount",
        "EnableAccount",
        "DeleteAccount",
    ]


def test_create_after_soft_delete_restores_the_person(db):
    assert apply(db, native("create", make_person("1"))).code == 0
    assert apply(db, native("delete", accountReference="1")).code == 0
    again = apply(db, native("create", make_person("1")))
    assert again.code == 0 and again.json["accountCorrelated"] is True
    row = person_row(db, "1")
    assert row["scm_active"] == 1 and row["scm_deleted_at"] is None and count(db, "roles") == 1


def test_hard_delete_removes_the_row(db, write):
    mapping = derived_mapping(db.parent / "hard.yaml", lambda m: m["lifecycle"].update(delete="hard"))
    create = run_cli("apply", "--mapping", mapping, "--db", db, "-", input=native("create", make_person("1")))
    assert create.code == 0
    gone = run_cli("apply", "--mapping", mapping, "--db", db, "-", input=native("delete", accountReference="1"))
    assert gone.code == 0
    assert (count(db, "persons"), count(db, "roles"), count(db, "events")) == (0, 0, 2)


@pytest.mark.parametrize(
    ("event", "args", "message"),
    [
        (
            b"{not json",
            (),
            "event is not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2",
        ),
        (b"[1, 2]", (), "event must be a JSON object, not an array"),
        (
            b'{"action": "rename", "person": {}}',
            (),
            "unknown action 'rename'; expected one of: create, update, enable, disable, delete",
        ),
        (b'{"action": "create"}', (), "a create event needs a person object"),
        (
            b'{"person": {}}',
            (),
            "no action: give one with --action (create, update, enable, disable, delete) or in the event",
        ),
        (b'{"action": "create", "person": "x"}', (), "'person' must be an object, not a string"),
        (b'{"action": "create", "person": {}, "dryRun": "yes"}', (), "'dryRun' must be true or false, not a string"),
        (
            b'{"action": "update", "person": {}}',
            ("--action", "create"),
            "the event says action 'update' but --action says 'create'",
        ),
        (b"\xff\xfe{}", (), "event is not valid UTF-8 (byte 0)"),
        (
            b'{"actionContext": {}, "personContext": {"Person": null}}',
            ("--action", "create"),
            "a create event needs a person object",
        ),
    ],
)
def test_malformed_events_exit_2_and_write_nothing(db, event, args, message):
    result = apply(db, event, *args)
    assert result.code == 2
    assert result.json["success"] is False
    assert result.json["auditLogs"][0]["message"] == message
    assert result.err == f"scmapper: {message}\n"
    assert count(db, "persons") == 0 and count(db, "events") == 0


def test_mapping_error_exits_2_with_a_json_result(db, write):
    mapping = write(
        "bad.yaml", "version: 1\nperson: {key: externalId, columns: {externalId: '{{ person.__class__ }}'}}\n"
    )
    result = run_cli("apply", "--mapping", mapping, "--db", db, "-", input=native("create", make_person()))
    assert result.code == 2
    assert result.json["success"] is False
    assert "access to '__class__' is not allowed" in result.err
    assert "Traceback" not in result.err and not db.exists()


def test_runtime_expression_error_fails_the_action_with_the_column(db):
    person = make_person("5")
    person["Name"] = 5  # a field of a number is a wrong shape, not an absent field
    result = apply(db, native("create", person))
    assert result.code == 1
    assert (
        result.json["auditLogs"][0]["message"]
        == "person '5': column 'voornaam': 'int object' has no attribute 'GivenName'"
    )


def test_a_required_column_that_reads_an_absent_field_fails_and_says_which(db):
    person = make_person("5")
    del person["Name"]
    result = apply(db, native("create", person))
    assert result.code == 1
    assert (
        result.json["auditLogs"][0]["message"]
        == "person '5': required column 'achternaam' is empty (person.Name is absent)"
    )
    assert not db.exists() or count(db, "persons") == 0


def test_update_with_no_changes_says_so_and_writes_nothing(db):
    assert apply(db, native("create", make_person("1"))).code == 0
    result = apply(db, native("update", make_person("1"), accountReference="1"))
    assert result.code == 0 and result.json["changed"] is False
    assert result.json["auditLogs"][0]["message"] == "Account '1' is up to date; nothing changed"
    assert count(db, "events") == 1


def test_update_returns_previous_data_and_records_roles_change(db):
    assert apply(db, native("create", make_person("1"))).code == 0
    person = make_person("1")
    person["Contracts"].append(
        {
            "Context": {"InConditions": True},
            "Department": {"ExternalId": "OE-2", "DisplayName": "Twee"},
            "Title": {"ExternalId": "FP-2", "Name": "F2"},
        }
    )
    result = apply(db, native("update", person, accountReference="1"))
    assert result.json["previousRoles"] == [
        {"gebruikersnaam": "user1", "ou": "Afdeling 1", "functie": "Functie 1", "oucode": "OE-1", "functiecode": "FP-1"}
    ]
    assert [e["action"] for e in result.json["auditLogs"]] == ["UpdatePermission"]
    assert count(db, "roles") == 2


def test_log_shows_the_audit_trail(db):
    assert apply(db, native("create", make_person("1"))).code == 0
    assert apply(db, native("create", make_person("2"))).code == 0
    assert apply(db, native("disable", accountReference="2")).code == 0
    text = run_cli("log", "--db", db, "--account", "2")
    assert text.code == 0
    assert [line.split()[1:3] for line in text.out.splitlines()] == [["CreateAccount", "2"], ["DisableAccount", "2"]]
    as_json = run_cli("log", "--db", db, "--json", "--since", "2000-01-01")
    assert [e["accountReference"] for e in as_json.json] == ["1", "2", "2"]
    assert run_cli("log", "--db", db, "--json", "--since", "2999-01-01").json == []
    bad = run_cli("log", "--db", db, "--since", "yesterday")
    assert bad.code == 2 and "not an ISO 8601 time" in bad.err


def test_batch_applies_each_event_and_reports(db, write):
    lines = [native("create", make_person(str(i))) for i in range(1, 6)]
    lines += ["{broken", native("update", make_person("404"), accountReference="404")]
    events = write("events.jsonl", "\n".join(lines) + "\n")
    result = run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "--batch", events)
    assert result.code == 1
    results = [json.loads(line) for line in result.out.splitlines()]
    assert [r["success"] for r in results] == [True] * 5 + [False, False]
    assert [r["line"] for r in results] == [1, 2, 3, 4, 5, 6, 7]
    assert "7 events: 5 succeeded, 2 failed, 5 changed the database" in result.err
    assert count(db, "persons") == 5 and count(db, "events") == 5


def test_demo_runs_the_bundled_samples(tmp_path):
    out = tmp_path / "out"
    result = run_cli("demo", "--out", out)
    assert result.code == 0, result.err
    assert "persons (6 rows)" in result.out and "Hoff - Op den Berg" in result.out
    assert count(out / "helloid" / "spendcloud.db", "persons") == 6
    assert f"  {out / 'helloid' / 'Users.csv'}\n  {out / 'helloid' / 'Roles.csv'}\n" in result.out
    assert (out / "helloid" / "Users.csv").read_bytes().startswith(b'\xef\xbb\xbf"voornaam";')
    # every starter with samples: a line with its counts, and its files on disk
    assert "  afas                  20     22         1  " in result.out
    assert (out / "afas" / "Users.csv").exists() and (out / "afas" / "Roles.csv").exists()


def test_demo_runs_the_starters_it_ships_and_names_the_broken_samples(tmp_path):
    mappings = tmp_path / "mappings"
    shutil.copytree(ROOT / "mappings", mappings)
    # a customer's folder beside the starters, as an implementer makes one: not the demo's business
    shutil.copy(mappings / "afas.yaml", mappings / "acme.yaml")
    (mappings / "samples" / "acme").mkdir()
    (mappings / "samples" / "acme" / "export.json").write_text('{"rows": [{"Medewerker": "1"}]}')
    events = mappings / "samples" / "helloid" / "events.jsonl"
    result = run_cli("demo", "--mapping", mappings / "spendcloud.yaml", "--events", events, "--out", tmp_path / "out")
    assert result.code == 0, result.out + result.err
    assert "acme" not in result.out and not (tmp_path / "out" / "acme").exists()
    systems = [line.split()[0] for line in result.out.splitlines() if re.match(r"  \w+ +\d+ +\d+ +\d+  ", line)]
    assert systems == ["afas", "raet", "adp", "successfactors", "entra", "ad"]
    assert "The samples hold records broken\non purpose (the starter's test cases expect them to fail)" in result.out
    afas = result.out.split("  afas ")[1].split("  raet ")[0].splitlines()[1:]
    # (the sample without an employee number joins no employment: sync skips it as inactive)
    assert [line.strip() for line in afas] == [
        "T4E_HelloID_Users_v2.json#24 (key 10024) rejected on purpose: person '10024':"
        " required column 'gebruikersnaam' is empty",
    ]


def test_demo_fails_on_a_rejection_that_is_not_on_purpose(tmp_path):
    mappings = tmp_path / "mappings"
    shutil.copytree(ROOT / "mappings", mappings)
    sample = mappings / "samples" / "afas" / "T4E_HelloID_Users_v2.json"
    data = json.loads(sample.read_text("utf-8"))
    data["rows"][0]["UPN"] = None  # Jan Jansen loses his username: a real problem, not a planted one
    sample.write_text(json.dumps(data), "utf-8")
    events = mappings / "samples" / "helloid" / "events.jsonl"
    result = run_cli("demo", "--mapping", mappings / "spendcloud.yaml", "--events", events, "--out", tmp_path / "out")
    assert result.code == 1
    assert (
        "T4E_HelloID_Users_v2.json#1 (key 10001) rejected, NOT one of the samples broken on purpose:"
        " person '10001': required column 'gebruikersnaam' is empty"
    ) in result.out


def test_preview_shows_rows_without_a_database(tmp_path):
    result = run_cli("preview", DEFAULT_MAPPING, SAMPLE_EVENT)
    assert result.code == 0
    assert result.json["person"]["achternaam"] == "Hoff - Op den Berg"
    assert len(result.json["roles"]) == 2 and result.json["warnings"] == []
    bare = run_cli("preview", DEFAULT_MAPPING, "-", input=json.dumps(make_person("9")))
    assert bare.code == 0 and bare.json["person"]["externalId"] == "9"
    broken = make_person("9")
    broken["Accounts"]["MicrosoftActiveDirectory"]["sAMAccountName"] = None
    failed = run_cli("preview", DEFAULT_MAPPING, "-", input=json.dumps(broken))
    assert failed.code == 1 and failed.err == "scmapper: person '9': required column 'gebruikersnaam' is empty\n"
    assert list(tmp_path.iterdir()) == []


def test_batch_progress_reports_events_rate_and_time_left(db):
    import io

    from scmapper.core.progress import Meter
    from scmapper.lifecycle.runner import run_batch
    from scmapper.mapping.loading import load_rules

    # 250 lines of one length: the share of bytes read is the share of events done
    lines = [(native("create", make_person(str(1000 + i))) + "\n").encode() for i in range(250)]
    assert len(set(map(len, lines))) == 1
    rules = load_rules(DEFAULT_MAPPING)
    store = open_store(db, rules.mapping)
    ticks = iter(range(10_000))  # a clock that moves 1/16 s each time it is read (exact in binary)
    screen, results = io.StringIO(), []
    meter = Meter("apply events.jsonl", sum(map(len, lines)), "events", screen, clock=lambda: next(ticks) / 16)
    counts = run_batch(lines, rules, store, action=None, dry_run=False, emit=results.append, meter=meter)
    store.close()
    assert str(counts) == "250 events: 250 succeeded, 0 failed, 250 changed the database"
    frames = screen.getvalue().split("\r")[1:]
    assert len(frames) == 125  # redrawn once 100 ms have passed: every other event
    # after 100 events, 6.25 s: 40% done at 16 events/s, so 9.4 s left (shown as m:ss)
    assert (
        frames[49].rstrip() == "apply events.jsonl [#########...............]  40%  100 events  16 events/s  0:09 left"
    )
    assert (
        frames[-1].rstrip() == "apply events.jsonl [########################] 100%  250 events  16 events/s  0:00 left"
    )
    assert [r["line"] for r in results] == list(range(1, 251))


@pytest.mark.parametrize("action", ["create", "update", "enable"])
def test_the_person_is_mapped_before_the_write_lock_is_taken(db, action):
    """Map first, then lock: while the mapping runs no transaction is open, so a slow mapping
    holds up no other agent; the lock covers reading the current row and writing."""
    from scmapper.lifecycle import actions, events
    from scmapper.mapping.loading import load_rules

    assert apply(db, native("create", make_person("1"))).code == 0
    rules = load_rules(DEFAULT_MAPPING)
    store = open_store(db, rules.mapping)
    seen = []
    real = rules.map_person

    def watched(*args, **kwargs):
        seen.append(store.db.conn.in_transaction)
        return real(*args, **kwargs)

    rules.map_person = watched  # type: ignore[method-assign]
    event = events.parse_bytes(native(action, make_person("1"), accountReference="1").encode())
    try:
        assert actions.apply(event, rules, store).success
    finally:
        store.close()
    assert seen == [False]
