"""Visma Raet HR Core Business, IAM API: one file per endpoint, as `GET /iam/v1.0/NAME` returns it:
`{"value": [...]}`, with `nextLink` on every page but the last (employees come in two pages).

Endpoints and fields as the HelloID source connector reads them (`persons.ps1` and
`departments.ps1` of Tools4everBV/HelloID-Conn-Prov-Source-Raet-Core-Business-IAM-API):
- `employees`: id, personCode, knownAs, firstNames, initials, lastNameAtBirth(Prefix),
  partnerName(Prefix), nameAssembleOrder, gender, emailAddresses[] {type, address},
  phoneNumbers[] {type, number}, extensions[] {key, value}, validFrom, validUntil.
- `employments`: id, personCode, hireDate, dischargeDate, organizationUnit and jobProfile AS
  ID STRINGS, costCenter, company, classification, contractCode, workingAmount, validFrom,
  validUntil.
- `organizationUnits` (/organizationunits): id, shortName, fullName, manager, parentOrgUnit,
  validFrom, validUntil; `jobProfiles`: id, shortName, fullName, validFrom, validUntil.

Value formats: nameAssembleOrder as digits in text, 0 = PB, 1 = B, 2 = P, 3 = BP, 4 = B (most
birth-name people get "1", a few "4"); gender Male / Female, null when not registered; dates
`2015-01-01T00:00:00`; an open employment has dischargeDate null, or a sentinel as people.py
writes it. Some people have a Private e-mail address listed before the Business one.

Raet has no account name. This customer keeps it in an extension field `userName` for a few
people (as Raet allows); for everyone else it comes from an Active Directory export joined on
the employee number (`adUsers.json`: `Get-ADUser -Filter * -Properties employeeID, mail |
Select-Object ... | ConvertTo-Json | Set-Content adUsers.json` in Windows PowerShell 5.1, which
writes the ANSI code page: Windows-1252, no byte order mark, so `Zoë` is the single byte 0xEB
and the starter declares `encoding: cp1252`), which also holds a service account without an
employeeID. The person without a username is in neither.

The function profile code is the jobProfile id; its shortName is a short label, made different
from the code so a mapping reading the wrong field fails its tests.

Versions: the IAM API publishes an employee or employment once per change, each record with the
validFrom of the change and the previous record ending the day before (its documentation's
paging example lists one employee as three versions). Here employee 10003 has two earlier
versions (another e-mail address, another known-as name), employment 10005-1 an earlier one
with another job, and employment 10007-1 a next one that begins after TODAY with another job:
only the version in effect on the run's date may reach Spend Cloud. A joiner is entered before
the first day: the employee's first version begins on REGISTERED at the latest.

Everything people.py expects can be carried. A record without personCode gets no employments
(they join on it), so sync skips it as inactive while its test case, which checks every
record, names the empty key (`orphan`).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from formats import chunks, ps51_set_content
from people import Contract, Person

INPUTS = ("employees", "employments", "organizationUnits", "jobProfiles", "adUsers")
BASE = "https://api.youforce.com/iam/v1.0"
CODES = {"PB": "0", "B": "1", "P": "2", "BP": "3"}
ALSO_B = {"10014", "10021"}  # these birth-name people use Raet's other B code, 4
PRIVATE_MAIL = {"10002", "10005", "10013", "10019"}  # a Private address before the Business one
EXTENSION = {"10003", "10008", "10017"}  # username kept in Raet itself, as extension userName
GENDERS = {"M": "Male", "V": "Female"}
PAGE = 15
SINCE, UNTIL = "1900-01-01T00:00:00", "9999-12-31T00:00:00"
REGISTERED = "2026-05-01"  # a joiner's employee record exists from here, before the first day
# Earlier employee versions: person -> [(validFrom, validUntil, fields that differed)]; the
# current version begins the day after the last one ends.
EMPLOYEE_HISTORY = {
    "10003": [
        (
            "2012-05-01",
            "2019-12-31",
            {"emailAddresses": [{"type": "Business", "address": "m.dekker@oud.voorbeeld.nl"}]},
        ),
        ("2020-01-01", "2024-02-29", {"knownAs": "Mies"}),
    ],
}
# Other employment versions: employment id -> [(validFrom, validUntil, fields that differ)]; the
# one built from people.py covers the rest of the contract.
EMPLOYMENT_HISTORY = {
    "10005-1": [("2019-02-01", "2025-12-31", {"organizationUnit": "OE-FIN", "jobProfile": "FP-FIN-01"})],
    "10007-1": [("2026-07-01", "9999-12-31", {"organizationUnit": "OE-INK", "jobProfile": "FP-INK-02"})],
}


def _date(value: str | None) -> str | None:
    return None if value is None else f"{value}T00:00:00"


def _emails(person: Person) -> list[dict[str, str]]:
    business = {"type": "Business", "address": person.email}
    if person.number in PRIVATE_MAIL:
        return [{"type": "Private", "address": f"{person.given.lower()}.{person.number}@thuis.example"}, business]
    return [business]


def employee(person: Person) -> dict[str, Any]:
    order = "4" if person.convention == "B" and person.number in ALSO_B else CODES[person.convention]
    extensions = [{"key": "userName", "value": person.username}] if person.number in EXTENSION else []
    return {
        "id": f"E{person.number}" if person.number else None,
        "personCode": person.number,
        "knownAs": person.nick,
        "firstNames": person.given,
        "initials": person.initials,
        "lastNameAtBirth": person.birth_name,
        "lastNameAtBirthPrefix": person.birth_prefix,
        "partnerName": person.partner_name,
        "partnerNamePrefix": person.partner_prefix,
        "nameAssembleOrder": order,
        "gender": GENDERS.get(person.gender),
        "emailAddresses": _emails(person),
        "phoneNumbers": [{"type": "Business", "number": f"020-555{(person.number or '0000')[-4:]}"}],
        "extensions": extensions,
        "validFrom": _date(min(REGISTERED, *(c.start for c in person.contracts))),
        "validUntil": UNTIL,
    }


def employee_versions(person: Person) -> list[dict[str, Any]]:
    current = employee(person)
    history = EMPLOYEE_HISTORY.get(person.number or "", [])
    earlier = [
        current | changes | {"validFrom": _date(start), "validUntil": _date(end)} for start, end, changes in history
    ]
    if history:
        current["validFrom"] = _date(_day_after(history[-1][1]))
    return [*earlier, current]


def employment_versions(person: Person, contract: Contract, seq: int) -> list[dict[str, Any]]:
    """The employment as people.py has it, with its versions before and after (EMPLOYMENT_HISTORY)."""
    current = employment(person, contract, seq)
    before, after = [], []
    for start, end, changes in EMPLOYMENT_HISTORY.get(current["id"], []):
        other = current | changes | {"validFrom": _date(start), "validUntil": _date(end)}
        if start <= contract.start:  # the employment began like this: the current one follows it
            current["validFrom"] = _date(_day_after(end))
            before.append(other)
        else:  # a change that takes effect later: the current one ends the day before
            current["validUntil"] = _date(_day_before(start))
            after.append(other)
    return [*before, current, *after]


def _day_after(day: str) -> str:
    return (date.fromisoformat(day) + timedelta(days=1)).isoformat()


def _day_before(day: str) -> str:
    return (date.fromisoformat(day) - timedelta(days=1)).isoformat()


def employment(person: Person, contract: Contract, seq: int) -> dict[str, Any]:
    return {
        "id": f"{person.number}-{seq}" if person.number else f"onbekend-{seq}",
        "personCode": person.number,
        "hireDate": _date(contract.start),
        "dischargeDate": _date(contract.end),
        "organizationUnit": contract.ou_code,
        "jobProfile": contract.job_code,
        "costCenter": f"KP{contract.ou_code[3:]}",
        "company": "GEM",
        "classification": "MW",
        "contractCode": str(seq),
        "workingAmount": {"amountOfWork": 36.0, "unitOfWork": "Uur", "periodOfWork": "Week"},
        "validFrom": _date(contract.start),
        "validUntil": _date(contract.end) if contract.end else UNTIL,
    }


def organization_unit(code: str, name: str) -> dict[str, Any]:
    return {
        "id": code,
        "shortName": code.removeprefix("OE-"),
        "fullName": name,
        "manager": None,
        "parentOrgUnit": None if code == "OE-GEM" else "OE-GEM",
        "validFrom": SINCE,
        "validUntil": UNTIL,
    }


def job_profile(code: str, name: str) -> dict[str, Any]:
    return {"id": code, "shortName": name.upper()[:10], "fullName": name, "validFrom": SINCE, "validUntil": UNTIL}


def ad_user(person: Person) -> dict[str, Any]:
    return {
        "Name": f"{person.nick or person.given} {person.surname or person.birth_name}",
        "sAMAccountName": person.username,
        "userPrincipalName": f"{person.username}@voorbeeld.nl",
        "mail": person.email,
        "employeeID": person.number,
        "Enabled": True,
    }


SERVICE_ACCOUNT = {
    "Name": "svc-backup",
    "sAMAccountName": "svc-backup",
    "userPrincipalName": "svc-backup@voorbeeld.nl",
    "mail": None,
    "employeeID": None,
    "Enabled": True,
}


def snapshot(people: Any) -> dict[str, list[dict[str, Any]]]:
    contracts = [c for p in people for c in p.contracts]
    units = {"OE-GEM": "Gemeente Voorbeeld"} | {c.ou_code: c.ou_name for c in contracts}
    jobs = {c.job_code: c.job_name for c in contracts}
    in_ad = [p for p in people if p.username and p.number not in EXTENSION]
    return {
        "employees": [v for p in people for v in employee_versions(p)],
        "employments": [
            v for p in people for seq, c in enumerate(p.contracts, start=1) for v in employment_versions(p, c, seq)
        ],
        "organizationUnits": [organization_unit(code, name) for code, name in sorted(units.items())],
        "jobProfiles": [job_profile(code, name) for code, name in sorted(jobs.items())],
        "adUsers": [ad_user(p) for p in in_ad] + ([SERVICE_ACCOUNT] if len(people) > 1 else []),
    }


def pages(name: str, records: list[dict[str, Any]]) -> list[Any]:
    if name == "adUsers":
        return [records]  # ConvertTo-Json of an array
    found = chunks(records, PAGE) if name == "employees" else [records]
    endpoint = name.lower() if name == "organizationUnits" else name
    return [
        {"value": page}
        | ({"nextLink": f"{BASE}/{endpoint}?skip={PAGE * (i + 1)}&take={PAGE}"} if i < len(found) - 1 else {})
        for i, page in enumerate(found)
    ]


def dump(name: str, data: Any) -> bytes:
    if name == "adUsers":
        return ps51_set_content(data)
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode()


def orphan(person: Person) -> bool:
    """Whether the person's records join nothing (sync then skips them as inactive)."""
    return person.number is None
