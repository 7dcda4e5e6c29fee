"""The old PowerShell connector (HelloID-Conn-Prov-Target-ProActive-SpendCloud), replayed for tests.

A database is written the way its scripts write one: the SQL text create.ps1 and update.ps1
build by string concatenation, run as it is (no keys, so a retried create leaves a second
row), on the tables of the SpendCloud.db the repository ships. Two script generations matter:
- "2.0.2" (cc85ad5): nothing escaped (a name with an apostrophe breaks the statement, so such a
  person never gets in), functiecode from Title.Code, delete removes the rows;
- "2.0.5": achternaam, voornaam, tussenvoegsel, the department and the title escaped
  (ConvertTo-SqliteLiteral doubles '), e-mail and username not; functiecode from
  Title.ExternalId; a `passief` column (NULL active, 'Ja' inactive) and delete marks the row.
The values themselves come from HelloID's field mapping, which each test writes out by hand as
that field mapping computes them. `createtime` is given instead of datetime(), so tests do not
depend on the clock.

The export is the public one (Resources/resources.ps1, sa-export.ps1): every row of a SELECT
with no DISTINCT, no filter and no ORDER BY, through Export-Csv -NoTypeInformation -Encoding
utf8 (a byte order mark, CRLF, every field quoted, NULL as an empty field); from 2.0.5 on the
persons query has `passief` as a seventh column.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field, replace
from pathlib import Path

PERSONS_TABLE = (
    'CREATE TABLE "persons" ("externalId" TEXT, "achternaam" TEXT, "voornaam" TEXT, "tussenvoegsel" TEXT,'
    ' "gebruikersnaam" TEXT, "geslacht" TEXT, "email" TEXT, "createtime" TEXT)'
)
ROLES_TABLE = (
    'CREATE TABLE "roles" ("gebruikersnaam" TEXT, "ou" TEXT, "functie" TEXT, "oucode" TEXT,'
    ' "functiecode" TEXT, "createtime" TEXT)'
)
USERS_QUERY = "SELECT voornaam,tussenvoegsel,achternaam,geslacht,email,gebruikersnaam FROM persons"
ROLES_QUERY = (
    'SELECT "ou" as "Organisatorische Eenheid", "gebruikersnaam" as "Gebruikersnaam",'
    ' "functiecode" as "Functieprofiel Code" FROM roles'
)


@dataclass
class Contract:
    department: str
    department_id: str
    title: str
    code: str
    title_id: str
    in_conditions: bool = True


@dataclass
class Account:
    """The values HelloID's field mapping hands create.ps1 ($actionContext.Data), and the contracts."""

    externalId: str
    voornaam: str
    tussenvoegsel: str
    achternaam: str
    gebruikersnaam: str
    geslacht: str
    email: str
    contracts: list[Contract] = field(default_factory=list)


def literal(value: str) -> str:
    """ConvertTo-SqliteLiteral of 2.0.5."""
    return value.replace("'", "''")


class OldDatabase:
    def __init__(self, path: Path, version: str) -> None:
        assert version in ("2.0.2", "2.0.5")
        self.path, self.version = path, version
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute(PERSONS_TABLE)
        self.conn.execute(ROLES_TABLE)
        if version == "2.0.5":
            self.conn.execute('ALTER TABLE "persons" ADD COLUMN "passief" TEXT')

    def _escaped(self, value: str) -> str:
        return literal(value) if self.version == "2.0.5" else value

    def create(self, a: Account, time: str) -> None:
        """create.ps1 for a person it does not correlate: the person row, then a role per contract."""
        e = self._escaped
        if self.version == "2.0.5":
            self.conn.execute(
                "INSERT OR REPLACE INTO persons (externalId, email, achternaam, voornaam, tussenvoegsel,"
                " gebruikersnaam,geslacht,createtime,passief) VALUES"
                f" ('{a.externalId}','{a.email}','{e(a.achternaam)}','{e(a.voornaam)}','{e(a.tussenvoegsel)}',"
                f"'{a.gebruikersnaam}','{a.geslacht}','{time}',NULL);"
            )
        else:
            self.conn.execute(
                "INSERT OR REPLACE INTO persons (externalId, email, achternaam, voornaam, tussenvoegsel,"
                " gebruikersnaam,geslacht,createtime) VALUES"
                f" ('{a.externalId}','{a.email}','{a.achternaam}','{a.voornaam}','{a.tussenvoegsel}',"
                f"'{a.gebruikersnaam}','{a.geslacht}','{time}');"
            )
        for c in a.contracts:
            if not c.in_conditions:
                continue
            code = c.title_id if self.version == "2.0.5" else c.code
            self.conn.execute(
                "INSERT OR REPLACE INTO Roles ('gebruikersnaam', 'ou', 'functie', 'oucode', 'functiecode',"
                f" 'createtime') VALUES ('{a.gebruikersnaam}','{e(c.department)}','{e(c.title)}',"
                f"'{c.department_id}','{code}','{time}');"
            )

    def delete(self, reference: str) -> None:
        """delete.ps1 with HelloID's reference (the username): 2.0.5 marks the row passief
        (its changelog; the roles stay), 2.0.2 removes the person and their roles."""
        if self.version == "2.0.5":
            self.conn.execute(f"UPDATE persons SET passief = 'Ja' WHERE gebruikersnaam = '{reference}'")
        else:
            self.conn.execute(f"DELETE FROM persons WHERE gebruikersnaam = '{reference}'")
            self.conn.execute(f"DELETE FROM roles WHERE gebruikersnaam = '{reference}'")

    def close(self) -> Path:
        self.conn.close()
        return self.path


def public_export(path: Path) -> tuple[bytes, bytes]:
    """Users.csv and Roles.csv as the old export scripts write them from this database."""
    conn = sqlite3.connect(path)
    try:
        has_passief = "passief" in [r[1] for r in conn.execute("PRAGMA table_info(persons)")]
        users = conn.execute(USERS_QUERY.replace(" FROM", ",passief FROM") if has_passief else USERS_QUERY)
        users_csv = _export_csv(users, ";")
        roles_csv = _export_csv(conn.execute(ROLES_QUERY), ",")
    finally:
        conn.close()
    return users_csv, roles_csv


def _export_csv(cursor: sqlite3.Cursor, delimiter: str) -> bytes:
    """Export-Csv -NoTypeInformation -Encoding utf8 in Windows PowerShell 5.1."""

    def line(values) -> str:
        return delimiter.join('"' + ("" if v is None else str(v)).replace('"', '""') + '"' for v in values) + "\r\n"

    text = line(d[0] for d in cursor.description) + "".join(line(row) for row in cursor)
    return ("\ufeff" + text).encode("utf-8")


def parse(data: bytes, delimiter: str) -> list[list[str]]:
    """Rows of a file `_export_csv` or scmapper wrote (header included)."""
    import csv
    import io

    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=delimiter))


# --- two customers of the old connector ----------------------------------------------------------
# Each person: the HelloID person, and the values the customer's field mapping computed from it
# (written by hand: the current field mapping keeps the prefix in tussenvoegsel only; the one of
# 2.0.0-2.0.2 also appends it to achternaam).

INK = Contract("Inkoop & Aanbesteding", "OE-INK", "Inkoper", "INK2", "FP-INK-02")
FIN = Contract('Financiën, "Control" & Audit', "OE-FIN", "Budgethouder", "BUD1", "FP-BUD-01")
ICT_OLD = Contract("ICT", "OE-ICT", "Servicedesk", "ICT1", "FP-ICT-01", in_conditions=False)
NET = Contract("ICT", "OE-ICT", "Netwerkbeheerder", "ICT3", "FP-ICT-03")
DESK = Contract("ICT", "OE-ICT", "Servicedesk", "ICT1", "FP-ICT-01")
SZW = Contract("Sociale Zaken; Werk & Inkomen", "OE-SZW", "Consulent", "SZW4", "FP-SZW-04")
CTRL = Contract("Financiën", "OE-FIN", "Controller", "FIN1", "FP-FIN-01")
PO = Contract("Personeel & Organisatie", "OE-PO", "HR-adviseur", "HR3", "FP-HR-03")


def helloid_person(
    external_id: str, name: dict, gender: str, username: str, email: str, contracts: list[Contract]
) -> dict:
    full = {"GivenName": name.get("NickName"), "FamilyNamePrefix": None, "FamilyNamePartner": None}
    full.update({"FamilyNamePartnerPrefix": None, "Convention": "B", **name})
    return {
        "ExternalId": external_id,
        "DisplayName": f"{name.get('NickName')} {name['FamilyName']} ({external_id})",
        "Name": full,
        "Details": {"Gender": gender},
        "Accounts": {"MicrosoftActiveDirectory": {"sAMAccountName": username, "userPrincipalName": email}},
        "Contracts": [
            {
                "ExternalId": f"{external_id}-{i}",
                "Context": {"InConditions": c.in_conditions},
                "Department": {"ExternalId": c.department_id, "DisplayName": c.department},
                "Title": {"ExternalId": c.title_id, "Code": c.code, "Name": c.title},
            }
            for i, c in enumerate(contracts, start=1)
        ],
    }


def person_and_account(external_id, name, gender, username, email, contracts, tussenvoegsel, achternaam):
    person = helloid_person(external_id, name, gender, username, email, contracts)
    account = Account(
        external_id, name.get("NickName") or "", tussenvoegsel, achternaam, username, gender, email, contracts
    )
    return person, account


CAS = person_and_account(
    "100482",
    {"NickName": "Cas", "FamilyName": "Hoff", "FamilyNamePrefix": "van 't", "FamilyNamePartner": "Berg",
     "FamilyNamePartnerPrefix": "Op den", "Convention": "BP"},
    "M", "choff", "cas.vanthoff@gemeente-voorbeeld.nl", [INK, FIN, ICT_OLD],
    "van 't", "Hoff - Op den Berg",
)  # fmt: skip
SEAN = person_and_account(
    "100517", {"NickName": "Seán", "FamilyName": "O'Brien"}, "M", "sobrien", "sean.obrien@gemeente-voorbeeld.nl",
    [NET], "", "O'Brien",
)  # fmt: skip
ANOUK = person_and_account(
    "100733", {"NickName": "Anouk", "FamilyName": "D'Ancona"}, "V", "adancona", "anouk.dancona@gemeente-voorbeeld.nl",
    [DESK], "", "D'Ancona",
)  # fmt: skip
JAN = person_and_account(
    "100801", {"NickName": "Jan", "FamilyName": "Jansen"}, "M", "jjansen", "jan.jansen@gemeente-voorbeeld.nl",
    [SZW], "", "Jansen",
)  # fmt: skip
BRAM = person_and_account(
    "100900", {"NickName": "Bram", "FamilyName": "Boele", "FamilyNamePrefix": "van den"}, "M", "bboele",
    "bram.vandenboele@gemeente-voorbeeld.nl", [CTRL], "van den", "Boele",
)  # fmt: skip
# The same people under the field mapping of 2.0.0-2.0.2: the prefix also ends achternaam.
BRAM_OLD = (BRAM[0], replace(BRAM[1], achternaam="Boele van den"))
RIA_OLD = person_and_account(
    "100920",
    {"NickName": "Ria", "FamilyName": "Berg", "FamilyNamePrefix": "van den", "FamilyNamePartner": "Vries",
     "FamilyNamePartnerPrefix": "de", "Convention": "PB"},
    "V", "rvries", "ria.devries@gemeente-voorbeeld.nl", [PO],
    "de", "Vries - van den Berg de",
)  # fmt: skip
KEES_OLD = person_and_account(
    "100950", {"NickName": "Kees", "FamilyName": "Smit"}, "M", "ksmit", "kees.smit@gemeente-voorbeeld.nl",
    [INK], "", "Smit",
)  # fmt: skip


def customer_205(path: Path) -> Path:
    """A database written by the 2.0.5 scripts with the current field mapping: apostrophes
    escaped, a create retried (Seán: a second person row and role row), a person deleted
    (Anouk: passief 'Ja', her role stays), rows in the order HelloID created them."""
    old = OldDatabase(path, "2.0.5")
    for day, (_, account) in enumerate((JAN, CAS, SEAN, ANOUK, BRAM), start=1):
        old.create(account, f"2024-11-0{day} 09:00:00")
    old.create(SEAN[1], "2024-11-06 09:00:30")  # HelloID retried a create that timed out
    old.delete("adancona")
    return old.close()


def customer_202(path: Path) -> Path:
    """A database written by the 2.0.2 scripts with their field mapping: the prefix appended to
    achternaam, functiecode from Title.Code, a retried create (Bram)."""
    old = OldDatabase(path, "2.0.2")
    for day, (_, account) in enumerate((RIA_OLD, BRAM_OLD, JAN, KEES_OLD), start=1):
        old.create(account, f"2024-10-0{day} 09:00:00")
    old.create(BRAM_OLD[1], "2024-10-05 09:00:00")
    return old.close()
