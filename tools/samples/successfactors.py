"""SAP SuccessFactors Employee Central, OData v2: one file per entity, as `GET /odata/v2/ENTITY
?$format=json` returns it: `{"d": {"results": [...]}}`, every entity with its `__metadata`,
dates as `/Date(ms)/` (9999-12-31 is /Date(253402214400000)/).

Entities as the HelloID source connector reads them (`Persons.ps1` of
Tools4everBV/HelloID-Conn-Prov-Source-Sap-SuccessFactors), joined the way it joins them:
- `PerPerson` (personIdExternal, personId, dateOfBirth): one per person.
- `PerPersonal` (personIdExternal, startDate, endDate, firstName, lastName, middleName,
  preferredName, initials, namePrefix, partnerName, partnerNamePrefix, nameFormatCode, gender,
  formalName): the slice valid today, as the API returns effective-dated entities by default.
- `PerEmail` (personIdExternal, emailType, emailAddress, isPrimary).
- `EmpEmployment` (personIdExternal, userId, startDate, originalStartDate, endDate,
  lastDateWorked, isPrimary): one per employment (concurrent employment: several).
- `EmpJob` (userId, seqNumber, startDate, endDate, company, division, department, jobCode,
  jobTitle, emplStatus, eventReason, managerId): the slice valid today of each employment
  (a joiner, hired ahead, has none yet; a leaver's is the termination slice).
- `FODepartment` (externalCode, name, startDate, endDate, status): the departments.
- `PicklistOption` (id, externalCode, status, picklistLabels, picklist.picklistId), queried
  for the picklists these entities use: `ecEmailType` (B Business, P Personal),
  `employee-status` (A active ... T terminated) and the tenant's name-prefix picklist
  `prefix_cust` (labels "van", "van den", ...).

Value formats: emailType, emplStatus, namePrefix and partnerNamePrefix hold PICKLIST OPTION
IDS ("8448", "4595"), resolved through PicklistOption; gender M / F, U when unknown;
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

INPUTS = ("PerPerson", "PerPersonal", "PerEmail", "EmpEmployment", "EmpJob", "FODepartment", "PicklistOption")
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
    hired = min(c.start for c in person.contracts)
    return {
        "__metadata": _meta(
            "PerPersonal", f"personIdExternal='{person.number or ''}',startDate=datetime'{hired}T00:00:00'"
        ),
        "personIdExternal": person.number,
        "startDate": odata_date(hired),
        "endDate": odata_date(OPEN_END),
        "firstName": person.given,
        "lastName": person.birth_name,
        "middleName": None,
        "preferredName": person.nick,
        "initials": person.initials,
        "namePrefix": PREFIX[person.birth_prefix] if person.birth_prefix else None,
        "partnerName": person.partner_name,
        "partnerNamePrefix": PREFIX[person.partner_prefix] if person.partner_prefix else None,
        "nameFormatCode": CODES[person.convention],
        "gender": GENDERS[person.gender],
        "formalName": f"{person.given} {person.birth_name}",
    }


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


def job(person: Person, contract: Contract, seq: int) -> dict[str, Any] | None:
    """The EmpJob slice valid on TODAY: working (A) from the start to the contract's end, or the
    termination slice (T) after it; none before the start."""
    if date.fromisoformat(contract.start) > TODAY:
        return None
    user_id = _user_id(person, seq, contract)
    ended = contract.end not in SENTINELS and date.fromisoformat(str(contract.end)) < TODAY
    start = (date.fromisoformat(str(contract.end)) + timedelta(days=1)).isoformat() if ended else contract.start
    end = OPEN_END if ended or contract.end in SENTINELS else str(contract.end)
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
        "emplStatus": ID[("employee-status", "T" if ended else "A")],
        "eventReason": "TERMRESIGN" if ended else "HIRNEW",
        "managerId": "NO_MANAGER",
    }


def department(code: str, name: str) -> dict[str, Any]:
    return {
        "__metadata": _meta("FODepartment", f"externalCode='{code}',startDate=datetime'1900-01-01T00:00:00'"),
        "externalCode": code,
        "name": name,
        "startDate": odata_date("1900-01-01"),
        "endDate": odata_date(OPEN_END),
        "status": "A",
    }


def option(option_id: str) -> dict[str, Any]:
    picklist, code, label = OPTIONS[option_id]
    labels = [{"locale": "en_US", "label": label, "optionId": option_id}]
    if picklist == "prefix_cust":
        labels.append({"locale": "nl_NL", "label": label, "optionId": option_id})
    return {
        "__metadata": _meta("PicklistOption", f"{option_id}L"),
        "id": option_id,
        "externalCode": code,
        "status": "ACTIVE",
        "picklistLabels": {"results": labels},
        "picklist": {"__metadata": _meta("Picklist", f"'{picklist}'"), "picklistId": picklist},
    }


def snapshot(people: Any) -> dict[str, list[dict[str, Any]]]:
    contracts = [(p, c, seq) for p in people for seq, c in enumerate(p.contracts, start=1)]
    jobs = [j for p, c, seq in contracts if (j := job(p, c, seq))]
    units = {c.ou_code: c.ou_name for _, c, _ in contracts}
    return {
        "PerPerson": [per_person(p) for p in people],
        "PerPersonal": [per_personal(p) for p in people],
        "PerEmail": [e for p in people for e in per_emails(p)],
        "EmpEmployment": [employment(p, c, seq) for p, c, seq in contracts],
        "EmpJob": jobs,
        "FODepartment": [department(code, name) for code, name in sorted(units.items())],
        "PicklistOption": [option(i) for i in OPTIONS if len(people) > 1 or _used(i, people, jobs)],
    }


def _used(option_id: str, people: Any, jobs: list[dict[str, Any]]) -> bool:
    """Whether a single person's records name the option (a test case holds only those)."""
    named = {j["emplStatus"] for j in jobs}
    for person in people:
        personal = per_personal(person)
        named |= {e["emailType"] for e in per_emails(person)} | {personal["namePrefix"], personal["partnerNamePrefix"]}
    return option_id in named


def pages(name: str, records: list[dict[str, Any]]) -> list[Any]:
    return [{"d": {"results": records}}]


def orphan(person: Person) -> bool:
    """Whether the person's records join nothing (sync then skips them as inactive)."""
    return person.number is None or person.username is None
