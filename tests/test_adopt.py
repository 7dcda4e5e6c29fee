"""`scmapper adopt`: the old PowerShell connector's SQLite file taken over; the first export
against the old connector's own export of the same database."""

import sqlite3
from dataclasses import replace

from conftest import DEFAULT_MAPPING, count, rows, run_cli
from powershell_connector import (
    BRAM_OLD,
    JAN,
    KEES_OLD,
    RIA_OLD,
    SZW,
    OldDatabase,
    customer_202,
    customer_205,
    parse,
    public_export,
)

PERSON_COLUMNS = (
    "externalId",
    "achternaam",
    "voornaam",
    "tussenvoegsel",
    "gebruikersnaam",
    "geslacht",
    "email",
    "createtime",
    "passief",
)
ROLE_COLUMNS = ("gebruikersnaam", "ou", "functie", "oucode", "functiecode", "createtime")

PERSONS = [
    (
        "100482",
        "Hoff - Op den Berg",
        "Cas",
        "van 't",
        "choff",
        "M",
        "cas.vanthoff@voorbeeld.nl",
        "2024-01-02 10:00",
        None,
    ),
    ("100517", "O'Brien", "Seán", "", "sobrien", "M", "sean.o'brien@voorbeeld.nl", "2024-01-03 10:00", None),
    ("100517", "O'Brien", "Seán", "", "sobrien", "M", "sean.o'brien@voorbeeld.nl", "2024-01-03 10:01", None),  # a retry
    (
        "100733",
        "D'Ancona",
        "Anouk",
        "",
        "adancona",
        "V",
        "anouk@voorbeeld.nl",
        "2024-01-04 10:00",
        "Ja",
    ),  # soft-deleted
    ("100801", "Jansen", "Jan", "", "jjansen", "O", "jan.jansen@voorbeeld.nl", "2024-01-05 10:00", None),
]
ROLES = [
    ("choff", "Inkoop & Aanbesteding", "Inkoper", "OE-INK", "FP-INK-02", "t"),
    ("choff", 'Financiën, "Control" & Audit', "Budgethouder", "OE-FIN", "FP-BUD-01", "t"),
    ("choff", 'Financiën, "Control" & Audit', "Budgethouder", "OE-FIN", "FP-BUD-01", "t"),  # a retry
    ("sobrien", "ICT", "Netwerkbeheerder", "OE-ICT", "ICT3", "t"),
    ("adancona", "ICT", "Servicedesk", "OE-ICT", "ICT1", "t"),
    ("jjansen", "Sociale Zaken; Werk & Inkomen", "Consulent", "OE-SZW", "FP-SZW-04", "t"),
]


def old_database(path, persons=PERSONS, roles=ROLES):
    conn = sqlite3.connect(path)
    conn.execute(f"CREATE TABLE persons ({', '.join(c + ' TEXT' for c in PERSON_COLUMNS)})")
    conn.execute(f"CREATE TABLE roles ({', '.join(c + ' TEXT' for c in ROLE_COLUMNS)})")
    conn.executemany(f"INSERT INTO persons VALUES ({', '.join('?' * len(PERSON_COLUMNS))})", persons)
    conn.executemany(f"INSERT INTO roles VALUES ({', '.join('?' * len(ROLE_COLUMNS))})", roles)
    conn.commit()
    conn.close()
    return path


def adopt(new_db, old_db, *extra, mapping=DEFAULT_MAPPING):
    return run_cli("adopt", "--mapping", mapping, "--db", new_db, old_db, *extra)


def export_files(db, out):
    result = run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", out)
    assert result.code == 0, result.out + result.err
    return (out / "Users.csv").read_bytes(), (out / "Roles.csv").read_bytes()


def test_first_export_of_a_clean_database_is_the_old_export_byte_for_byte(tmp_path):
    """No duplicates, nobody inactive, rows created in employee-number order: nothing to tell apart."""
    old = OldDatabase(tmp_path / "SpendCloud.db", "2.0.2")
    for day, (_, account) in enumerate(sorted((JAN, BRAM_OLD, RIA_OLD, KEES_OLD), key=lambda p: p[1].externalId)):
        old.create(account, f"2024-10-0{day + 1} 09:00:00")
    users_before, roles_before = public_export(old.close())
    result = adopt(tmp_path / "new.db", old.path)
    assert result.code == 0, result.out
    assert "  Users.csv: the same 4 rows in the same order" in result.out
    assert "  Roles.csv: the same 4 rows in the same order" in result.out
    assert export_files(tmp_path / "new.db", tmp_path / "out") == (users_before, roles_before)


def test_first_export_differs_from_the_old_export_exactly_as_the_report_says(tmp_path):
    """The public export query has no DISTINCT, no passief filter and no ORDER BY (and from 2.0.5
    on a passief column): the report counts each difference, and nothing else differs."""
    old = customer_205(tmp_path / "SpendCloud.db")
    users_before, roles_before = public_export(old)
    result = adopt(tmp_path / "new.db", old, "--json")
    assert result.code == 0, result.out
    files = {f["file"]: f for f in result.json["firstExport"]["files"]}
    users_now, roles_now = export_files(tmp_path / "new.db", tmp_path / "out")

    # Users.csv: the public rows, less the passief column, the inactive rows and the repeats, by key.
    before = parse(users_before, ";")
    assert before[0][-1] == "passief" and len(before) - 1 == files["Users.csv"]["oldRows"] == 6
    keys = {r["gebruikersnaam"]: r["externalId"] for r in rows(old, "SELECT * FROM persons")}
    active = [r for r in before[1:] if r[-1] != "Ja"]
    kept = list(dict.fromkeys(tuple(r[:-1]) for r in active))
    by_key = sorted(kept, key=lambda r: keys[r[-1]])
    assert parse(users_now, ";") == [before[0][:-1], *map(list, by_key)]
    assert files["Users.csv"] == {
        "file": "Users.csv",
        "oldRows": 6,
        "newRows": len(by_key),
        "duplicate": len(active) - len(kept),
        "inactive": len(before) - 1 - len(active),
        "replaced": 0,
        "unplaced": 0,
        "moved": sum(a != b for a, b in zip(kept, by_key, strict=True)),
    }
    assert (files["Users.csv"]["duplicate"], files["Users.csv"]["inactive"]) == (1, 1)
    assert files["Users.csv"]["moved"] > 0

    # Roles.csv: the public rows, less those of inactive persons and the repeats, by person.
    before = parse(roles_before, ",")
    inactive = {r["gebruikersnaam"] for r in rows(old, "SELECT * FROM persons WHERE passief = 'Ja'")}
    active = [r for r in before[1:] if r[1] not in inactive]
    kept = list(dict.fromkeys(tuple(r) for r in active))
    by_key = sorted(kept, key=lambda r: keys[r[1]])  # stable: a person's roles keep their order
    assert parse(roles_now, ",") == [before[0], *map(list, by_key)]
    assert (files["Roles.csv"]["oldRows"], files["Roles.csv"]["newRows"]) == (len(before) - 1, len(by_key))
    assert files["Roles.csv"]["duplicate"] == len(active) - len(kept) == 1
    assert files["Roles.csv"]["inactive"] == len(before) - 1 - len(active) == 1
    assert files["Roles.csv"]["moved"] == sum(a != b for a, b in zip(kept, by_key, strict=True))

    notes = result.json["firstExport"]["notes"]
    assert len(notes) == 1 and notes[0].startswith("the old database has a passief column")
    text = adopt(tmp_path / "again.db", old).out
    assert "  Users.csv: 6 rows before, 4 now; exact duplicates dropped: 1;" in text
    assert "rows of inactive (passief) persons left out: 1" in text


def test_adopt_says_which_legacy_settings_the_rows_fit(tmp_path):
    old = customer_202(tmp_path / "SpendCloud.db")
    result = adopt(tmp_path / "new.db", old, "--json")
    assert result.code == 0
    settings = result.json["legacySettings"]
    assert (settings["prefixed"], settings["prefixAppended"]) == (2, 2)
    assert (settings["roles"], settings["functionCodeIsFunctie"], settings["emptyFunctionCodes"]) == (4, 0, 0)
    assert settings["advice"] == [
        'append_prefix: "true" (2 of 2 persons with a tussenvoegsel have it at the end of achternaam,'
        " as versions 2.0.0 to 2.0.2 wrote it)",
        "function_code: \"'Code'\" or \"'ExternalId'\" (0 of 4 roles have functiecode equal to functie); the"
        " database cannot tell them apart: `scmapper compare` with HelloID events does",
    ]
    current = adopt(tmp_path / "current.db", customer_205(tmp_path / "current-old.db"), "--json").json
    assert current["legacySettings"]["advice"][0].startswith('append_prefix: "false" (0 of 2 persons')


def test_function_codes_equal_to_the_function_name_point_at_the_first_version(tmp_path):
    old = OldDatabase(tmp_path / "SpendCloud.db", "2.0.2")
    old.create(replace(JAN[1], contracts=[replace(SZW, code=SZW.title)]), "2024-04-12 10:00:00")
    result = adopt(tmp_path / "new.db", old.close(), "--json")
    assert result.json["legacySettings"]["advice"][1] == (
        "function_code: \"'Name'\" (1 of 1 roles have functiecode equal to functie)"
    )


def test_lifecycle_continues_on_the_adopted_database(tmp_path):
    old = old_database(tmp_path / "SpendCloud.db")
    new = tmp_path / "new.db"
    assert adopt(new, old).code == 0
    update = '{"action": "disable", "accountReference": "100482"}'
    assert run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", new, "-", input=update).code == 0


def test_errors_write_nothing_unless_forced(tmp_path):
    persons = [
        *PERSONS,
        ("100801", "Jansen-Smit", "Jan", "", "jjansen", "O", "jan.jansen@voorbeeld.nl", "2024-02-01 09:00", None),
        (None, "Zonder", "Kees", "", "kzonder", "M", "kees@voorbeeld.nl", "t", None),
    ]
    roles = [*ROLES, ("ghost", "ICT", "x", "OE-ICT", "X", "t")]
    old = old_database(tmp_path / "SpendCloud.db", persons, roles)
    new = tmp_path / "new.db"
    refused = adopt(new, old, "--json")
    assert refused.code == 1
    assert refused.json["errors"] == [
        "person row 7 has no externalId: it cannot be placed",
        "externalId '100801' has 2 different rows; the newest (by createtime) is taken with --force",
        "role row 7: no person has username 'ghost'; it cannot be placed",
    ]
    assert not new.exists()
    forced = adopt(new, old, "--force")
    assert forced.code == 0
    assert rows(new, "SELECT achternaam FROM persons WHERE scm_ref = '100801'") == [{"achternaam": "Jansen-Smit"}]
    assert count(new, "persons") == 4


def test_adopt_refuses_a_database_that_already_holds_persons(tmp_path):
    old = old_database(tmp_path / "SpendCloud.db")
    new = tmp_path / "new.db"
    assert adopt(new, old).code == 0
    again = adopt(new, old)
    assert again.code == 2 and "already holds persons" in again.err
    assert count(new, "persons") == 4


def test_not_an_old_database(tmp_path):
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE x (y)").connection.close()
    result = adopt(tmp_path / "new.db", other)
    assert (
        result.code == 2 and "is not the old connector's database: no table persons, roles" in result.err
    )  # the wrong file: environment
    missing = adopt(tmp_path / "new.db", tmp_path / "nope.db")
    assert missing.code == 2 and "does not exist" in missing.err
    assert not (tmp_path / "new.db").exists()


def test_a_username_shared_by_two_active_persons(tmp_path):
    persons = [*PERSONS, ("100999", "Hoff", "Kees", "", "choff", "M", "kees@voorbeeld.nl", "2024-03-01 10:00", None)]
    old = old_database(tmp_path / "SpendCloud.db", persons, [r for r in ROLES if r[0] != "choff"])
    new = tmp_path / "new.db"
    refused = adopt(new, old, "--json")
    assert refused.code == 1
    assert "gebruikersnaam 'choff' is used by active persons '100482', '100999'" in refused.json["errors"]
    assert not new.exists()
    forced = adopt(new, old, "--force", "--json")
    assert forced.code == 0
    assert "'100999' left out: its gebruikersnaam is taken by an earlier person" in forced.json["warnings"]
    assert rows(new, "SELECT scm_ref FROM persons WHERE gebruikersnaam = 'choff'") == [{"scm_ref": "100482"}]


def test_an_integer_employee_number_and_control_characters_in_the_old_database(tmp_path):
    """SQLite keeps an integer in a TEXT column as an integer; a NUL or an escape typed into HR
    data stays in the old file. Both are answered: the number as text, the characters as errors,
    left out with --force, never copied into Spend Cloud's files."""
    persons = [
        (100900, "Visser", "Piet", "", "pvisser", "M", "piet@voorbeeld.nl", "t", None),
        ("100901", "Bak\x00ker", "Els", "", "ebakker", "V", "els@voorbeeld.nl", "t", None),
    ]
    roles = [("pvisser", "ICT\x1b[31m", "x", "OE-ICT", "X", "t"), ("ebakker", "ICT", "x", "OE-ICT", "X", "t")]
    old = old_database(tmp_path / "SpendCloud.db", persons, roles)
    new = tmp_path / "new.db"
    refused = adopt(new, old, "--json")
    assert refused.code == 1 and not new.exists()
    assert refused.json["errors"] == [
        "role of '100900': column 'ou' holds the control character U+001B; with --force they are left out",
        "person of '100901': column 'achternaam' holds the control character U+0000; with --force they are left out",
    ]
    assert adopt(new, old, "--force").code == 0
    assert rows(new, "SELECT scm_ref, achternaam FROM persons ORDER BY scm_ref") == [
        {"scm_ref": "100900", "achternaam": "Visser"},
        {"scm_ref": "100901", "achternaam": "Bakker"},
    ]
    users, roles_csv = export_files(new, tmp_path / "out")
    assert b"\x00" not in users and b"\x1b" not in roles_csv
