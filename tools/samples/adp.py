"""ADP Workforce Now workers (hr/v2/workers): one worker with its workAssignments nested.

The file is what the workers endpoint returns, pages concatenated: `{"workers": [...]}`.
ADP leaves out what is not filled in, and so do these samples: no `nickName` or
`familyName1Prefix` when there is none, no `genderCode` when the gender is unknown, no
`terminationDate` on an open-ended assignment, no custom field without a value.

Choices made here, and repeated in docs/sources/adp.md:
- ADP has no fields for the partner's name, the name convention or the account name.
  They are customer-defined custom fields in `person.customFieldGroup.stringFields`,
  each `{"itemID", "nameCode": {"codeValue", "shortName"}, "stringValue"}`, with the
  codes partnerName, partnerNamePrefix, nameConvention and userName. A worker whose
  userName field is missing is broken.
- nameConvention holds the codes tiva = B, tiva-wp = BP, tiwp = P, tiwp-va = PB.
- Gender is `person.genderCode.codeValue` MALE / FEMALE, left out when unknown.
- The business e-mail is `businessCommunication.emails[0].emailUri`.
- OU and function profile come from `workAssignments[].organizationalUnit.departmentCode`
  and `jobCode`, both `{codeValue, longName}`.
- A worker without an employee number has a `workerID` without `idValue`.

Everything people.py expects can be carried, so there are no expect/broken hooks.
"""

from __future__ import annotations

import hashlib
from typing import Any

from people import TODAY, Contract, Person

NAME = "adp"
FILE = "workers.json"
CODES = {"B": "tiva", "BP": "tiva-wp", "P": "tiwp", "PB": "tiwp-va"}
GENDERS = {"M": {"codeValue": "MALE", "shortName": "Male"}, "V": {"codeValue": "FEMALE", "shortName": "Female"}}
CUSTOM = {  # codeValue: (itemID, shortName) as the customer's ADP set-up would define them
    "partnerName": ("9200101", "Achternaam partner"),
    "partnerNamePrefix": ("9200102", "Voorvoegsel partner"),
    "nameConvention": ("9200103", "Naamsamenstelling"),
    "userName": ("9200104", "Gebruikersnaam"),
}


def _compact(data: dict[str, Any]) -> dict[str, Any]:
    """ADP leaves out empty fields."""
    return {k: v for k, v in data.items() if v not in (None, "", [], {})}


def _custom_fields(person: Person) -> list[dict[str, Any]]:
    values = {
        "partnerName": person.partner_name,
        "partnerNamePrefix": person.partner_prefix,
        "nameConvention": CODES[person.convention],
        "userName": person.username,
    }
    return [
        {"itemID": CUSTOM[code][0], "nameCode": {"codeValue": code, "shortName": CUSTOM[code][1]}, "stringValue": value}
        for code, value in values.items()
        if value
    ]


def _assignment(contract: Contract, primary: bool) -> dict[str, Any]:
    return _compact(
        {
            "itemID": contract.id,
            "primaryIndicator": primary,
            "actualStartDate": contract.start,
            "terminationDate": contract.end,
            "organizationalUnit": {"departmentCode": {"codeValue": contract.ou_code, "longName": contract.ou_name}},
            "jobCode": {"codeValue": contract.job_code, "shortName": contract.job_name, "longName": contract.job_name},
        }
    )


def records(person: Person) -> list[dict[str, Any]]:
    seed = f"{person.given} {person.birth_name}".encode()
    ended = all(c.end not in (None, "9999-12-31", "2099-12-31") and c.end < TODAY.isoformat() for c in person.contracts)
    legal = _compact(
        {
            "givenName": person.given,
            "nickName": person.nick,
            "familyName1Prefix": person.birth_prefix,
            "familyName1": person.birth_name,
            "initials": person.initials,
            "formattedName": " ".join(p for p in (person.first_name, person.birth_prefix, person.birth_name) if p),
        }
    )
    return [
        {
            "associateOID": "G3" + hashlib.sha1(seed, usedforsecurity=False).hexdigest()[:14].upper(),
            "workerID": _compact({"idValue": person.number}),
            "workerStatus": {"statusCode": {"codeValue": "Terminated" if ended else "Active"}},
            "person": _compact(
                {
                    "legalName": legal,
                    "genderCode": GENDERS.get(person.gender),
                    "customFieldGroup": {"stringFields": _custom_fields(person)},
                }
            ),
            "businessCommunication": {"emails": [{"nameCode": {"codeValue": "Work E-mail"}, "emailUri": person.email}]},
            "workAssignments": [_assignment(c, i == 0) for i, c in enumerate(person.contracts)],
        }
    ]


def envelope(workers: list[dict[str, Any]]) -> Any:
    return {"workers": workers}
