"""AFAS Profit: the standard HelloID GetConnectors, one file each, as `GET /connectors/NAME` returns
them: `{"skip": 0, "take": 1000, "rows": [...]}`.

Field lists as the connectors define them (`T4E_HelloID_Users_v2.gcn` and
`T4E_HelloID_Employments_v2.gcn` of Tools4everBV/HelloID-Conn-Prov-Source-AFAS-Profit):
- `T4E_HelloID_Users_v2`: one row per employee: Medewerker, Gebruiker, Persoonsnummer,
  DisplayName, Geblokkeerd, UPN, Email_werk_gebruiker, Profit_Windows, Connector,
  Reservekopieen_via_commandline, Commandline, InSite, OutSite, Voorletters, Roepnaam,
  Voornaam, Voorvoegsel, Geboortenaam, Geboortenaam_partner, Voorvoegsel_partner,
  Naamgebruik_code, Mobielnr_werk, Telefoonnr_werk, Email_werk, Email_portal. No gender.
- `T4E_HelloID_Employments_v2`: one row per employment (function period), joined to the user
  on Medewerker: Persoonsnummer, Naam, Organisatorische_eenheid_code/_omschrijving,
  Functie_code/_omschrijving, Kostenplaats_code/_omschrijving, Werkgever_code/_omschrijving,
  Type_contract, Dienstverband, Volgnummer_contract, Begindatum_contract, Einddatum_contract,
  Begindatum_functie, Einddatum_functie, Uren_per_week, Parttime_percentage, FTE, the
  (replacing) manager's Persoonsnummer/Medewerkernummer, ExternalID, Soort_medewerker(_code),
  Dienstbetrekking.

Value formats: every field is present, null when empty; dates `2018-03-01T00:00:00Z`;
Naamgebruik_code "0" = B, "1" = PB, "2" = P, "3" = BP (text); Geblokkeerd and the access
fields true/false; Volgnummer_contract an integer, hours and percentages numbers. The
username comes from UPN (its part before the @); the person without a username has no UPN.

`expect`: AFAS has no gender in these connectors, so geslacht is O for everyone. A user row
without Medewerker gets no employments (they join on it), so sync skips it as inactive while
its test case, which checks every record, names the empty key (`orphan`).
"""

from __future__ import annotations

from typing import Any

from entra import used_surname
from people import Contract, Person, expected_person, expected_roles

INPUTS = ("T4E_HelloID_Users_v2", "T4E_HelloID_Employments_v2")
CODES = {"B": "0", "PB": "1", "P": "2", "BP": "3"}
EMPLOYER = ("GEM", "Gemeente Voorbeeld")
COST_CENTRES = {"OE-FIN": "4100", "OE-PO": "4200", "OE-ICT": "4300", "OE-SZW": "4400", "OE-INK": "4500"}


def _date(value: str | None) -> str | None:
    return None if value is None else f"{value}T00:00:00Z"


def _person_number(person: Person) -> str | None:
    return None if person.number is None else str(int(person.number) + 50000)


def user(person: Person) -> dict[str, Any]:
    upn = f"{person.username}@voorbeeld.nl" if person.username else None
    return {
        "Medewerker": person.number,
        "Gebruiker": f"45963.{person.username}" if person.username else None,
        "Persoonsnummer": _person_number(person),
        "DisplayName": f"{person.first_name} {used_surname(person)}",
        "Geblokkeerd": False,
        "UPN": upn,
        "Email_werk_gebruiker": person.email if upn else None,
        "Profit_Windows": False,
        "Connector": False,
        "Reservekopieen_via_commandline": False,
        "Commandline": False,
        "InSite": bool(upn),
        "OutSite": False,
        "Voorletters": person.initials,
        "Roepnaam": person.nick,
        "Voornaam": person.given,
        "Voorvoegsel": person.birth_prefix,
        "Geboortenaam": person.birth_name,
        "Geboortenaam_partner": person.partner_name,
        "Voorvoegsel_partner": person.partner_prefix,
        "Naamgebruik_code": CODES[person.convention],
        "Mobielnr_werk": None,
        "Telefoonnr_werk": f"020-555{(person.number or '0000')[-4:]}",
        "Email_werk": person.email,
        "Email_portal": None,
    }


def employment(person: Person, contract: Contract, seq: int) -> dict[str, Any]:
    return {
        "Medewerker": person.number,
        "Persoonsnummer": _person_number(person),
        "Naam": f"{person.first_name} {used_surname(person)}",
        "Organisatorische_eenheid_code": contract.ou_code,
        "Organisatorische_eenheid_omschrijving": contract.ou_name,
        "Functie_code": contract.job_code,
        "Functie_omschrijving": contract.job_name,
        "Kostenplaats_code": COST_CENTRES[contract.ou_code],
        "Kostenplaats_omschrijving": f"Kostenplaats {contract.ou_name}",
        "Werkgever_code": EMPLOYER[0],
        "Werkgever_omschrijving": EMPLOYER[1],
        "Type_contract": "Onbepaalde tijd" if contract.end is None else "Bepaalde tijd",
        "Dienstverband": "Vast" if contract.end is None else "Tijdelijk",
        "Volgnummer_contract": seq,
        "Begindatum_contract": _date(contract.start),
        "Einddatum_contract": _date(contract.end),
        "Begindatum_functie": _date(contract.start),
        "Einddatum_functie": _date(contract.end),
        "Uren_per_week": 36.0,
        "Parttime_percentage": 100.0,
        "FTE": 1.0,
        "Persoonsnummer_leidinggevende": None,
        "Medewerkernummer_leidinggevende": None,
        "Persoonsnummer_VervangendLeidinggevende": None,
        "Medewerkernummer_VervangendLeidinggevende": None,
        "ExternalID": f"{person.number}_{seq}" if person.number else None,
        "Soort_medewerker": "Werknemer",
        "Soort_medewerker_code": "WN",
        "Dienstbetrekking": True,
    }


def snapshot(people: Any) -> dict[str, list[dict[str, Any]]]:
    return {
        "T4E_HelloID_Users_v2": [user(p) for p in people],
        "T4E_HelloID_Employments_v2": [
            employment(p, c, seq) for p in people for seq, c in enumerate(p.contracts, start=1)
        ],
    }


def pages(name: str, rows: list[dict[str, Any]]) -> list[Any]:
    """One GetConnector response per connector (take=1000 holds every row here)."""
    return [{"skip": 0, "take": 1000, "rows": rows}]


def expect(person: Person) -> dict[str, Any]:
    roles = expected_roles(person)
    return {"person": {**expected_person(person), "geslacht": "O"}, "roles": roles, "active": bool(roles)}


def orphan(person: Person) -> bool:
    """Whether the person's records join nothing (sync then skips them as inactive)."""
    return person.number is None
