"""SAP SuccessFactors Employee Central, OData v2: one file per entity, as `GET /odata/v2/ENTITY
?$format=json` returns it: `{"d": {"results": [...]}}`, every entity with its `__metadata`,
dates as `/Date(ms)/` (9999-12-31 is /Date(253402214400000)/).

Entities as the HelloID source connector reads them (`Persons.ps1` of
Tools4everBV/HelloID-Conn-Prov-Source-Sap-SuccessFactors), joined the way it joins them:
- `PerPerson` (personIdExternal, personId, dateOfBirth): one per person.
- `PerPersonal` (personIdExternal, startDate, endDate, firstName, lastName, middleName,
  preferredName, initials, partnerName, partnerNamePrefix, nameFormatCode, gender, formalName):
  the name prefix is in `middleName`, as the connector reads it: a `prefix_cust` option id, or
  the prefix as plain text where the tenant typed it (PLAIN_PREFIX); likewise partnerNamePrefix.
- `PerEmail` (personIdExternal, emailType, emailAddress, isPrimary).
- `EmpEmployment` (personIdExternal, userId, startDate, originalStartDate, endDate,
  lastDateWorked, isPrimary): one per employment (concurrent employment: several).
- `EmpJob` (userId, seqNumber, startDate, endDate, company, division, department, jobCode,
  jobTitle, emplStatus, eventReason, managerId): every slice of each employment, as fetched
  with fromDate and toDate: the working slice from the start (a joiner's begins in the future),
  and after a contract's end the termination slice (T).
- `FODepartment` (externalCode, name, startDate, endDate, status): the departments, one of them
  renamed this year (two slices).
- `Picklist`: one `Picklist('ID')?$expand=picklistOptions/picklistLabels` response per file, a
  single entity under `d` with `picklistOptions.results`, each option's labels under
  `picklistLabels.results`: `ecEmailType` (B Business, P Personal), `employee-status` (A active
  ... T terminated) and the tenant's name-prefix picklist `prefix_cust` ("van", "van den", ...).

Value formats: emailType, emplStatus, middleName and partnerNamePrefix hold PICKLIST OPTION
IDS ("8448", "4595"), resolved through the picklists; gender M / F, U when unknown;
nameFormatCode is the tenant's own coding, here the Dutch BRP "aanduiding naamgebruik"
letters E = B, N = BP, P = P, V = PB. Every odd employee number also has a Personal e-mail,
listed first. Each employment has its own userId: the primary one (isPrimary: the first
contract current today, else the first) carries the person's username, others
`<username>_<n>`; the broken person without a username has null userIds.

Everything people.py expects can be carried. A PerPerson without personIdExternal gets
nothing attached (everything joins on it), and the person whose employments have no userId
gets no jobs (they join on it): sync skips both as inactive (`orphan`), while their test
cases, which check every record, name the empty column.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from formats import SENTINELS, odata_date
from people import TODAY, Contract, Person

INPUTS = ("PerPerson", "PerPersonal", "PerEmail", "EmpEmployment", "EmpJob", "FODepartment", "Picklist")
BASE = "https://api012.successfactors.eu/odata/v2"
CODES = {"B": "E", "BP": "N", "P": "P", "PB": "V"}
GENDERS = {"M": "M", "V": "F", "O": "U"}
OPEN_END = "9999-12-31"
# Picklist option ids as this tenant has them: (picklist, external code, label) by id.
OPTIONS = {
    "8448": ("ecEmailType", "B", "Business"),
    "8449": ("ecEmailType", "P", "Personal"),
    "4595": ("employee-status", "A", "Active"),
    "4596": ("employee-status", "U", "Unpaid Leave"),
    "4597": ("employee-status", "P", "Paid Leave"),
    "4598": ("employee-status", "S", "Suspended"),
    "4599": ("employee-status", "T", "Terminated"),
    "4600": ("employee-status", "R", "Retired"),
    "9101": ("prefix_cust", "VAN", "van"),
    "9102": ("prefix_cust", "VAN_DEN", "van den"),
    "9103": ("prefix_cust", "VAN_DER", "van der"),
    "9104": ("prefix_cust", "DE", "de"),
    "9105": ("prefix_cust", "TER", "ter"),
    "9106": ("prefix_cust", "VAN_T", "van 't"),
    "9107": ("prefix_cust", "OP_T", "op 't"),
}
ID = {(picklist, code): option for option, (picklist, code, _) in OPTIONS.items()}
PREFIX = {label: option for option, (picklist, _, label) in OPTIONS.items() if picklist == "prefix_cust"}
PICKLISTS = ("ecEmailType", "employee-status", "prefix_cust")
REGISTERED = "2026-05-01"  # a joiner's personal data exists from here, before the first day
PLAIN_PREFIX = {"10008", "10017"}  # their prefixes typed as text in middleName, not picked from prefix_cust
# A department renamed this year: (its name until RENAMED_ON, the day the new one applies).
RENAMED = {"OE-SZW": ("Sociale Zaken", "2026-01-01")}


def _meta(kind: str, key: str) -> dict[str, str]:
    return {"uri": f"{BASE}/{kind}({key})", "type": f"SFOData.{kind}"}


def _primary(person: Person) -> Contract:
    current = person.active_contracts(TODAY)
    return current[0] if current else person.contracts[0]


def _user_id(person: Person, seq: int, contract: Contract) -> str | None:
    if not person.username:
        return None
    return person.username if contract is _primary(person) else f"{person.username}_{seq}"


def per_person(person: Person) -> dict[str, Any]:
    return {
        "__metadata": _meta("PerPerson", f"'{person.number or ''}'"),
        "personIdExternal": person.number,
        "personId": str(2000 + int(person.number)) if person.number else None,
        "dateOfBirth": odata_date("1980-01-01"),
    }


def per_personal(person: Person) -> dict[str, Any]:
    hired = min(REGISTERED, *(c.start for c in person.contracts))  # a joiner is entered ahead
    return {
        "__metadata": _meta(
            "PerPersonal", f"personIdExternal='{person.number or ''}',startDate=datetime'{hired}T00:00:00'"
        ),
        "personIdExternal": person.number,
        "startDate": odata_date(hired),
        "endDate": odata_date(OPEN_END),
        "firstName": person.given,
        "lastName": person.birth_name,
        "middleName": _prefix(person, person.birth_prefix),
        "preferredName": person.nick,
        "initials": person.initials,
        "namePrefix": None,
        "partnerName": person.partner_name,
        "partnerNamePrefix": _prefix(person, person.partner_prefix),
        "nameFormatCode": CODES[person.convention],
        "gender": GENDERS[person.gender],
        "formalName": f"{person.given} {person.birth_name}",
    }


def _prefix(person: Person, prefix: str | None) -> str | None:
    if not prefix:
        return None
    return prefix if person.number in PLAIN_PREFIX else PREFIX[prefix]


def per_emails(person: Person) -> list[dict[str, Any]]:
    def email(code: str, address: str, primary: bool) -> dict[str, Any]:
        kind = ID[("ecEmailType", code)]
        return {
            "__metadata": _meta("PerEmail", f"emailType='{kind}',personIdExternal='{person.number or ''}'"),
            "personIdExternal": person.number,
            "emailType": kind,
            "emailAddress": address,
            "isPrimary": primary,
        }

    business = email("B", person.email, True)
    if int((person.number or "0")[-1]) % 2 == 0:
        return [business]
    return [email("P", f"{person.username or 'onbekend'}@thuis.example", False), business]


def employment(person: Person, contract: Contract, seq: int) -> dict[str, Any]:
    ends = contract.end not in SENTINELS
    user_id = _user_id(person, seq, contract)
    return {
        "__metadata": _meta("EmpEmployment", f"personIdExternal='{person.number or ''}',userId='{user_id or ''}'"),
        "personIdExternal": person.number,
        "userId": user_id,
        "startDate": odata_date(contract.start),
        "originalStartDate": odata_date(contract.start),
        "endDate": odata_date(contract.end) if ends else None,
        "lastDateWorked": odata_date(contract.end) if ends else None,
        "isPrimary": contract is _primary(person),
    }


def jobs(person: Person, contract: Contract, seq: int) -> list[dict[str, Any]]:
    """The EmpJob slices of a contract: working (A) from its start to its end, and after an end
    the termination slice (T), open-ended."""
    user_id = _user_id(person, seq, contract)
    ends = contract.end not in SENTINELS
    found = [_slice(user_id, contract, contract.start, str(contract.end) if ends else OPEN_END, "A")]
    if ends:
        after = (date.fromisoformat(str(contract.end)) + timedelta(days=1)).isoformat()
        found.append(_slice(user_id, contract, after, OPEN_END, "T"))
    return found


def _slice(user_id: str | None, contract: Contract, start: str, end: str, status: str) -> dict[str, Any]:
    return {
        "__metadata": _meta("EmpJob", f"seqNumber=1L,startDate=datetime'{start}T00:00:00',userId='{user_id or ''}'"),
        "userId": user_id,
        "seqNumber": "1",
        "startDate": odata_date(start),
        "endDate": odata_date(end),
        "company": "GVB",
        "division": "GEM",
        "department": contract.ou_code,
        "jobCode": contract.job_code,
        "jobTitle": contract.job_name,
        "emplStatus": ID[("employee-status", status)],
        "eventReason": "TERMRESIGN" if status == "T" else "HIRNEW",
        "managerId": "NO_MANAGER",
    }


def departments(code: str, name: str) -> list[dict[str, Any]]:
    """A department's slices: one, or two where it was renamed (RENAMED)."""
    if code not in RENAMED:
        return [_department(code, name, "1900-01-01", OPEN_END)]
    old, renamed_on = RENAMED[code]
    until = (date.fromisoformat(renamed_on) - timedelta(days=1)).isoformat()
    return [_department(code, old, "1900-01-01", until), _department(code, name, renamed_on, OPEN_END)]


def _department(code: str, name: str, start: str, end: str) -> dict[str, Any]:
    return {
        "__metadata": _meta("FODepartment", f"externalCode='{code}',startDate=datetime'{start}T00:00:00'"),
        "externalCode": code,
        "name": name,
        "startDate": odata_date(start),
        "endDate": odata_date(end),
        "status": "A",
    }


def picklist(picklist_id: str) -> dict[str, Any]:
    """`Picklist('ID')?$expand=picklistOptions/picklistLabels`: the entity under `d`."""
    return {
        "__metadata": _meta("Picklist", f"'{picklist_id}'"),
        "picklistId": picklist_id,
        "picklistOptions": {"results": [_option(i) for i, (name, _, _) in OPTIONS.items() if name == picklist_id]},
    }


def _option(option_id: str) -> dict[str, Any]:
    picklist_id, code, label = OPTIONS[option_id]
    labels = [("en_US", label)] + ([("nl_NL", label)] if picklist_id == "prefix_cust" else [])
    return {
        "__metadata": _meta("PicklistOption", f"{option_id}L"),
        "id": option_id,
        "externalCode": code,
        "status": "ACTIVE",
        "picklistLabels": {
            "results": [
                {
                    "__metadata": _meta("PicklistLabel", f"locale='{locale}',optionId={option_id}L"),
                    "optionId": option_id,
                    "locale": locale,
                    "label": text,
                }
                for locale, text in labels
            ]
        },
    }


def snapshot(people: Any) -> dict[str, list[dict[str, Any]]]:
    contracts = [(p, c, seq) for p in people for seq, c in enumerate(p.contracts, start=1)]
    slices = [j for p, c, seq in contracts for j in jobs(p, c, seq)]
    units = {c.ou_code: c.ou_name for _, c, _ in contracts}
    named = _named(people, slices)
    return {
        "PerPerson": [per_person(p) for p in people],
        "PerPersonal": [per_personal(p) for p in people],
        "PerEmail": [e for p in people for e in per_emails(p)],
        "EmpEmployment": [employment(p, c, seq) for p, c, seq in contracts],
        "EmpJob": slices,
        "FODepartment": [d for code, name in sorted(units.items()) for d in departments(code, name)],
        "Picklist": [picklist(i) for i in PICKLISTS if len(people) > 1 or i in named],
    }


def _named(people: Any, slices: list[dict[str, Any]]) -> set[str]:
    """The picklists a single person's records name (a test case holds only those)."""
    options = {j["emplStatus"] for j in slices}
    for person in people:
        personal = per_personal(person)
        options |= {e["emailType"] for e in per_emails(person)} | {
            personal["middleName"],
            personal["partnerNamePrefix"],
        }
    return {OPTIONS[o][0] for o in options if o in OPTIONS}


def pages(name: str, records: list[dict[str, Any]]) -> list[Any]:
    if name == "Picklist":
        return [{"d": record} for record in records]  # one response per picklist
    return [{"d": {"results": records}}]


def orphan(person: Person) -> bool:
    """Whether the person's records join nothing (sync then skips them as inactive)."""
    return person.number is None or person.username is None
