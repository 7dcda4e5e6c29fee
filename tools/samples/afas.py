"""AFAS Profit GetConnector rows: one row per employment, employee fields repeated."""

from __future__ import annotations

from typing import Any

from people import Person

NAME = "afas"
FILE = "employees.json"
CODES = {"B": "0", "PB": "1", "P": "2", "BP": "3"}


def _date(value: str | None) -> str | None:
    return None if value is None else f"{value}T00:00:00Z"


def records(person: Person) -> list[dict[str, Any]]:
    base = {
        "Medewerker": person.number,
        "Roepnaam": person.nick,
        "Voornaam": person.given,
        "Voorletters": person.initials,
        "Voorvoegsel": person.birth_prefix,
        "Geboortenaam": person.birth_name,
        "Voorvoegsel_partner": person.partner_prefix,
        "Geboortenaam_partner": person.partner_name,
        "Naamgebruik_code": CODES[person.convention],
        "Geslacht": person.gender,
        "Email_werk": person.email,
        "UPN": f"{person.username}@voorbeeld.nl" if person.username else None,
    }
    return [
        {
            **base,
            "Begindatum_functie": _date(c.start),
            "Einddatum_functie": _date(c.end),
            "Organisatorische_eenheid_code": c.ou_code,
            "Organisatorische_eenheid_omschrijving": c.ou_name,
            "Functie_code": c.job_code,
            "Functie_omschrijving": c.job_name,
        }
        for c in person.contracts
    ]


def envelope(rows: list[dict[str, Any]]) -> Any:
    return {"skip": 0, "take": 1000, "rows": rows}
