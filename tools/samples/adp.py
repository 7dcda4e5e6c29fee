"""ADP Workforce Now (Netherlands): `GET /hr/v2/workers` as `{"workers": [...]}`, and the
departments of `GET /core/v1/organization-departments` as `{"organizationDepartments": [...]}`.

Shapes as ADP's own published samples have them (marketplace-esi/postman-samples,
`workforce/hr/workers-v2-demographics` and `workforce/core`):
- a worker: associateOID, workerID.idValue, workerDates, workerStatus.statusCode.shortName
  (Active / Inactive), person {birthDate, genderCode.codeValue (M / V), legalName {givenName,
  nickName, familyName1, familyName1Prefix, initials, formattedName}}, businessCommunication
  .emails[] {emailUri}, the Dutch fields in the WORKER's customFieldGroup.stringFields[]
  {nameCode.codeValue, stringValue}: partnerFamilyName1, partnerFamilyName1Prefix,
  partnerInitials, naamSamenstelling, samengesteldeNaam, loginName; and workAssignments[]
  {itemID, actualStartDate, terminationDate and expectedTerminationDate (2099-12-31 when
  open), positionID, positionTitle, homeOrganizationalUnits[] {itemID, nameCode {codeValue,
  longName}}, jobCode {codeValue, longName}, standardHours, fullTimeEquivalenceRatio}.
- empty text is "" (not left out), as in ADP's sample; naamSamenstelling tiva = B,
  tiva-wp = BP, tiwp = P, tiwp-va = PB.
- a department: departmentCode {codeValue, shortName, longName}, parentDepartmentCode,
  departmentDescription, activeIndicator, effectiveDate.

Choices made here, and repeated in docs/sources/adp.md:
- loginName holds the username where the customer fills it; ADP's own sample leaves it empty
  for everyone, and so does this one for the person people.py gives no username. The starter
  then takes the part before the @ of the business e-mail (see `expect`).
- A worker with no gender registered has no genderCode (10016): the starter gives O, and
  sync warns that genderCode is absent.
- Status Inactive when every assignment has ended; a joiner whose start lies ahead is Active.
"""

from __future__ import annotations

import hashlib
from typing import Any

from people import TODAY, Contract, Person, expected_person, expected_roles

INPUTS = ("workers", "organizationDepartments")
CODES = {"B": "tiva", "BP": "tiva-wp", "P": "tiwp", "PB": "tiwp-va"}
OPEN = "2099-12-31"
DEPARTMENTS = {"OE-FIN": "FIN", "OE-PO": "P&O", "OE-ICT": "ICT", "OE-SZW": "SZW", "OE-INK": "Inkoop"}


def _initials(person: Person) -> str:
    """Initials as ADP writes them: the letters alone ("JH")."""
    return person.initials.replace(".", "")


def _custom(person: Person) -> list[dict[str, Any]]:
    partner = " ".join(p for p in (person.partner_prefix, person.partner_name) if p)
    values = {
        "partnerFamilyName1": person.partner_name or "",
        "partnerFamilyName1Prefix": person.partner_prefix or "",
        "partnerInitials": "",
        "naamSamenstelling": CODES[person.convention],
        "samengesteldeNaam": f"{_initials(person)} {partner or person.birth_name}",
        "loginName": person.username or "",
    }
    return [{"nameCode": {"codeValue": code}, "stringValue": value} for code, value in values.items()]


def _assignment(contract: Contract, index: int) -> dict[str, Any]:
    end = contract.end if contract.end not in (None, "9999-12-31") else OPEN
    return {
        "primaryIndicator": index == 0,
        "actualStartDate": contract.start,
        "positionID": f"{contract.id}-{contract.job_code}",
        "positionTitle": f"{contract.ou_name} - {contract.job_name}",
        "homeOrganizationalUnits": [
            {"itemID": "1", "nameCode": {"codeValue": contract.ou_code, "longName": contract.ou_name}}
        ],
        "itemID": str(index + 1),
        "jobCode": {"codeValue": contract.job_code, "longName": contract.job_name},
        "standardHours": {"hoursQuantity": 36.0, "unitCode": {"codeValue": "W", "longName": "week"}},
        "fullTimeEquivalenceRatio": 100.0,
        "terminationDate": end,
        "expectedTerminationDate": end,
    }


def _ended(person: Person) -> bool:
    return all(c.end not in (None, "9999-12-31", OPEN) and c.end < TODAY.isoformat() for c in person.contracts)


def worker(person: Person) -> dict[str, Any]:
    seed = f"{person.given} {person.birth_name}".encode()
    hired = min(c.start for c in person.contracts)
    details: dict[str, Any] = {"birthDate": "1980-01-01"}
    if person.gender in ("M", "V"):
        details["genderCode"] = {"codeValue": person.gender}
    details["legalName"] = {
        "familyName1": person.birth_name,
        "familyName1Prefix": person.birth_prefix or "",
        "formattedName": " ".join(p for p in (_initials(person), person.birth_prefix, person.birth_name) if p),
        "givenName": person.given,
        "initials": _initials(person),
        "nickName": person.nick or person.given,
    }
    return {
        "associateOID": "ADPNL" + hashlib.sha1(seed, usedforsecurity=False).hexdigest()[:8].upper(),
        "workerID": {"idValue": person.number} if person.number else {},
        "workerDates": {"originalHireDate": hired, "terminationDate": OPEN},
        "workerStatus": {"statusCode": {"shortName": "Inactive" if _ended(person) else "Active"}},
        "person": details,
        "businessCommunication": {"emails": [{"emailUri": person.email}]},
        "customFieldGroup": {"stringFields": _custom(person)},
        "workAssignments": [_assignment(c, i) for i, c in enumerate(person.contracts)],
    }


def department(code: str, name: str) -> dict[str, Any]:
    return {
        "parentDepartmentCode": {"codeValue": "" if code == "OE-GEM" else "OE-GEM"},
        "departmentCode": {"codeValue": code, "shortName": DEPARTMENTS.get(code, "Gemeente"), "longName": name},
        "departmentDescription": name,
        "activeIndicator": True,
        "effectiveDate": "1950-01-01",
    }


def snapshot(people: Any) -> dict[str, list[dict[str, Any]]]:
    units = {"OE-GEM": "Gemeente Voorbeeld"} | {c.ou_code: c.ou_name for p in people for c in p.contracts}
    return {
        "workers": [worker(p) for p in people],
        "organizationDepartments": [department(code, name) for code, name in sorted(units.items())],
    }


def pages(name: str, records: list[dict[str, Any]]) -> list[Any]:
    return [{name: records}]


def username(person: Person) -> str:
    """loginName where it is filled, else the business e-mail's part before the @."""
    return person.username or person.email.split("@")[0].lower()


def broken(person: Person) -> str | None:
    return None if person.number and not person.username else person.broken


def expect(person: Person) -> dict[str, Any]:
    roles = [{**role, "gebruikersnaam": username(person)} for role in expected_roles(person)]
    return {
        "person": {**expected_person(person), "gebruikersnaam": username(person)},
        "roles": roles,
        "active": bool(roles),
    }
