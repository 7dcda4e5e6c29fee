"""Effective-dated inputs (scmapper/sources/versions.py): the version in effect on the run's date.

The join is tested on records given as lists; the Raet starter through the real CLI on files,
with an employee published as three versions whose job moves in the last, as Visma Raet's IAM
API publishes a change."""

import json
from datetime import date

import pytest

from scmapper.mapping.source import Input, Source
from scmapper.sources import inputs

from conftest import ROOT, rows, run_cli

RAET = ROOT / "mappings" / "raet.yaml"
OPEN = "9999-12-31T00:00:00"

SOURCE = Source(
    inputs=(
        Input("people", key="id", valid_from="from", valid_until="until"),
        Input("jobs", attach="jobs", on="person", valid_from="from", valid_until="until", early_days=14),
        Input("units", lookup="id", valid_from="from", valid_until="until"),
    )
)


def on(day, **items):
    snapshot = inputs.from_items(SOURCE, items, day=date.fromisoformat(day))
    return list(snapshot.records), snapshot


def test_the_version_in_effect_is_the_one_record_of_its_key():
    people = [
        {"id": "1", "name": "first", "from": "2020-01-01", "until": "2022-12-31"},
        {"id": "1", "name": "second", "from": "2023-01-01", "until": "2025-06-30"},
        {"id": "1", "name": "third", "from": "2025-07-01", "until": None},
    ]
    for day, name in (("2021-05-05", "first"), ("2024-01-01", "second"), ("2025-07-01", "third")):
        records, _ = on(day, people=people)
        assert [r.data["name"] for r in records] == [name]


def test_when_all_versions_have_ended_the_last_one_stays_and_a_future_one_waits():
    ended = [
        {"id": "1", "name": "old", "from": "2010-01-01", "until": "2015-12-31"},
        {"id": "1", "name": "last", "from": "2016-01-01", "until": "2019-12-31"},
    ]
    records, _ = on("2026-06-01", people=ended)
    assert [r.data["name"] for r in records] == ["last"]  # whether they left is for the contracts to say
    future = [{"id": "2", "name": "joiner", "from": "2026-09-01", "until": OPEN}]
    records, snapshot = on("2026-06-01", people=future)
    assert records == [] and snapshot.notes == (
        "people: 1 id with versions that begin after 2026-06-01 only; they wait (2)",
    )


def test_an_attached_record_attaches_only_while_in_effect_and_early_days_before():
    people = [{"id": "1", "from": None, "until": None}]
    jobs = [
        {"person": "1", "job": "ended", "from": "2020-01-01", "until": "2026-05-31"},
        {"person": "1", "job": "now", "from": "2026-06-01", "until": None},
        {"person": "1", "job": "in two weeks", "from": "2026-06-15", "until": None},
        {"person": "1", "job": "next month", "from": "2026-07-01", "until": None},
    ]
    records, _ = on("2026-06-01", people=people, jobs=jobs)
    assert [j["job"] for j in records[0].data["jobs"]] == ["now", "in two weeks"]


def test_a_lookup_keeps_the_unit_name_in_effect():
    units = [
        {"id": "OE-1", "name": "Old name", "from": "2000-01-01", "until": "2025-12-31"},
        {"id": "OE-1", "name": "New name", "from": "2026-01-01", "until": OPEN},
    ]
    _, snapshot = on("2026-06-01", people=[{"id": "1"}], units=units)
    assert snapshot.tables["units"].find("OE-1")["name"] == "New name"
    _, snapshot = on("2025-06-01", people=[{"id": "1"}], units=units)
    assert snapshot.tables["units"].find("OE-1")["name"] == "Old name"


def test_a_version_whose_date_is_no_date_is_kept_and_named():
    people = [
        {"id": "1", "name": "a", "from": "next tuesday", "until": None},
        {"id": "2", "name": "b", "from": "2020-01-01", "until": None},
    ]
    records, snapshot = on("2026-06-01", people=people)
    assert sorted(r.data["name"] for r in records) == ["a", "b"]
    assert snapshot.notes == (
        "people: 1 record(s) with a validity date that is no date, used as in effect (case.people#1)",
    )


# --- the Raet starter, through sync ------------------------------------------------------------


def employee(valid_from, valid_until, **changes):
    return {
        "id": "ET0011",
        "personCode": "T0011",
        "knownAs": None,
        "firstNames": "Thomas",
        "initials": "T.",
        "lastNameAtBirth": "Bakker",
        "lastNameAtBirthPrefix": None,
        "partnerName": None,
        "partnerNamePrefix": None,
        "nameAssembleOrder": "1",
        "gender": "Male",
        "emailAddresses": [{"type": "Business", "address": "t.bakker@voorbeeld.nl"}],
        "phoneNumbers": [],
        "extensions": [{"key": "userName", "value": "tbakker"}],
        "validFrom": valid_from,
        "validUntil": valid_until,
        **changes,
    }


def employment(valid_from, valid_until, unit, job):
    return {
        "id": "T0011-1",
        "personCode": "T0011",
        "hireDate": "2019-04-01T00:00:00",
        "dischargeDate": None,
        "organizationUnit": unit,
        "jobProfile": job,
        "validFrom": valid_from,
        "validUntil": valid_until,
    }


def raet_files(tmp_path):
    files = {
        "employees": [
            employee("2019-04-01T00:00:00", "2021-12-31T00:00:00", lastNameAtBirth="Bakker-Smit"),
            employee("2022-01-01T00:00:00", "2025-02-28T00:00:00", knownAs="Tom"),
            employee("2025-03-01T00:00:00", OPEN),
        ],
        "employments": [
            employment("2019-04-01T00:00:00", "2025-02-28T00:00:00", "DEV", "DEVELOPER"),
            employment("2025-03-01T00:00:00", OPEN, "UX", "DESIGNER"),
        ],
        "organizationUnits": [
            {"id": "DEV", "fullName": "Development", "validFrom": "2000-01-01T00:00:00", "validUntil": OPEN},
            {"id": "UX", "fullName": "User Experience", "validFrom": "2000-01-01T00:00:00", "validUntil": OPEN},
        ],
        "jobProfiles": [
            {"id": "DEVELOPER", "fullName": "Developer", "validFrom": "2000-01-01T00:00:00", "validUntil": OPEN},
            {"id": "DESIGNER", "fullName": "Designer", "validFrom": "2000-01-01T00:00:00", "validUntil": OPEN},
        ],
    }
    paths = []
    for name, records in files.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"value": records}), "utf-8")
        paths.append(str(path))
    return paths


def test_raets_three_versions_of_one_employee_give_one_person_and_the_current_role(tmp_path):
    db = tmp_path / "raet.db"
    done = run_cli(
        "sync", "--mapping", RAET, "--db", db, "--source", *raet_files(tmp_path), "--json", "--as-of", "2026-06-01"
    )
    assert done.code == 0, done.out + done.err
    assert [(p["externalId"], p["voornaam"], p["achternaam"]) for p in rows(db, "SELECT * FROM persons")] == [
        ("T0011", "Thomas", "Bakker")
    ]
    assert [(r["ou"], r["functiecode"]) for r in rows(db, "SELECT * FROM roles")] == [("User Experience", "DESIGNER")]


@pytest.mark.parametrize(
    ("day", "known_as", "family", "role"),
    [("2020-06-01", "Thomas", "Bakker-Smit", "DEVELOPER"), ("2023-06-01", "Tom", "Bakker", "DEVELOPER")],
)
def test_as_of_an_earlier_date_the_versions_then_in_effect_count(tmp_path, day, known_as, family, role):
    db = tmp_path / "raet.db"
    done = run_cli("sync", "--mapping", RAET, "--db", db, "--source", *raet_files(tmp_path), "--as-of", day)
    assert done.code == 0, done.out + done.err
    [person] = rows(db, "SELECT * FROM persons")
    assert (person["voornaam"], person["achternaam"]) == (known_as, family)
    assert [r["functiecode"] for r in rows(db, "SELECT * FROM roles")] == [role]


def test_an_as_of_that_is_no_date_is_refused(tmp_path):
    done = run_cli(
        "sync", "--mapping", RAET, "--db", tmp_path / "x.db", "--source", *raet_files(tmp_path), "--as-of", "gisteren"
    )
    assert done.code == 2 and "--as-of 'gisteren' is not a date: give it as YYYY-MM-DD" in done.err
    assert not (tmp_path / "x.db").exists()


def test_validate_names_versions_that_cannot_work(tmp_path):
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "version: 1\nsource:\n  inputs:\n"
        "    people: { valid_from: from }\n"
        "    units: { lookup: id, valid_from: from, early_days: 3 }\n"
        'person:\n  key: k\n  extra_columns: [k]\n  columns:\n    k: "{{ person.id }}"\n',
        "utf-8",
    )
    done = run_cli("validate", mapping)
    assert done.code == 1
    assert "m.yaml:4:27: an effective-dated main input needs a key" in done.out
    assert "m.yaml:5:56: early_days is for attached inputs" in done.out


def test_an_unreadable_version_beside_readable_ones_of_its_key_gives_way_to_them():
    people = [
        {"id": "1", "name": "old", "from": "2010-01-01", "until": "2015-13-01"},
        {"id": "1", "name": "current", "from": "2016-01-01", "until": None},
    ]
    records, snapshot = on("2026-06-01", people=people)
    assert [r.data["name"] for r in records] == ["current"]
    assert snapshot.notes == (
        "people: 1 record(s) with a validity date that is no date, left for a readable version of the same id"
        " (case.people#1)",
    )


def test_a_date_past_the_calendar_is_no_date_not_a_crash():
    people = [{"id": "1", "name": "far", "from": "/Date(253402300799999+0100)/", "until": None}]
    records, snapshot = on("2026-06-01", people=people)
    assert [r.data["name"] for r in records] == ["far"] and "no date" in snapshot.notes[0]
