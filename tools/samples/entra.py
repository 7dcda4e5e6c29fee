"""Microsoft Entra ID users (Graph `GET /v1.0/users?$select=...`): one user per person.

Each file is one page of the Graph response, `{"@odata.context": ..., "value": [...]}`, every
page but the last with its `@odata.nextLink` (pages of 15 here: `users.json`, `users.2.json`).
The $select names the attributes the starter reads: without it Graph leaves out employeeId,
department, accountEnabled, employeeHireDate, employeeLeaveDateTime and
onPremisesSamAccountName. Selected attributes without a value come as null.

A directory is not an HR system, and these records say only what a directory can say:
- One account per person, no contracts. `department` and `jobTitle` are those of the
  person's primary contract: the first one current on TODAY (the first in contract order
  when there are several), else the future one of a joiner, else the last one of a leaver.
- `employeeHireDate` is the first contract's start; `employeeLeaveDateTime` the end of the
  last contract when every contract ends (23:59:59Z that day), else null.
- `accountEnabled` is false once that leave date has passed. A joiner's account exists and
  is enabled ahead of the start date (to enrol MFA); the hire date keeps it out until then.
- `surname` is the name the person uses, written out with its prefixes, as the HR-to-directory
  provisioning composed it from the naming convention ("van den Berg - de Vries"); Graph has
  no prefix, partner-name or convention attributes. `givenName` is the roepnaam.
- There is no gender in Graph.
- `onPremisesSamAccountName` is the login; the person without a username is a cloud-only
  account (it has none), whose UPN is their e-mail address.
- No OU or function-profile codes: the mapping looks the codes up by department name and job
  title in its own tables.

So `expect` states what the directory CAN give, by these rules, written out below:
- person columns as people.py has them (the used surname splits back into the prefix and the
  rest, see `used_surname`), except geslacht, which is always O;
- at most ONE role: the primary contract's, and only for a person with a contract current
  on TODAY (a joiner's hire date is ahead, a leaver's leave date is past); so the second
  contract of 10002 and 10013 is not there;
- active when that role is there (every such account is enabled).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from formats import chunks
from people import TODAY, Contract, Person, expected_person

INPUTS = ("users",)
DOMAIN = "voorbeeld.nl"
PAGE = 15
GRAPH = "https://graph.microsoft.com/v1.0"
SENTINELS = (None, "9999-12-31", "2099-12-31")
SELECT = (
    "id,employeeId,givenName,surname,displayName,userPrincipalName,mail,department,jobTitle,"
    "accountEnabled,onPremisesSamAccountName,employeeHireDate,employeeLeaveDateTime"
)


def used_surname(person: Person) -> str:
    """The surname as the person uses it, prefixes included, by their naming convention."""
    birth = " ".join(p for p in (person.birth_prefix, person.birth_name) if p)
    partner = " ".join(p for p in (person.partner_prefix, person.partner_name) if p)
    if not person.partner_name or person.convention == "B":
        return birth
    return {"P": partner, "BP": f"{birth} - {partner}", "PB": f"{partner} - {birth}"}[person.convention]


def primary_contract(person: Person) -> Contract:
    """The contract the directory shows: current, else a joiner's future one, else the last one."""
    current = person.active_contracts(TODAY)
    if current:
        return current[0]
    future = [c for c in person.contracts if date.fromisoformat(c.start) > TODAY]
    if future:
        return min(future, key=lambda c: c.start)
    return max(person.contracts, key=lambda c: c.end or "")


def hire_date(person: Person) -> str:
    return min(c.start for c in person.contracts)


def leave_date(person: Person) -> str | None:
    """The last contract's end when every contract ends; None while any is open-ended."""
    if any(c.end in SENTINELS for c in person.contracts):
        return None
    return max(c.end for c in person.contracts if c.end)


def has_left(person: Person) -> bool:
    left = leave_date(person)
    return left is not None and date.fromisoformat(left) < TODAY


def primary_role(person: Person) -> dict[str, str]:
    contract = primary_contract(person)
    return {
        "gebruikersnaam": person.username or "",
        "ou": contract.ou_name,
        "functie": contract.job_name,
        "oucode": contract.ou_code,
        "functiecode": contract.job_code,
    }


def user(person: Person) -> dict[str, Any]:
    contract = primary_contract(person)
    left = leave_date(person)
    upn = f"{person.username}@{DOMAIN}" if person.username else person.email
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{person.given}.{person.birth_name}.{DOMAIN}")),
        "employeeId": person.number,
        "accountEnabled": not has_left(person),
        "displayName": f"{person.first_name} {used_surname(person)}",
        "givenName": person.first_name,
        "surname": used_surname(person),
        "userPrincipalName": upn,
        "mail": person.email,
        "onPremisesSamAccountName": person.username,
        "department": contract.ou_name,
        "jobTitle": contract.job_name,
        "employeeHireDate": f"{hire_date(person)}T00:00:00Z",
        "employeeLeaveDateTime": f"{left}T23:59:59Z" if left else None,
    }


def snapshot(people: Any) -> dict[str, list[dict[str, Any]]]:
    return {"users": [user(p) for p in people]}


def pages(name: str, users: list[dict[str, Any]]) -> list[Any]:
    found = chunks(users, PAGE)
    context = {"@odata.context": f"{GRAPH}/$metadata#users({SELECT})"}
    skip = "RFNwdAIAAQAAAB86dXNlcnM"  # an opaque $skiptoken, as Graph hands it out
    return [
        context
        | (
            {"@odata.nextLink": f"{GRAPH}/users?$select={SELECT}&$top={PAGE}&$skiptoken={skip}{i}"}
            if i < len(found) - 1
            else {}
        )
        | {"value": page}
        for i, page in enumerate(found)
    ]


def expect(person: Person) -> dict[str, Any]:
    current = bool(person.active_contracts(TODAY))
    roles = [primary_role(person)] if current else []
    return {"person": {**expected_person(person), "geslacht": "O"}, "roles": roles, "active": bool(roles)}
