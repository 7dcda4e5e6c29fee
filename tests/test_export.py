"""`scmapper export` through the real CLI: layout, checks, thresholds, atomicity."""

import csv
import hashlib
import json
import time
from contextlib import closing

import pytest
import yaml

from scmapper.mapping.filters import strip_diacritics

from conftest import (
    DEFAULT_MAPPING,
    ROOT,
    SAMPLE_EVENT,
    count,
    derived_mapping,
    edit,
    make_person,
    native,
    open_store,
    rows,
    run_cli,
    run_process,
    spawn,
)

GOLDEN = ROOT / "tests" / "data" / "golden"


def load(db, people, mapping=DEFAULT_MAPPING, tmp=None):
    """Creates the people in db through `apply --batch`."""
    path = db.with_suffix(".jsonl")
    path.write_text("\n".join(native("create", p) for p in people) + "\n", "utf-8")
    result = run_cli("apply", "--mapping", mapping, "--db", db, "--batch", path)
    assert result.code == 0, result.out + result.err


def export(db, out, *args, mapping=DEFAULT_MAPPING, env=None):
    return run_cli("export", "--mapping", mapping, "--db", db, "--out", out, *args, env=env)


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_csv(path, delimiter, encoding="utf-8-sig"):
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


def test_sample_export_matches_the_existing_connector_byte_for_byte(db, tmp_path):
    assert run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "--action", "create", SAMPLE_EVENT).code == 0
    out = tmp_path / "out"
    result = export(db, out)
    assert result.code == 0, result.err
    assert (out / "Users.csv").read_bytes() == (GOLDEN / "Users.csv").read_bytes()
    assert (out / "Roles.csv").read_bytes() == (GOLDEN / "Roles.csv").read_bytes()
    assert f"Wrote {out / 'Users.csv'} (1 rows" in result.out


def test_two_exports_of_the_same_data_are_byte_identical(db, tmp_path):
    load(db, [make_person(str(i)) for i in (5, 3, 9, 1)])
    assert export(db, tmp_path / "a").code == 0
    second = export(db, tmp_path / "b", "--json")
    assert second.code == 0
    for name in ("Users.csv", "Roles.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    keys = [r[-1] for r in read_csv(tmp_path / "a" / "Users.csv", ";")[1:]]
    assert keys == ["user1", "user3", "user5", "user9"]  # ordered by key
    report = second.json
    assert report["status"] == "written" and report["diff"]["joiners"] == [] and report["diff"]["changed"] == []
    assert json.loads((tmp_path / "b" / "export-report.json").read_text())["exportId"] == report["exportId"]


HOSTILE = [
    'Jan "de Man"',
    "a;b",
    "a,b",
    "regel\r\nbreuk",
    "cr\ronly",
    "lf\nonly",
    "tab\tin",
    "=SUM(A1)",
    "+31 6",
    "@home",
    "emoji \U0001f600",
    "e\u0301 combining",
    "  spaces  ",
    "'t Hof",
    "\\back",
]


def test_hostile_values_read_back_exactly(db, tmp_path):
    people = []
    for i, value in enumerate(HOSTILE):
        person = make_person(str(100 + i), FamilyName=value, NickName=value)
        person["Contracts"][0]["Department"] = {"ExternalId": "X", "DisplayName": value}
        people.append(person)
    load(db, people)
    out = tmp_path / "out"
    assert export(db, out).code == 0
    users = read_csv(out / "Users.csv", ";")[1:]
    assert [u[0] for u in users] == HOSTILE  # voornaam, untouched
    assert [u[2] for u in users] == [strip_diacritics(v) for v in HOSTILE]  # achternaam, as the mapping says
    roles = read_csv(out / "Roles.csv", ",")[1:]
    assert [r[0] for r in roles] == HOSTILE


@pytest.fixture
def hundred(db, tmp_path):
    load(db, [make_person(str(1000 + i)) for i in range(100)])
    mapping = derived_mapping(
        tmp_path / "m.yaml", lambda m: m["export"]["thresholds"].update(removed_persons={"percent": 10})
    )
    out = tmp_path / "out"
    assert export(db, out, mapping=mapping).code == 0
    batch = tmp_path / "disable.jsonl"
    batch.write_text("\n".join(native("disable", accountReference=str(1000 + i)) for i in range(30)) + "\n")
    assert run_cli("apply", "--mapping", mapping, "--db", db, "--batch", batch).code == 0
    return mapping, out


def test_mass_removal_is_refused_and_leaves_files_untouched(db, hundred):
    mapping, out = hundred
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir() if p.is_file()}
    result = export(db, out, mapping=mapping)
    assert result.code == 1
    assert (
        "REFUSED: threshold removed_persons: 30 of 100 persons (30.0%) would be removed; the limit is 10%" in result.out
    )
    assert "1000 (user1000)" in result.out  # who would be removed
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir() if p.is_file()} == before
    assert rows(db, "SELECT count(*) AS n FROM exports")[0]["n"] == 1


def test_force_overrides_and_is_recorded(db, hundred):
    mapping, out = hundred
    result = export(db, out, "--force", "--json", mapping=mapping)
    assert result.code == 0
    report = result.json
    assert report["forced"] is True and report["thresholds"][0]["tripped"] is True
    assert len(read_csv(out / "Users.csv", ";")) == 71
    recorded = rows(db, "SELECT forced, status FROM exports ORDER BY id")
    assert recorded == [{"forced": 0, "status": "complete"}, {"forced": 1, "status": "complete"}]


def test_check_writes_nothing(db, hundred):
    mapping, out = hundred
    before = sorted(p.name for p in out.iterdir())
    refused = export(db, out, "--check", "--json", mapping=mapping)
    assert refused.code == 1 and refused.json["status"] == "refused"
    assert len(refused.json["diff"]["leavers"]) == 30
    assert sorted(p.name for p in out.iterdir()) == before
    fresh = tmp = out.parent / "fresh"
    ok = export(db, tmp, "--check", "--force", mapping=mapping)
    assert ok.code == 0 and "Check only: nothing written." in ok.out
    assert not fresh.exists()
    assert rows(db, "SELECT count(*) AS n FROM exports")[0]["n"] == 1


def test_username_change_is_flagged_and_counts_as_a_removal(db, tmp_path):
    load(db, [make_person("1"), make_person("2")])
    out = tmp_path / "out"
    assert export(db, out).code == 0
    renamed = make_person("1")
    renamed["Accounts"]["MicrosoftActiveDirectory"]["sAMAccountName"] = "new1"
    assert (
        run_cli(
            "apply",
            "--mapping",
            DEFAULT_MAPPING,
            "--db",
            db,
            "-",
            input=native("update", renamed, accountReference="1"),
        ).code
        == 0
    )
    result = export(db, out, "--check")
    assert "Username changes: Spend Cloud will create a new employee and deactivate the old one (1):" in result.out
    assert "1: 'user1' -> 'new1'" in result.out
    # One removal among two persons is 50%, but below the percent rule's minimum of 3 removals.
    assert result.code == 0 and "REFUSED" not in result.out
    assert result.out.count("Check only: nothing written.") == 1
    strict = derived_mapping(
        tmp_path / "m.yaml", lambda m: m["export"]["thresholds"].update(removed_persons={"percent": 5, "minimum": 1})
    )
    refused = export(db, out, "--check", mapping=strict)
    assert refused.code == 1
    assert (
        "REFUSED: threshold removed_persons: 1 of 2 persons (50.0%) would be removed;"
        " the limit is 5% (from 1 removals on) (--force overrides; the rule is export.thresholds.removed_persons in the mapping)"
        in refused.out
    )
    assert refused.out.rstrip().endswith(
        "Refused: nothing written; the previous files are untouched. --force writes anyway (recorded in the report"
        " and the audit log); --dry-run previews without writing."
    )


def test_the_percent_rule_fires_from_its_minimum_on(db, tmp_path):
    load(db, [make_person(str(i)) for i in range(1, 11)])
    out = tmp_path / "out"
    assert export(db, out).code == 0
    disable = tmp_path / "disable.jsonl"
    disable.write_text("\n".join(native("disable", accountReference=str(i)) for i in (1, 2)) + "\n")
    assert run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "--batch", disable).code == 0
    two = export(db, out, "--check", "--json")  # 2 of 10 = 20% >= 5%, but 2 < 3 removals
    assert two.code == 0 and two.json["thresholds"][0]["tripped"] is False
    assert two.json["thresholds"][0]["limit"] == {"count": 25, "percent": 5, "minimum": 3}
    third = native("disable", accountReference="3")
    assert run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "-", input=third).code == 0
    three = export(db, out, "--check", "--json")
    assert three.code == 1 and three.json["thresholds"][0]["tripped"] is True
    assert three.json["hint"] == (
        "--force writes anyway (recorded in the report and the audit log); --dry-run previews without writing"
    )


def test_zero_active_persons_is_refused(db, tmp_path):
    load(db, [make_person("1")])
    assert (
        run_cli(
            "apply", "--mapping", DEFAULT_MAPPING, "--db", db, "-", input=native("disable", accountReference="1")
        ).code
        == 0
    )
    out = tmp_path / "out"
    result = export(db, out)
    assert result.code == 1
    assert "no active persons: an empty persons file would deactivate everyone in Spend Cloud" in result.out
    forced = export(db, out, "--force", "--json")
    assert forced.code == 1 and forced.json["status"] == "refused"
    assert forced.json["hint"] == (
        "--force cannot override this: no active persons: an empty persons file would deactivate everyone in Spend Cloud"
    )
    assert not out.exists()


PREFLIGHT = [
    (
        "every problem at once",
        [
            "DROP INDEX scm_uniq_email",
            "UPDATE persons SET email = 'USER1@example.nl' WHERE scm_ref = '2'",
            "UPDATE persons SET email = '' WHERE scm_ref = '3'",
            "UPDATE roles SET gebruikersnaam = 'ghost', ou = '' WHERE scm_ref = '3'",
        ],
        ["email 'user1@example.nl' is used by persons '1', '2'"],
        {
            "3": [
                "person '3': column 'email' is empty",
                "role of person '3': column 'ou' is empty",
                "role of person '3': gebruikersnaam 'ghost' belongs to no exported person",
            ]
        },
    ),
    (  # The unique index compares ASCII case only: 'STRASSE' and 'straße' pass it, casefold does not.
        "unicode blanks and casefold twins",
        [
            "UPDATE persons SET gebruikersnaam = '\u3000\u00a0' WHERE scm_ref = '1'",
            "UPDATE roles SET gebruikersnaam = '\u3000\u00a0' WHERE scm_ref = '1'",
            "UPDATE persons SET email = 'STRASSE@example.nl' WHERE scm_ref = '2'",
            "UPDATE persons SET email = 'straße@example.nl' WHERE scm_ref = '3'",
        ],
        ["email 'STRASSE@example.nl' is used by persons '2', '3'"],
        {"1": ["person '1': column 'gebruikersnaam' is empty", "role of person '1': column 'gebruikersnaam' is empty"]},
    ),
]


@pytest.mark.parametrize(("name", "statements", "problems", "held"), PREFLIGHT, ids=[p[0] for p in PREFLIGHT])
def test_preflight_holds_failing_rows_and_refuses_on_the_rest(db, tmp_path, name, statements, problems, held):
    """A row that fails holds its person back; a value several persons share (which of them is
    wrong?) still refuses the export, naming the held persons too."""
    load(db, [make_person(str(i)) for i in (1, 2, 3)])
    edit(db, *statements)
    out = tmp_path / "out"
    result = export(db, out, "--json")
    assert result.code == 1
    assert result.json["problems"] == problems
    assert {h["key"]: h["reasons"] for h in result.json["held"]} == held
    assert result.json["blocking"] == []
    assert result.json["hint"].startswith("--force writes anyway")
    assert not out.exists()


def held_world(db, tmp_path, mapping=DEFAULT_MAPPING):
    """Export #1 of persons 1-4; then person 2 loses the e-mail and changes name and unit (Spend
    Cloud has them), and new person 5 comes without a username."""
    load(db, [make_person(str(i)) for i in (1, 2, 3, 4)], mapping)
    out = tmp_path / "out"
    assert export(db, out, mapping=mapping).code == 0
    first = {name: (out / name).read_bytes() for name in ("Users.csv", "Roles.csv")}
    edit(
        db,
        "UPDATE persons SET email = '', achternaam = 'Anders' WHERE scm_ref = '2'",
        "UPDATE roles SET ou = 'Elders' WHERE scm_ref = '2'",
    )
    late = make_person("5")
    late["Accounts"]["MicrosoftActiveDirectory"]["sAMAccountName"] = "user5"
    load(db, [late], mapping)
    edit(
        db,
        "UPDATE persons SET gebruikersnaam = '' WHERE scm_ref = '5'",
        "UPDATE roles SET gebruikersnaam = '' WHERE scm_ref = '5'",
    )
    return out, first


def lines_of(data, needle):
    return [line for line in data.splitlines(keepends=True) if needle in line]


def test_a_held_person_spend_cloud_has_keeps_its_last_exported_rows_byte_for_byte(db, tmp_path):
    out, first = held_world(db, tmp_path)
    result = export(db, out, "--json")
    assert result.code == 0, result.out
    report = result.json
    assert report["status"] == "written"
    assert {h["key"]: h["kept"] for h in report["held"]} == {"2": True, "5": False}
    assert report["held"][0]["reasons"] == ["person '2': column 'email' is empty"]
    users, roles = (out / "Users.csv").read_bytes(), (out / "Roles.csv").read_bytes()
    assert lines_of(users, b"Person2") == lines_of(first["Users.csv"], b"Person2") != []
    assert lines_of(roles, b"user2") == lines_of(first["Roles.csv"], b"user2") != []
    assert users == first["Users.csv"] and roles == first["Roles.csv"]  # person 5 is left out: nothing changed
    assert report["diff"]["totals"] == {
        "joiners": 0,
        "leavers": 0,
        "changed": 0,
        "usernameChanges": 0,
        "rolesAdded": 0,
        "rolesRemoved": 0,
    }
    # Still failing at the next export: still what Spend Cloud has, from the change log's entry.
    again = export(db, out, "--json")
    assert again.code == 0 and (out / "Users.csv").read_bytes() == first["Users.csv"]
    # Fixed: written as it is now, and the diff says what changed against what Spend Cloud had.
    edit(
        db,
        "UPDATE persons SET email = 'user2@example.nl' WHERE scm_ref = '2'",
        "UPDATE persons SET gebruikersnaam = 'user5' WHERE scm_ref = '5'",
        "UPDATE roles SET gebruikersnaam = 'user5' WHERE scm_ref = '5'",
    )
    fixed = export(db, out, "--json")
    assert fixed.code == 0 and fixed.json["held"] == []
    assert fixed.json["diff"]["changed"] == [
        {"key": "2", "username": "user2", "fields": {"achternaam": {"before": "Person2", "after": "Anders"}}}
    ]
    assert [j["key"] for j in fixed.json["diff"]["joiners"]] == ["5"]
    assert b"Anders" in (out / "Users.csv").read_bytes() and b"Elders" in (out / "Roles.csv").read_bytes()


def test_held_persons_are_named_alike_in_text_json_html_and_the_audit_log(db, tmp_path):
    out, _ = held_world(db, tmp_path)
    page = tmp_path / "export.html"
    text = export(db, out, "--dry-run", "--html", page)
    assert text.code == 0
    assert "Held back (their rows fail a check) (2):" in text.out
    assert "  2: person '2': column 'email' is empty (keeps its rows of the last export)" in text.out
    assert (
        "  5: person '5': column 'gebruikersnaam' is empty; role of person '5': column 'gebruikersnaam' is empty (left out until it passes)"
        in text.out
    )
    html = page.read_text("utf-8")
    assert "Held back" in html and "column &#39;email&#39; is empty" in html and "left out until it passes" in html
    written = export(db, out, "--json")
    assert [h["key"] for h in written.json["held"]] == ["2", "5"]
    entry = rows(db, "SELECT message, details FROM events WHERE action = 'ExportFiles' ORDER BY id DESC LIMIT 1")[0]
    assert "2 held back: 2, 5" in entry["message"]
    assert [h["key"] for h in json.loads(entry["details"])[0]["held"]] == ["2", "5"]
    assert json.loads((out / "export-report.json").read_text("utf-8"))["held"] == written.json["held"]


def test_more_held_than_export_held_allows_refuses_and_force_still_holds(db, tmp_path):
    mapping = derived_mapping(tmp_path / "m.yaml", lambda d: d["export"].__setitem__("held", {"count": 2}))
    out, first = held_world(db, tmp_path, mapping)
    refused = export(db, out, "--json", mapping=mapping)
    assert refused.code == 1
    tripped = [t for t in refused.json["thresholds"] if t["tripped"]]
    assert [t["name"] for t in tripped] == ["held"] and tripped[0]["removed"] == 2
    assert "held: 2 of 5 persons fail a check" in export(db, out, mapping=mapping).out
    assert (out / "Users.csv").read_bytes() == first["Users.csv"]  # untouched
    forced = export(db, out, "--force", "--json", mapping=mapping)
    assert forced.code == 0 and forced.json["forced"] is True
    assert b"Anders" not in (out / "Users.csv").read_bytes()  # --force never writes a failing row


def test_the_mapping_says_which_export_columns_must_be_filled(db, tmp_path):
    """Default: username and e-mail for persons, username and ou for roles; a file's `required` replaces it."""
    load(db, [make_person("1"), make_person("2")])
    edit(db, "UPDATE persons SET achternaam = '' WHERE scm_ref = '1'", "UPDATE roles SET functiecode = ''")
    assert export(db, tmp_path / "default").code == 0  # neither is required by default
    strict = derived_mapping(
        tmp_path / "m.yaml",
        lambda m: (
            m["export"]["persons"].update(required=["gebruikersnaam", "achternaam"]),
            m["export"]["roles"].update(required=["functiecode"]),
        ),
    )
    result = export(db, tmp_path / "strict", "--json", mapping=strict)
    assert result.code == 0 and result.json["problems"] == []
    assert {h["key"]: h["reasons"] for h in result.json["held"]} == {
        "1": ["person '1': column 'achternaam' is empty", "role of person '1': column 'functiecode' is empty"],
        "2": ["role of person '2': column 'functiecode' is empty"],
    }
    none = derived_mapping(tmp_path / "n.yaml", lambda m: m["export"]["persons"].update(required=[]))
    edit(db, "UPDATE persons SET email = '' WHERE scm_ref = '2'")
    assert export(db, tmp_path / "none", mapping=none).code == 0


def test_a_required_column_outside_the_file_is_a_mapping_error(tmp_path):
    bad = derived_mapping(tmp_path / "m.yaml", lambda m: m["export"]["roles"].update(required=["functie"]))
    result = run_cli("validate", bad)
    assert result.code == 1
    assert "required column 'functie' is not in this file's columns (ou, gebruikersnaam, functiecode)" in result.out


def with_export(tmp_path, text, name="m.yaml"):
    return derived_mapping(tmp_path / name, lambda m: m.update(export=yaml.safe_load(text)))


def test_cp1252_holds_back_a_person_with_characters_it_cannot_hold(db, tmp_path):
    mapping = with_export(tmp_path, "  persons: { file: U.csv, columns: [voornaam, achternaam], encoding: cp1252 }\n")
    load(db, [make_person("1", NickName="Łukasz"), make_person("2", NickName="Renée")], mapping=mapping)
    result = export(db, tmp_path / "out", mapping=mapping)
    assert result.code == 0, result.out
    assert "  1: person '1': column 'voornaam' holds 'Ł' (U+0141), which cp1252 cannot hold (left out" in result.out
    assert (tmp_path / "out" / "U.csv").read_bytes().endswith('"Renée";"Person2"\r\n'.encode("cp1252"))
    assert b"Person1" not in (tmp_path / "out" / "U.csv").read_bytes()
    edit(db, "UPDATE persons SET voornaam = 'Lukasz' WHERE scm_ref = '1'")
    fixed = export(db, tmp_path / "out", "--json", mapping=mapping)
    assert fixed.code == 0 and fixed.json["held"] == []
    assert '"Lukasz";"Person1"'.encode("cp1252") in (tmp_path / "out" / "U.csv").read_bytes()


def test_a_header_cp1252_cannot_hold_is_refused_and_nothing_is_written(db, tmp_path):
    """Preflight checks the rows; a header label only the encoder finds must still write nothing."""
    mapping = with_export(
        tmp_path, "  persons: { file: U.csv, columns: [voornaam], header: [Łódź], encoding: cp1252 }\n"
    )
    load(db, [make_person("1")], mapping=mapping)
    result = export(db, tmp_path / "out", mapping=mapping)
    assert result.code == 2
    assert "U.csv: cp1252 cannot hold 'Ł'; nothing written" in result.err
    assert not (tmp_path / "out").exists()
    assert rows(db, "SELECT count(*) AS n FROM exports") == [{"n": 0}]


def test_minimal_quoting_lf_and_custom_header(db, tmp_path):
    spec = (
        "  persons: { file: p.csv, columns: [gebruikersnaam, achternaam], header: [Login, Naam],"
        " delimiter: '|', quoting: minimal, line_ending: lf, encoding: utf-8 }\n"
    )
    mapping = with_export(tmp_path, spec)
    load(db, [make_person("1", FamilyName="a|b"), make_person("2", FamilyName="plain")], mapping=mapping)
    assert export(db, tmp_path / "out", mapping=mapping).code == 0
    assert (tmp_path / "out" / "p.csv").read_bytes() == b'Login|Naam\nuser1|"a|b"\nuser2|plain\n'


def test_formula_guard_neutralises_spreadsheet_formulas(db, tmp_path):
    mapping = with_export(tmp_path, "  persons: { file: p.csv, columns: [achternaam], formula_guard: true }\n")
    load(
        db,
        [
            make_person("1", FamilyName="=HYPERLINK(1)"),
            make_person("2", FamilyName="-2"),
            make_person("3", FamilyName="ok"),
        ],
        mapping=mapping,
    )
    assert export(db, tmp_path / "out", mapping=mapping).code == 0
    assert [r[0] for r in read_csv(tmp_path / "out" / "p.csv", ";")] == ["achternaam", "'=HYPERLINK(1)", "'-2", "ok"]


def test_custom_template_next_to_the_mapping(db, tmp_path):
    (tmp_path / "layout.j2").write_text(
        "login;naam\n{% for p in rows %}{{ p.gebruikersnaam }};{{ p.achternaam | upper }}\n{% endfor %}",
        "utf-8",
    )
    mapping = with_export(
        tmp_path,
        "  persons: { file: p.csv, template: layout.j2, columns: [gebruikersnaam, achternaam], quoting: minimal,"
        " header: [login, naam] }\n",  # the template's own first line, declared: not a data row
    )
    load(db, [make_person("1", FamilyName="a;b"), make_person("2", FamilyName='q"q')], mapping=mapping)
    assert export(db, tmp_path / "out", mapping=mapping).code == 0
    text = (tmp_path / "out" / "p.csv").read_bytes().decode("utf-8-sig")
    assert text == 'login;naam\nuser1;"A;B"\nuser2;"Q""Q"\n'


def test_validator_says_when_template_and_columns_disagree(tmp_path):
    (tmp_path / "layout.j2").write_text(
        "{% for p in rows %}{{ p.gebruikersnaam }};{{ p.email }}\n{% endfor %}", "utf-8"
    )
    mapping = with_export(
        tmp_path, "  persons: { file: p.csv, template: layout.j2, columns: [gebruikersnaam, achternaam] }\n"
    )
    result = run_cli("validate", mapping)
    assert result.code == 1
    assert result.out.splitlines() == [
        f"{tmp_path / 'layout.j2'}:1:1: export.persons template: template uses column 'email', which is not declared",
        f"{tmp_path / 'layout.j2'}:1:1: export.persons template: declared column 'achternaam' is not in the template",
    ]


def test_validator_checks_export_columns_and_headers(tmp_path):
    mapping = with_export(
        tmp_path,
        "  persons: { file: p.csv, columns: [voornaam, bogus], header: [One] }\n  roles: { file: p.csv, columns: [ou] }\n",
    )
    result = run_cli("validate", mapping)
    assert result.code == 1
    messages = [line.split(": ", 1)[1] for line in result.out.splitlines()]
    assert messages == [
        "export column 'bogus' is not a person column: add bogus under person.columns, or take it out of"
        " export.persons.columns",
        "header has 1 labels for 2 columns",
        "the roles file must differ from the persons file",
    ]


def test_archive_keeps_the_last_n_exports(db, tmp_path):
    mapping = with_export(tmp_path, "  persons: { file: p.csv, columns: [achternaam] }\n  archive: 2\n")
    out = tmp_path / "out"
    for n in range(3):
        load(db, [make_person(str(n))], mapping=mapping)  # a joiner each time: three different exports
        assert export(db, out, mapping=mapping).code == 0
    kept = sorted(p.name for p in (out / "archive").iterdir())
    assert kept == ["000002", "000003"]
    assert (out / "archive" / "000003" / "p.csv").read_bytes() == (out / "p.csv").read_bytes()


def test_killed_between_renames_is_recorded_and_recovered(db, tmp_path):
    load(db, [make_person("1"), make_person("2")])
    out = tmp_path / "out"
    assert export(db, out).code == 0
    first_roles = sha(out / "Roles.csv")
    assert (
        run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "-", input=native("create", make_person("3"))).code
        == 0
    )
    # A real process: the fault point ends it as a power cut would.
    killed = run_process(
        "export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", out, env={"SCMAPPER_FAULT": "between-renames"}
    )
    assert killed.code == 137
    recorded = rows(db, "SELECT id, status, files FROM exports ORDER BY id")
    assert [r["status"] for r in recorded] == ["complete", "writing"]
    files = {f["name"]: f["sha256"] for f in json.loads(recorded[1]["files"])}
    assert sha(out / "Users.csv") == files["Users.csv"]  # the new persons file...
    assert sha(out / "Roles.csv") == first_roles != files["Roles.csv"]  # ...beside the old roles file
    recovered = export(db, out)
    assert recovered.code == 0
    assert "WARNING: export #2 of" in recovered.out and "did not finish renaming its files" in recovered.out
    assert [r["status"] for r in rows(db, "SELECT status FROM exports ORDER BY id")] == [
        "complete",
        "interrupted",
        "complete",
    ]
    assert not list(out.glob(".*.tmp"))


def test_usage_errors(db, tmp_path):
    missing = export(tmp_path / "nope.db", tmp_path / "out")
    assert missing.code == 2 and "does not exist" in missing.err
    mapping = derived_mapping(tmp_path / "m.yaml", lambda m: m.pop("export"))
    load(db, [make_person("1")], mapping=mapping)
    no_section = export(db, tmp_path / "out", mapping=mapping)
    assert no_section.code == 2 and "has no export section" in no_section.err


def test_export_reads_one_moment(db, tmp_path):
    """Persons and roles come from one read transaction, so every role has its person."""
    load(db, [make_person(str(i)) for i in range(20)])
    out = tmp_path / "out"
    assert export(db, out).code == 0
    users = {r[5] for r in read_csv(out / "Users.csv", ";")[1:]}
    roles = {r[1] for r in read_csv(out / "Roles.csv", ",")[1:]}
    assert roles == users


def test_an_apply_during_an_export_goes_through_and_the_export_is_made_again(db, tmp_path, monkeypatch):
    """The export renders from a read of one moment with no lock held: an agent's event that
    arrives meanwhile is applied at once; the export, finding the database changed when it comes
    to record, is made again from the new moment, and records exactly what it wrote."""
    from scmapper.export import checks
    from scmapper.export.pipeline import run_export
    from scmapper.mapping.loading import load_rules

    load(db, [make_person("1"), make_person("2")])
    rules = load_rules(DEFAULT_MAPPING)
    m = rules.mapping
    real_thresholds = checks.thresholds
    judged = []

    def thresholds_while_an_agent_writes(*args):
        if not judged:
            event = tmp_path / "event.json"
            event.write_text(native("create", make_person("3")), "utf-8")
            began = time.monotonic()
            agent = spawn("apply", "--mapping", DEFAULT_MAPPING, "--db", db, event, text=True)
            out, err = agent.communicate(timeout=60)
            assert agent.returncode == 0, out + err
            assert time.monotonic() - began < 10, "the agent must not wait for the export"
        judged.append(args)
        return real_thresholds(*args)

    monkeypatch.setattr(checks, "thresholds", thresholds_while_an_agent_writes)
    store = open_store(db, m, durable=True)
    assert run_export(m, store, tmp_path / "out", check=False, force=False).status == "written"
    store.close()
    assert len(judged) == 2  # made again after the agent wrote
    assert len(read_csv(tmp_path / "out" / "Users.csv", ";")) == 4  # header and the three persons
    assert rows(db, "SELECT key, data FROM exported_changes") == []  # it holds what it wrote


def test_an_agent_answers_busy_in_time_while_another_run_holds_the_write_lock(db, tmp_path):
    """A sync (or the last try of an export) holds the write lock: the agent's action waits a
    clear margin under the HelloID helper's 22 seconds, then answers busy (exit 75) with nothing
    done; once the lock is gone it goes through, and the export records normally."""
    import sqlite3

    load(db, [make_person("1")])
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    event = tmp_path / "event.json"
    event.write_text(native("create", make_person("2")), "utf-8")
    try:
        began = time.monotonic()
        done = run_process("apply", "--mapping", DEFAULT_MAPPING, "--db", db, event)
        took = time.monotonic() - began
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert done.code == 75 and took < 20, (done.code, took)
    assert "database busy: another scmapper run" in done.err and "run it again in a moment" in done.err
    assert json.loads(done.out)["success"] is False
    assert count(db, "persons") == 1
    assert run_process("apply", "--mapping", DEFAULT_MAPPING, "--db", db, event).code == 0
    assert export(db, tmp_path / "out").code == 0


def test_preflight_warns_when_an_active_person_reuses_an_inactive_persons_email_or_username(db, tmp_path):
    load(db, [make_person("1"), make_person("2"), make_person("3")])
    for ref in ("2", "3"):
        disable = native("disable", accountReference=ref)
        assert run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "-", input=disable).code == 0
    again = make_person("1")
    again["Accounts"]["MicrosoftActiveDirectory"] = {"sAMAccountName": "USER3", "userPrincipalName": "user2@example.nl"}
    updated = native("update", again, accountReference="1")
    assert run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "-", input=updated).code == 0
    result = export(db, tmp_path / "out", "--json")
    assert result.code == 0  # a warning refuses nothing
    assert result.json["warnings"] == [
        "person '1': gebruikersnaam 'USER3' is also held by inactive person '3': Spend Cloud keys employees on it"
        " and may take this person for that deactivated employee",
        "person '1': email 'user2@example.nl' is also held by inactive person '2': Spend Cloud refuses a value that"
        " any of its users has, inactive ones included",
    ]


def test_an_export_that_changed_nothing_is_not_archived_again(db, tmp_path):
    load(db, [make_person("1"), make_person("2")])
    out = tmp_path / "out"
    assert export(db, out).code == 0
    again = export(db, out)
    assert again.code == 0
    assert "Unchanged since export #1: not archived again (its copy holds these files)." in again.out
    assert sorted(p.name for p in (out / "archive").iterdir()) == ["000001"]
    report = json.loads((out / "export-report.json").read_text("utf-8"))
    assert (report["exportId"], report["archived"], report["unchangedSince"]) == (2, False, 1)
    load(db, [make_person("3")])  # a joiner: new files, a new copy
    third = export(db, out, "--json")
    assert (third.json["archived"], third.json["unchangedSince"]) == (True, None)
    assert sorted(p.name for p in (out / "archive").iterdir()) == ["000001", "000003"]


def test_dry_run_is_the_name_check_is_kept_for_the_scripts_that_use_it(db, tmp_path):
    load(db, [make_person("1")])
    out = tmp_path / "out"
    assert export(db, out).code == 0
    load(db, [make_person("2")])
    dry, check = export(db, out, "--dry-run", "--json"), export(db, out, "--check", "--json")
    assert dry.code == check.code == 0
    strip = lambda report: {k: v for k, v in report.items() if k != "time"}  # noqa: E731
    assert strip(dry.json) == strip(check.json) and dry.json["status"] == "checked"
    assert dry.json["diff"]["joiners"] == [{"key": "2", "username": "user2"}]
    assert count(db, "exports") == 1 and sorted(p.name for p in (out / "archive").iterdir()) == ["000001"]
    both = export(db, out, "--dry-run", "--upload")
    assert (both.code, both.err) == (
        2,
        "scmapper: --upload and --dry-run exclude each other: a dry run writes nothing to upload\n",
    )


def test_an_output_folder_that_cannot_be_written_is_named(db, tmp_path, monkeypatch):
    """A read-only folder named a temporary file before (`.Users.csv.23002.tmp`); now the folder."""
    from scmapper import files

    load(db, [make_person("1")])

    def refused(path, mode=0o600):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(files, "create_private", refused)
    done = export(db, tmp_path / "out")
    assert done.code == 2
    assert (
        done.err
        == f"scmapper: cannot write in the output folder {tmp_path / 'out'}: Permission denied; nothing written\n"
    )


def test_an_export_that_keeps_being_overtaken_holds_the_lock_on_its_last_try(db, tmp_path, monkeypatch):
    """Each of the first two tries finds a write after its read; the third holds the write lock
    from its first read, so an export always ends."""
    import sqlite3

    from scmapper.export import checks
    from scmapper.export.pipeline import ATTEMPTS, run_export
    from scmapper.mapping.loading import load_rules

    load(db, [make_person("1")])
    m = load_rules(DEFAULT_MAPPING).mapping
    real_thresholds = checks.thresholds
    judged = []

    def overtaken(*args):
        judged.append(args)
        if len(judged) < ATTEMPTS:  # another writer slips in while this try renders
            with closing(sqlite3.connect(db)) as other, other:
                other.execute("UPDATE persons SET voornaam = ? WHERE scm_ref = '1'", (f"Try{len(judged)}",))
        return real_thresholds(*args)

    monkeypatch.setattr(checks, "thresholds", overtaken)
    store = open_store(db, m, durable=True)
    try:
        assert run_export(m, store, tmp_path / "out", check=False, force=False).status == "written"
    finally:
        store.close()
    assert len(judged) == ATTEMPTS == 3
    assert "Try2" in (tmp_path / "out" / "Users.csv").read_text("utf-8-sig")  # the moment it recorded


def test_the_built_in_template_passes_the_checks_every_other_template_gets():
    """An export in the built-in layout does not check it (nor import Jinja): this test does."""
    from scmapper.export import csvformat

    assert csvformat.check_template(csvformat.BUILTIN.read_text("utf-8"), ("voornaam", "email")) == []
