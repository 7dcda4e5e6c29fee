"""Visma Raet / Youforce HR Core Business: one person record with its employments nested.

The HR Core Business API serves persons and employments as separate collections; the
starter reads them joined by `personCode` (each person carries its `employments`), the
way HelloID's Raet source connector assembles them. The file is OData-like:
`{"value": [...]}`.

Choices made here, and repeated in docs/sources/raet.md:
- `nameAssembleOrder` arrives as numbers written as strings: 0 = PB, 1 = B, 2 = P,
  3 = BP, 4 = B. Most birth-name people get "1"; a few get "4" so both B codes are used.
- `gender` is Raet's M / V / O.
- `emailAddresses` is typed; some people also have a Private address, listed first, so
  only a mapping that picks the Business one gives the expected e-mail.
- Raet has no account name of its own. The record carries `userName`, which the
  customer's provisioning fills (written back, or added when the snapshot is built);
  null where it is missing, which makes that record broken.
- The function profile code is `jobProfile.id`; `shortName` is a short label, made
  different from the code here so a mapping reading the wrong field fails its tests.
- Open-ended employments have `dischargeDate` null; the sentinels 9999-12-31 and
  2099-12-31 stay as people.py writes them.

Everything people.py expects can be carried, so there are no expect/broken hooks.
"""

from __future__ import annotations

from typing import Any

from people import Contract, Person

NAME = "raet"
FILE = "persons.json"
CODES = {"PB": "0", "B": "1", "P": "2", "BP": "3"}
ALSO_B = {"10014", "10021"}  # these birth-name people use Raet's other B code, 4
PRIVATE_MAIL = {"10002", "10005", "10013", "10019"}  # a Private address before the Business one


def _date(value: str | None) -> str | None:
    return None if value is None else f"{value}T00:00:00"


def _assemble_order(person: Person) -> str:
    if person.convention == "B" and person.number in ALSO_B:
        return "4"
    return CODES[person.convention]


def _emails(person: Person) -> list[dict[str, str]]:
    business = {"type": "Business", "address": person.email}
    if person.number in PRIVATE_MAIL:
        return [{"type": "Private", "address": f"{person.given.lower()}.{person.number}@thuis.example"}, business]
    return [business]


def _employment(person: Person, contract: Contract) -> dict[str, Any]:
    return {
        "id": contract.id,
        "personCode": person.number,
        "hireDate": _date(contract.start),
        "dischargeDate": _date(contract.end),
        "organizationUnit": {"id": contract.ou_code, "fullName": contract.ou_name},
        "jobProfile": {
            "id": contract.job_code,
            "shortName": contract.job_name.upper()[:10],
            "fullName": contract.job_name,
        },
    }


def records(person: Person) -> list[dict[str, Any]]:
    return [
        {
            "personCode": person.number,
            "knownAs": person.nick,
            "firstNames": person.given,
            "initials": person.initials,
            "lastNameAtBirth": person.birth_name,
            "lastNameAtBirthPrefix": person.birth_prefix,
            "partnerName": person.partner_name,
            "partnerNamePrefix": person.partner_prefix,
            "nameAssembleOrder": _assemble_order(person),
            "gender": person.gender,
            "emailAddresses": _emails(person),
            "userName": person.username,
            "employments": [_employment(person, c) for c in person.contracts],
        }
    ]


def envelope(persons: list[dict[str, Any]]) -> Any:
    return {"value": persons}
