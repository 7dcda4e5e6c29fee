"""The SuccessFactors starter on the files the HelloID connector's Persons.ps1 fetches: the
picklists as `Picklist('ID')` responses (one entity under `d` each), the name prefix in
`middleName` (an option id or typed text), effective-dated PerPersonal, EmpJob and FODepartment."""

import json

from conftest import ROOT, rows, run_cli

SF = ROOT / "mappings" / "successfactors.yaml"
OPEN = "/Date(253402214400000)/"  # 9999-12-31


def ms(day: str) -> str:
    from datetime import UTC, datetime

    return f"/Date({int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp() * 1000)})/"


def picklist(picklist_id, *options):
    return {
        "d": {
            "__metadata": {"type": "SFOData.Picklist"},
            "picklistId": picklist_id,
            "picklistOptions": {
                "results": [
                    {
                        "id": option_id,
                        "externalCode": code,
                        "status": "ACTIVE",
                        "picklistLabels": {
                            "results": [
                                {"optionId": option_id, "locale": "nl_NL", "label": label.upper()},
                                {"optionId": option_id, "locale": "en_US", "label": label},
                            ]
                        },
                    }
                    for option_id, code, label in options
                ]
            },
        }
    }


def personal(person, middle, last, partner_prefix=None, partner=None, convention="E", start="2020-01-01", end=None):
    return {
        "personIdExternal": person,
        "startDate": ms(start),
        "endDate": ms(end) if end else OPEN,
        "firstName": f"Voornaam{person}",
        "preferredName": None,
        "lastName": last,
        "middleName": middle,
        "partnerName": partner,
        "partnerNamePrefix": partner_prefix,
        "nameFormatCode": convention,
        "gender": "F",
    }


def job(user, department, code, start="2020-01-01", end=None, status="4595"):
    return {
        "userId": user,
        "seqNumber": "1",
        "startDate": ms(start),
        "endDate": ms(end) if end else OPEN,
        "department": department,
        "jobCode": code,
        "jobTitle": f"Functie {code}",
        "emplStatus": status,
    }


def write(tmp_path, **entities):
    paths = []
    for name, content in entities.items():
        for index, page in enumerate(content if name == "Picklist" else [content]):
            path = tmp_path / (f"{name}.json" if index == 0 else f"{name}.{index + 1}.json")
            path.write_text(json.dumps(page if name == "Picklist" else {"d": {"results": page}}), "utf-8")
            paths.append(str(path))
    return paths


def files(tmp_path):
    people = ["1", "2", "3"]
    return write(
        tmp_path,
        PerPerson=[{"personIdExternal": p} for p in people],
        PerPersonal=[
            # an earlier slice with another name: ended, so not the one in effect
            personal("1", "9102", "Berg", start="2015-01-01", end="2019-12-31"),
            personal("1", "9102", "Bergh"),  # van den, picked from prefix_cust
            personal("2", "d'", "Hondt"),  # typed as text
            personal("3", "9106", "Hof", partner_prefix="van", partner="Dijk", convention="V"),
        ],
        PerEmail=[
            {"personIdExternal": p, "emailType": t, "emailAddress": f"{p}.{t}@voorbeeld.nl"}
            for p in people
            for t in ("8449", "8448")  # the Personal address first
        ],
        EmpEmployment=[
            {"personIdExternal": "1", "userId": "u1", "isPrimary": True},
            {"personIdExternal": "1", "userId": "u1_2", "isPrimary": False},
            {"personIdExternal": "2", "userId": "u2", "isPrimary": True},
            {"personIdExternal": "3", "userId": "u3", "isPrimary": True},
        ],
        EmpJob=[
            job("u1", "OE-A", "F1"),
            job("u1_2", "OE-B", "F2"),
            job("u2", "OE-A", "F3", end="2026-05-31"),
            job("u2", "OE-A", "F3", start="2026-06-01", status="4599"),  # terminated: no role
            job("u3", "OE-B", "F4", end="2026-06-30"),
            job("u3", "OE-A", "F5", start="2026-07-01"),  # a change entered for next month
        ],
        FODepartment=[
            {"externalCode": "OE-A", "name": "Afdeling A", "startDate": ms("1900-01-01"), "endDate": OPEN},
            {"externalCode": "OE-B", "name": "Oude naam B", "startDate": ms("1900-01-01"), "endDate": ms("2025-12-31")},
            {"externalCode": "OE-B", "name": "Afdeling B", "startDate": ms("2026-01-01"), "endDate": OPEN},
        ],
        Picklist=[
            picklist("ecEmailType", ("8448", "B", "Business"), ("8449", "P", "Personal")),
            picklist("employee-status", ("4595", "A", "Active"), ("4599", "T", "Terminated")),
            picklist("prefix_cust", ("9102", "VAN_DEN", "van den"), ("9106", "VAN_T", "van 't")),
        ],
    )


def test_what_the_connector_fetches_gives_the_business_address_the_prefixes_and_the_current_jobs(tmp_path):
    db = tmp_path / "sf.db"
    done = run_cli("sync", "--mapping", SF, "--db", db, "--source", *files(tmp_path), "--as-of", "2026-06-15")
    assert done.code == 0, done.out + done.err
    people = {p["externalId"]: p for p in rows(db, "SELECT * FROM persons")}
    assert set(people) == {"1", "3"}  # 2 was terminated on 2026-05-31: never brought in
    assert (people["1"]["tussenvoegsel"], people["1"]["achternaam"]) == ("van den", "Bergh")
    assert (people["3"]["tussenvoegsel"], people["3"]["achternaam"]) == ("van", "Dijk - van 't Hof")
    assert all(p["email"] == f"{key}.8448@voorbeeld.nl" for key, p in people.items())
    roles = sorted((r["gebruikersnaam"], r["ou"], r["functiecode"]) for r in rows(db, "SELECT * FROM roles"))
    assert roles == [("u1", "Afdeling A", "F1"), ("u1", "Afdeling B", "F2"), ("u3", "Afdeling B", "F4")]


def test_a_prefix_typed_as_text_and_the_change_of_next_month_on_its_day(tmp_path):
    db = tmp_path / "sf.db"
    done = run_cli("sync", "--mapping", SF, "--db", db, "--source", *files(tmp_path), "--as-of", "2026-05-01")
    assert done.code == 0, done.out + done.err
    people = {p["externalId"]: p for p in rows(db, "SELECT * FROM persons")}
    assert (people["2"]["tussenvoegsel"], people["2"]["achternaam"]) == ("d'", "Hondt")
    assert ("u2", "Afdeling A", "F3") in {
        (r["gebruikersnaam"], r["ou"], r["functiecode"]) for r in rows(db, "SELECT * FROM roles")
    }
    later = run_cli("sync", "--mapping", SF, "--db", db, "--source", *files(tmp_path), "--as-of", "2026-07-01")
    assert later.code == 0, later.out + later.err
    jobs = {
        (r["gebruikersnaam"], r["functiecode"]) for r in rows(db, "SELECT * FROM roles WHERE gebruikersnaam = 'u3'")
    }
    assert jobs == {("u3", "F5")}
