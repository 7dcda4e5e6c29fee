"""`scmapper adopt`: the old PowerShell connector's SQLite file taken over, export unchanged."""

import sqlite3

from conftest import DEFAULT_MAPPING, count, rows, run_cli

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


def quoted(values, delimiter):
    return delimiter.join('"' + v.replace('"', '""') + '"' for v in values) + "\r\n"


def old_export(path):
    """The old connector's export, by hand: Export-Csv -NoTypeInformation -Encoding utf8 of the
    distinct active persons and the roles of active persons (BOM, CRLF, every field quoted)."""
    conn = sqlite3.connect(path)
    persons = conn.execute(
        "SELECT DISTINCT voornaam, tussenvoegsel, achternaam, geslacht, email, gebruikersnaam FROM persons"
        " WHERE passief IS NULL ORDER BY externalId"
    ).fetchall()
    roles = conn.execute(
        "SELECT DISTINCT r.ou, r.gebruikersnaam, r.functiecode FROM roles r JOIN persons p ON p.gebruikersnaam = r.gebruikersnaam"
        " WHERE p.passief IS NULL ORDER BY p.externalId, r.rowid"
    ).fetchall()
    conn.close()
    users = quoted(["voornaam", "tussenvoegsel", "achternaam", "geslacht", "email", "gebruikersnaam"], ";")
    users += "".join(quoted(r, ";") for r in persons)
    role_text = quoted(["Organisatorische Eenheid", "Gebruikersnaam", "Functieprofiel Code"], ",")
    role_text += "".join(quoted(r, ",") for r in roles)
    return ("\ufeff" + users).encode("utf-8"), ("\ufeff" + role_text).encode("utf-8")


def adopt(new_db, old_db, *extra):
    return run_cli("adopt", "--mapping", DEFAULT_MAPPING, "--db", new_db, old_db, *extra)


def test_first_export_after_adopting_equals_the_last_one_before(tmp_path):
    old = old_database(tmp_path / "SpendCloud.db")
    users_before, roles_before = old_export(old)
    new = tmp_path / "new.db"
    result = adopt(new, old)
    assert result.code == 0, result.out
    assert "Read 5 person rows and 6 role rows; 2 exact duplicates collapsed." in result.out
    assert "Adopted 4 persons (1 inactive) and 5 roles." in result.out
    out = tmp_path / "out"
    assert run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", new, "--out", out).code == 0
    assert (out / "Users.csv").read_bytes() == users_before
    assert (out / "Roles.csv").read_bytes() == roles_before
    assert rows(new, "SELECT scm_active FROM persons WHERE scm_ref = '100733'") == [{"scm_active": 0}]
    assert count(new, "events") == 4 + 1  # one AdoptAccount per person, one ExportFiles


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
