r"""Active Directory user objects, as Windows PowerShell 5.1 writes them:

    Get-ADUser -Filter * -SearchBase "OU=Gebruikers,DC=voorbeeld,DC=local" -Properties ... |
        Select-Object <the attributes below> | ConvertTo-Json -Depth 2   (a JSON array)

One user object per person, LDAP attribute names as selected, plus Get-ADUser's `Enabled`,
`DistinguishedName` and `AccountExpirationDate`, written as `ConvertTo-Json | Out-File
-Encoding UTF8` writes them in Windows PowerShell 5.1 (formats.ps51_json: a byte order mark,
CRLF, `'` as \u0027, a DateTime as `\/Date(ms)\/`, the UTC instant).

The same directory considerations as Entra ID (see entra.py), and these AD specifics:
- No hire date in AD: a joiner's account is created DISABLED ahead of the start date and
  enabled on the first day, so a joiner is inactive by `Enabled` alone (and still shows the
  department and title it will have: one role, inactive).
- A leaver's account is disabled and moved to OU=Uit dienst, with an account expiration at
  the end of the last contract day: "end of 31-12-2025" in Active Directory Users and
  Computers is 2026-01-01 00:00 local time, which PowerShell writes as the UTC instant
  2025-12-31T23:00Z, i.e. /Date(1767222000000)/.
- The provisioning that fills AD writes the OU code to `extensionAttribute1` and the
  function-profile code to `extensionAttribute2`, beside `department` and `title`.
- `sAMAccountName` is mandatory in AD; the person without a username is a record whose
  sAMAccountName is null, as an export that lost the attribute gives it.

So `expect` states what AD can give: people.py's person columns with geslacht O; ONE role,
from the primary contract, unless the account expired (a leaver); active only for an
enabled account with that role, i.e. a person with a contract current on TODAY.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from entra import has_left, leave_date, primary_contract, primary_role, used_surname
from formats import ps51_json
from people import TODAY, Person, expected_person

INPUTS = ("users",)
DOMAIN = "voorbeeld.nl"
BASE_DN = "DC=voorbeeld,DC=local"


def _amsterdam_offset(day: date) -> int:
    """Hours ahead of UTC at midnight starting `day` in the Netherlands (CEST from the last
    Sunday of March to the last Sunday of October)."""

    def last_sunday(month: int) -> date:
        end = date(day.year, month, 31)
        return end - timedelta(days=(end.weekday() + 1) % 7)

    return 2 if last_sunday(3) < day <= last_sunday(10) else 1


def _expiration(last_day: str | None) -> str | None:
    """AccountExpirationDate for "end of last_day": the next local midnight, as /Date(ms)/."""
    if last_day is None:
        return None
    next_day = date.fromisoformat(last_day) + timedelta(days=1)
    wall_clock = datetime(next_day.year, next_day.month, next_day.day, tzinfo=UTC)  # 00:00 read as UTC
    instant = wall_clock - timedelta(hours=_amsterdam_offset(next_day))
    return f"/Date({int(instant.timestamp() * 1000)})/"


def _enabled(person: Person) -> bool:
    return bool(person.active_contracts(TODAY))


def user(person: Person) -> dict[str, Any]:
    contract = primary_contract(person)
    surname = used_surname(person)
    name = f"{person.first_name} {surname}"
    ou = "OU=Uit dienst" if has_left(person) else "OU=Medewerkers"
    return {
        "DistinguishedName": f"CN={name},{ou},OU=Gebruikers,{BASE_DN}",
        "Enabled": _enabled(person),
        "sAMAccountName": person.username,
        "userPrincipalName": f"{person.username}@{DOMAIN}" if person.username else None,
        "mail": person.email,
        "employeeID": person.number,
        "givenName": person.first_name,
        "sn": surname,
        "initials": person.initials,
        "title": contract.job_name,
        "department": contract.ou_name,
        "extensionAttribute1": contract.ou_code,
        "extensionAttribute2": contract.job_code,
        "AccountExpirationDate": _expiration(leave_date(person)),
    }


def snapshot(people: Any) -> dict[str, list[dict[str, Any]]]:
    return {"users": [user(p) for p in people]}


def pages(name: str, users: list[dict[str, Any]]) -> list[Any]:
    return [users]  # ConvertTo-Json of the whole array


def dump(name: str, data: Any) -> bytes:
    return ps51_json(data)


def expect(person: Person) -> dict[str, Any]:
    roles = [] if has_left(person) else [primary_role(person)]
    return {
        "person": {**expected_person(person), "geslacht": "O"},
        "roles": roles,
        "active": _enabled(person) and bool(roles),
    }
