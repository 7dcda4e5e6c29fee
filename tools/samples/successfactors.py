"""SAP SuccessFactors Employee Central, OData v2: PerPerson with its navigations expanded.

The file is one `GET /odata/v2/PerPerson?$format=json&$expand=...` response, pages
concatenated: `{"d": {"results": [PerPerson, ...]}}`. Every collection is an OData
`{"results": [...]}` wrapper, every entity carries `__metadata`, dates are `/Date(ms)/`.

Choices made here, and repeated in docs/sources/successfactors.md:
- PerPersonal holds the birth family name in `lastName` WITHOUT its prefix; the prefix is
  `namePrefix`. The partner's name is `partnerName` / `partnerNamePrefix`. `middleName` is a
  real middle name (none of these people has one) and `preferredName` the roepnaam.
- `nameFormatCode` is the tenant's own name-format coding, here the Dutch BRP "aanduiding
  naamgebruik" letters: E = B (eigen), N = BP (eigen - partner), P = P (partner),
  V = PB (partner - eigen).
- `gender` is M / F, or U when unknown.
- PerEmail: `emailType` is the picklist's external code, B = Business, P = Personal. Every
  second person also has a personal address, listed FIRST, so only `where` picks right.
- One EmpEmployment per contract (concurrent employment). Each employment has its own
  `userId`: the primary one (`isPrimary`, the first contract current on TODAY, else the
  first contract) carries the person's username, the others `<username>_<n>`; Spend Cloud
  gets the primary one on the person and on every role.
- EmpJob slices per employment: the working slice (emplStatus A) from the contract start to
  its end (9999-12-31 when open), and for a contract that really ends a termination slice
  (emplStatus T) from the next day to 9999-12-31, as SuccessFactors records a termination.
  The samples hold the full job history (a middleware export with fromDate); a plain
  PerPerson $expand gives only today's slice, which the same mapping handles.
- OU = EmpJob `department` (FODepartment external code) with `departmentNav.name`;
  function profile = `jobCode` with `jobTitle`.
- The broken people: a null personIdExternal, and null userIds (what an API user without
  permission for the field gets).

Everything people.py expects can be carried, so there are no expect/broken hooks.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from people import TODAY, Contract, Person

NAME = "successfactors"
FILE = "perperson.json"
BASE = "https://api012.successfactors.eu/odata/v2"
CODES = {"B": "E", "BP": "N", "P": "P", "PB": "V"}
GENDERS = {"M": "M", "V": "F", "O": "U"}
OPEN_END = "9999-12-31"
SINCE = "datetime'1900-01-01T00:00:00'"  # foundation objects valid since 1900
SENTINELS = (None, "9999-12-31", "2099-12-31")


def _odata(day: str | date | None) -> str | None:
    """`/Date(ms)/`: milliseconds since 1970-01-01, midnight UTC, as SuccessFactors writes dates."""
    if day is None:
        return None
    value = date.fromisoformat(day) if isinstance(day, str) else day
    return f"/Date({(value - date(1970, 1, 1)).days * 86_400_000})/"


def _meta(kind: str, key: str) -> dict[str, str]:
    return {"uri": f"{BASE}/{kind}({key.replace('None', '')})", "type": f"SFOData.{kind}"}


def _primary(person: Person) -> Contract:
    current = person.active_contracts(TODAY)
    return current[0] if current else person.contracts[0]


def _user_id(person: Person, seq: int, primary: bool) -> str | None:
    if not person.username:
        return None
    return person.username if primary else f"{person.username}_{seq}"


def _job(contract: Contract, user_id: str | None, start: str, end: str, status: str, reason: str) -> dict[str, Any]:
    key = f"seqNumber=1L,startDate=datetime'{start}T00:00:00',userId='{user_id}'"
    return {
        "__metadata": _meta("EmpJob", key),
        "userId": user_id,
        "seqNumber": "1",
        "startDate": _odata(start),
        "endDate": _odata(end),
        "company": "GVB",
        "division": "GEM",
        "department": contract.ou_code,
        "departmentNav": {
            "__metadata": _meta("FODepartment", f"externalCode='{contract.ou_code}',startDate={SINCE}"),
            "externalCode": contract.ou_code,
            "name": contract.ou_name,
        },
        "jobCode": contract.job_code,
        "jobTitle": contract.job_name,
        "emplStatus": status,
        "eventReason": reason,
    }


def _employment(person: Person, contract: Contract, seq: int, primary: bool) -> dict[str, Any]:
    user_id = _user_id(person, seq, primary)
    ends = contract.end not in SENTINELS
    slices = [_job(contract, user_id, contract.start, contract.end or OPEN_END, "A", "HIRNEW")]
    if ends:
        next_day = (date.fromisoformat(contract.end) + timedelta(days=1)).isoformat()
        slices.append(_job(contract, user_id, next_day, OPEN_END, "T", "TERMRESIGN"))
    return {
        "__metadata": _meta("EmpEmployment", f"personIdExternal='{person.number}',userId='{user_id}'"),
        "personIdExternal": person.number,
        "userId": user_id,
        "isPrimary": primary,
        "startDate": _odata(contract.start),
        "endDate": _odata(contract.end) if ends else None,
        "jobInfoNav": {"results": slices},
    }


def _emails(person: Person) -> list[dict[str, Any]]:
    def email(kind: str, address: str, primary: bool) -> dict[str, Any]:
        return {
            "__metadata": _meta("PerEmail", f"emailType='{kind}',personIdExternal='{person.number}'"),
            "personIdExternal": person.number,
            "emailType": kind,
            "emailAddress": address,
            "isPrimary": primary,
        }

    business = email("B", person.email, True)
    if int((person.number or "0")[-1]) % 2 == 0:
        return [business]
    private = f"{person.username or 'onbekend'}@thuis.example"
    return [email("P", private, False), business]


def records(person: Person) -> list[dict[str, Any]]:
    primary = _primary(person)
    hired = min(c.start for c in person.contracts)
    personal = {
        "__metadata": _meta("PerPersonal", f"personIdExternal='{person.number}',startDate=datetime'{hired}T00:00:00'"),
        "personIdExternal": person.number,
        "startDate": _odata(hired),
        "endDate": _odata(OPEN_END),
        "firstName": person.given,
        "preferredName": person.nick,
        "middleName": None,
        "initials": person.initials,
        "namePrefix": person.birth_prefix,
        "lastName": person.birth_name,
        "partnerNamePrefix": person.partner_prefix,
        "partnerName": person.partner_name,
        "nameFormatCode": CODES[person.convention],
        "gender": GENDERS[person.gender],
    }
    return [
        {
            "__metadata": _meta("PerPerson", f"'{person.number}'"),
            "personIdExternal": person.number,
            "personalInfoNav": {"results": [personal]},
            "emailNav": {"results": _emails(person)},
            "employmentNav": {
                "results": [
                    _employment(person, c, seq, c is primary) for seq, c in enumerate(person.contracts, start=1)
                ]
            },
        }
    ]


def envelope(people: list[dict[str, Any]]) -> Any:
    return {"d": {"results": people}}
