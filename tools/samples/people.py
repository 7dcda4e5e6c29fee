"""The synthetic people every starter's samples and test cases are made from.

Each person is written once, in neutral terms, with the Spend Cloud columns they must
give written out BY HAND (`prefix`, `surname`): the expectations never come from the
code under test. Each source system's module renders these people in its own record
shape and naming codes; `generate.py` writes the sample files and test cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

TODAY = date(2026, 6, 1)  # the day the test cases and the sample sync are run "on"
OPEN = None  # an open-ended contract


@dataclass(frozen=True)
class Contract:
    id: str
    start: str
    end: str | None  # None, or a sentinel such as 9999-12-31, means open-ended
    ou_code: str
    ou_name: str
    job_code: str
    job_name: str

    def active_on(self, day: date) -> bool:
        end = None if self.end in (None, "9999-12-31", "2099-12-31") else date.fromisoformat(self.end)
        return date.fromisoformat(self.start) <= day and (end is None or day <= end)


@dataclass(frozen=True)
class Person:
    number: str | None  # employee number; None for a broken record
    given: str
    nick: str | None
    initials: str
    birth_prefix: str | None
    birth_name: str
    partner_prefix: str | None
    partner_name: str | None
    convention: str  # B, P, BP or PB
    gender: str  # M, V or O: what Spend Cloud must get
    username: str | None  # None for a broken record
    email: str
    contracts: tuple[Contract, ...] = field(default_factory=tuple)
    # Written by hand: the tussenvoegsel and achternaam columns this person must give.
    prefix: str = ""
    surname: str = ""
    note: str = ""

    @property
    def first_name(self) -> str:
        return self.nick or self.given

    def active_contracts(self, day: date = TODAY) -> list[Contract]:
        return [c for c in self.contracts if c.active_on(day)]

    @property
    def broken(self) -> str | None:
        if not self.number:
            return "required column 'externalId' is empty"
        if not self.username:
            return "required column 'gebruikersnaam' is empty"
        return None


FIN = ("OE-FIN", "Financiën & Control")
HR = ("OE-PO", "Personeel & Organisatie")
ICT = ("OE-ICT", "ICT")
SZ = ("OE-SZW", "Sociale Zaken; Werk & Inkomen")
INK = ("OE-INK", 'Inkoop "Centraal"')


def _c(number: str, seq: int, start: str, end: str | None, ou: tuple[str, str], job: tuple[str, str]) -> Contract:
    return Contract(f"{number}-{seq}", start, end, ou[0], ou[1], job[0], job[1])


CONTROLLER = ("FP-FIN-01", "Controller")
ADVISEUR = ("FP-PO-02", "HR-adviseur")
BEHEER = ("FP-ICT-03", "Netwerkbeheerder")
CONSULENT = ("FP-SZW-04", "Consulent")
INKOPER = ("FP-INK-02", "Inkoper")
BUDGET = ("FP-BUD-01", "Budgethouder")

PEOPLE: tuple[Person, ...] = (
    Person(
        "10001",
        "Jan",
        None,
        "J.",
        None,
        "Jansen",
        None,
        None,
        "B",
        "M",
        "jjansen",
        "jan.jansen@voorbeeld.nl",
        (_c("10001", 1, "2015-01-01", OPEN, FIN, CONTROLLER),),
        "",
        "Jansen",
        "birth name, one contract",
    ),
    Person(
        "10002",
        "Maria",
        "Ria",
        "M.",
        "van den",
        "Berg",
        "de",
        "Vries",
        "BP",
        "V",
        "rberg",
        "ria.vandenberg@voorbeeld.nl",
        (_c("10002", 1, "2018-03-01", OPEN, HR, ADVISEUR), _c("10002", 2, "2020-01-01", "2026-12-31", FIN, BUDGET)),
        "van den",
        "Berg - de Vries",
        "birth - partner, two active contracts",
    ),
    Person(
        "10003",
        "Johannes",
        "Hans",
        "J.H.",
        "de",
        "Boer",
        "van 't",
        "Hof",
        "PB",
        "M",
        "hboer",
        "hans.deboer@voorbeeld.nl",
        (_c("10003", 1, "2012-05-01", OPEN, ICT, BEHEER),),
        "van 't",
        "Hof - de Boer",
        "partner - birth",
    ),
    Person(
        "10004",
        "Fatima",
        None,
        "F.",
        None,
        "El Amrani",
        None,
        "Bakker",
        "P",
        "V",
        "fbakker",
        "fatima.bakker@voorbeeld.nl",
        (_c("10004", 1, "2021-09-01", OPEN, SZ, CONSULENT),),
        "",
        "Bakker",
        "partner name",
    ),
    Person(
        "10005",
        "Seán",
        None,
        "S.",
        None,
        "O'Brien",
        None,
        None,
        "B",
        "M",
        "sobrien",
        "sean.o'brien@voorbeeld.nl",
        (_c("10005", 1, "2019-02-01", OPEN, ICT, BEHEER),),
        "",
        "O'Brien",
        "apostrophe in name and e-mail",
    ),
    Person(
        "10006",
        "Chloë",
        None,
        "C.",
        None,
        "D'Ancona",
        None,
        None,
        "PB",
        "V",
        "cdancona",
        "chloe.dancona@voorbeeld.nl",
        (_c("10006", 1, "2020-06-01", OPEN, INK, INKOPER),),
        "",
        "D'Ancona",
        "PB without a partner falls back to B",
    ),
    Person(
        "10007",
        "Zoë",
        None,
        "Z.",
        None,
        "Çelik-Müller",
        None,
        None,
        "B",
        "V",
        "zcelik",
        "zoe.celik@voorbeeld.nl",
        (_c("10007", 1, "2022-01-01", OPEN, FIN, CONTROLLER),),
        "",
        "Celik-Muller",
        "diacritics removed",
    ),
    Person(
        "10008",
        "Bram",
        None,
        "B.",
        "op 't",
        "Veld",
        None,
        None,
        "B",
        "M",
        "bveld",
        "bram.opteveld@voorbeeld.nl",
        (_c("10008", 1, "2016-04-01", OPEN, SZ, CONSULENT),),
        "op 't",
        "Veld",
        "prefix with apostrophe",
    ),
    Person(
        "10009",
        "Ingrid",
        "Inge",
        "I.",
        "van der",
        "Meer",
        None,
        "Smit",
        "P",
        "V",
        "ismit",
        "inge.smit@voorbeeld.nl",
        (_c("10009", 1, "2017-08-15", OPEN, HR, ADVISEUR),),
        "",
        "Smit",
        "partner name without prefix",
    ),
    Person(
        "10010",
        "Pieter",
        None,
        "P.",
        "van",
        "Dijk",
        None,
        None,
        "B",
        "M",
        "pdijk",
        "pieter.vandijk@voorbeeld.nl",
        (_c("10010", 1, "2010-01-01", "2026-05-31", ICT, BEHEER),),
        "van",
        "Dijk",
        "leaver: contract ended",
    ),
    Person(
        "10011",
        "Lotte",
        None,
        "L.",
        "de",
        "Graaf",
        None,
        None,
        "B",
        "V",
        "lgraaf",
        "lotte.degraaf@voorbeeld.nl",
        (_c("10011", 1, "2026-07-01", OPEN, FIN, BUDGET),),
        "de",
        "Graaf",
        "joiner: contract starts in the future",
    ),
    Person(
        "10012",
        "Ahmet",
        None,
        "A.",
        None,
        "Yılmaz",
        None,
        None,
        "B",
        "M",
        "ayilmaz",
        "ahmet.yilmaz@voorbeeld.nl",
        (_c("10012", 1, "2023-03-01", OPEN, SZ, CONSULENT),),
        "",
        "Yilmaz",
        "dotless i",
    ),
    Person(
        "10013",
        "Sophie",
        None,
        "S.",
        None,
        "Willems",
        None,
        None,
        "B",
        "V",
        "swillems",
        "sophie.willems@voorbeeld.nl",
        (
            _c("10013", 1, "2011-01-01", "2019-12-31", ICT, BEHEER),
            _c("10013", 2, "2020-01-01", OPEN, FIN, CONTROLLER),
            _c("10013", 3, "2024-01-01", OPEN, INK, INKOPER),
        ),
        "",
        "Willems",
        "three contracts, one ended",
    ),
    Person(
        "10014",
        "Daan",
        None,
        "D.",
        None,
        "Visser",
        None,
        None,
        "B",
        "M",
        "dvisser",
        "daan.visser@voorbeeld.nl",
        (_c("10014", 1, "2014-02-01", "9999-12-31", HR, ADVISEUR),),
        "",
        "Visser",
        "sentinel end date 9999-12-31",
    ),
    Person(
        "10015",
        "Emma",
        None,
        "E.",
        None,
        "Mulder",
        None,
        None,
        "B",
        "V",
        "emulder",
        "emma.mulder@voorbeeld.nl",
        (_c("10015", 1, "2013-07-01", "2099-12-31", INK, INKOPER),),
        "",
        "Mulder",
        "sentinel end date 2099-12-31",
    ),
    Person(
        "10016",
        "Noah",
        None,
        "N.",
        None,
        "Bos",
        None,
        None,
        "B",
        "O",
        "nbos",
        "noah.bos@voorbeeld.nl",
        (_c("10016", 1, "2021-11-01", OPEN, ICT, BEHEER),),
        "",
        "Bos",
        "gender unknown",
    ),
    Person(
        "10017",
        "Julia",
        None,
        "J.",
        "ter",
        "Horst",
        "van",
        "Leeuwen",
        "BP",
        "V",
        "jhorst",
        "julia.terhorst@voorbeeld.nl",
        (_c("10017", 1, "2018-10-01", OPEN, SZ, CONSULENT),),
        "ter",
        "Horst - van Leeuwen",
        "birth - partner with prefixes",
    ),
    Person(
        "10018",
        "Lucas",
        "Luuk",
        "L.",
        None,
        "Kramer",
        None,
        "Vos",
        "PB",
        "M",
        "lkramer",
        "luuk.kramer@voorbeeld.nl",
        (_c("10018", 1, "2019-05-01", OPEN, FIN, BUDGET),),
        "",
        "Vos - Kramer",
        "partner - birth without prefixes",
    ),
    Person(
        "10019",
        "Anna",
        None,
        "A.",
        None,
        "Brouwer",
        None,
        None,
        "B",
        "V",
        "abrouwer",
        "anna.brouwer@voorbeeld.nl",
        (_c("10019", 1, "2015-01-01", OPEN, HR, ADVISEUR), _c("10019", 2, "2022-01-01", OPEN, HR, ADVISEUR)),
        "",
        "Brouwer",
        "two identical roles collapse into one",
    ),
    Person(
        "10020",
        "Thijs",
        None,
        "T.",
        "van",
        "Leeuwen",
        None,
        None,
        "P",
        "M",
        "tleeuwen",
        "thijs.vanleeuwen@voorbeeld.nl",
        (_c("10020", 1, "2020-02-01", OPEN, ICT, BEHEER),),
        "van",
        "Leeuwen",
        "P without a partner falls back to B",
    ),
    Person(
        "10021",
        "Sanne",
        None,
        "S.",
        None,
        "Dekker",
        None,
        None,
        "B",
        "V",
        "sdekker",
        "sanne.dekker@voorbeeld.nl",
        (_c("10021", 1, "2024-09-01", OPEN, INK, INKOPER),),
        "",
        "Dekker",
        "recent joiner",
    ),
    Person(
        "10022",
        "Ömer",
        None,
        "Ö.",
        None,
        "Öztürk",
        None,
        None,
        "B",
        "M",
        "oozturk",
        "omer.ozturk@voorbeeld.nl",
        (_c("10022", 1, "2016-06-01", OPEN, SZ, CONSULENT),),
        "",
        "Ozturk",
        "diacritics in first and last name",
    ),
    Person(
        None,
        "Kees",
        None,
        "K.",
        None,
        "Zonder",
        None,
        None,
        "B",
        "M",
        "kzonder",
        "kees.zonder@voorbeeld.nl",
        (_c("x", 1, "2020-01-01", OPEN, ICT, BEHEER),),
        "",
        "Zonder",
        "broken: no employee number",
    ),
    Person(
        "10024",
        "Lisa",
        None,
        "L.",
        None,
        "Naamloos",
        None,
        None,
        "B",
        "V",
        None,
        "lisa.naamloos@voorbeeld.nl",
        (_c("10024", 1, "2020-01-01", OPEN, FIN, CONTROLLER),),
        "",
        "Naamloos",
        "broken: no username",
    ),
)


def expected_person(person: Person) -> dict[str, str]:
    """The Spend Cloud person columns (the default layout's names) this person must give."""
    return {
        "externalId": person.number or "",
        "voornaam": person.first_name,
        "tussenvoegsel": person.prefix,
        "achternaam": person.surname,
        "geslacht": person.gender,
        "gebruikersnaam": person.username or "",
        "email": person.email,
    }


def expected_roles(person: Person, day: date = TODAY) -> list[dict[str, str]]:
    """One role per active contract; identical ones once, in contract order."""
    roles: list[dict[str, str]] = []
    for contract in person.active_contracts(day):
        role = {
            "gebruikersnaam": person.username or "",
            "ou": contract.ou_name,
            "functie": contract.job_name,
            "oucode": contract.ou_code,
            "functiecode": contract.job_code,
        }
        if role not in roles:
            roles.append(role)
    return roles
