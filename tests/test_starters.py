"""Every starter mapping, end to end, on its system's files as the system delivers them: its
test cases, then sync of its sample folder and export, checked row by row; then the same files
with optional fields left out.

The expected rows come from tools/samples/people.py (written by hand), never from the
mapping under test. The sample folders are what tools/samples/generate.py writes from them.
"""

import csv
import importlib
import json
import os
import sys
from pathlib import Path

import pytest

from conftest import DEFAULT_MAPPING, ROOT, make_person, rows, run_cli

sys.path.insert(0, str(ROOT / "tools" / "samples"))
generate = importlib.import_module("generate")
people = importlib.import_module("people")

STARTERS = generate.SYSTEMS
TODAY = {"SCMAPPER_TODAY": people.TODAY.isoformat()}
PERSON_COLUMNS = ("voornaam", "tussenvoegsel", "achternaam", "geslacht", "email", "gebruikersnaam")
ROLE_COLUMNS = ("ou", "gebruikersnaam", "functiecode")  # Roles.csv as the base mapping lays it out


def folder(system):
    return ROOT / "mappings" / "samples" / system


def sync(system, db, files, *args):
    sources = [a for f in files for a in ("--source", f)]
    return run_cli("sync", "--mapping", ROOT / "mappings" / f"{system}.yaml", "--db", db, *sources, *args, env=TODAY)


def export(system, db, out):
    result = run_cli("export", "--mapping", ROOT / "mappings" / f"{system}.yaml", "--db", db, "--out", out, env=TODAY)
    assert result.code == 0, result.out + result.err
    return read_csv(out / "Users.csv", ";"), read_csv(out / "Roles.csv", ",")


def read_csv(path, delimiter):
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle, delimiter=delimiter))


def write_files(target, module, snapshot):
    target.mkdir(parents=True, exist_ok=True)
    for name, content in generate.snapshot_files(module, snapshot).items():
        (target / name).write_bytes(content)
    return sorted(str(p) for p in target.iterdir())


def fails_in_sync(module, person):
    """A broken record fails sync, unless its records join nothing and it is skipped as inactive."""
    return bool(generate.broken(module, person)) and not getattr(module, "orphan", lambda p: False)(person)


def expected_files(module):
    """Users.csv and Roles.csv rows (header first) from the people as written by hand."""
    persons, roles = [], []
    for person in people.PEOPLE:
        if generate.broken(module, person):
            continue
        wanted = generate.expectation(module, person)
        if wanted["active"]:
            persons.append((wanted["person"]["externalId"], [wanted["person"][c] for c in PERSON_COLUMNS]))
            roles += [[role[c] for c in ROLE_COLUMNS] for role in wanted["roles"]]
    header = ["Organisatorische Eenheid", "Gebruikersnaam", "Functieprofiel Code"]
    return [list(PERSON_COLUMNS), *(row for _, row in sorted(persons))], [header, *sorted(roles)]


def test_generated_samples_and_cases_are_current():
    stale = [path for system in STARTERS for path in generate.stale(system)]
    assert stale == [], "run python tools/samples/generate.py"


@pytest.mark.parametrize("system", STARTERS)
def test_mapping_test_cases_pass(system):
    result = run_cli("test", ROOT / "mappings" / f"{system}.yaml", "--json")
    report = result.json
    assert result.code == 0, "\n".join(f"{c['name']}: {c['differences']}" for c in report["cases"] if not c["passed"])
    assert report["passed"] >= 20 and report["failed"] == 0


@pytest.mark.parametrize("system", STARTERS)
def test_sync_of_the_sample_folder_as_delivered_gives_the_expected_persons_and_roles(system, tmp_path):
    module = importlib.import_module(system)
    files = sorted(str(p) for p in folder(system).iterdir())  # bare files, each named after its input
    assert len(files) >= len(module.INPUTS) - 1  # an optional input may have no file; here all do
    db = tmp_path / "sc.db"
    report = sync(system, db, files, "--json").json
    failing = [p for p in people.PEOPLE if fails_in_sync(module, p)]
    assert report["counts"]["failed"] == len(failing) == len(report["failures"])
    for person in failing:
        [failure] = [f for f in report["failures"] if generate.broken(module, person) in f["reason"]]
        assert failure["key"] == person.number  # named by its key where the record has one
        assert Path(failure["origin"].partition("#")[0]).name in {Path(f).name for f in files}
    persons, roles = export(system, db, tmp_path / "out")
    expected_persons, expected_roles = expected_files(module)
    assert persons == expected_persons
    assert [roles[0], *sorted(roles[1:])] == expected_roles
    assert len(persons) > 20 - len(failing) - 4 and len(roles) >= len(persons)


@pytest.mark.parametrize("system", STARTERS)
def test_second_sync_changes_nothing_and_half_a_snapshot_is_refused(system, tmp_path):
    module = importlib.import_module(system)
    db = tmp_path / "sc.db"
    files = sorted(str(p) for p in folder(system).iterdir())
    sync(system, db, files)
    before = rows(db, "SELECT * FROM persons ORDER BY scm_ref")
    again = sync(system, db, files)
    assert "Nothing changed." in again.out
    assert rows(db, "SELECT * FROM persons ORDER BY scm_ref") == before
    half = module.snapshot(people.PEOPLE[: len(people.PEOPLE) // 2])
    refused = sync(system, db, write_files(tmp_path / "half", module, half))
    assert refused.code == 1 and "REFUSED, nothing written: threshold removed_persons" in refused.out
    assert rows(db, "SELECT * FROM persons ORDER BY scm_ref") == before


def _drop(records, *fields):
    for record in records:
        for name in fields:
            record.pop(name, None)


def _afas(data):
    _drop(data["T4E_HelloID_Users_v2"], "Geboortenaam_partner", "Voorvoegsel_partner")
    _drop(data["T4E_HelloID_Employments_v2"], "Organisatorische_eenheid_code")


def _raet(data):
    _drop(data["employees"], "gender", "partnerName", "partnerNamePrefix")
    _drop(data["jobProfiles"], "fullName")


def _adp(data):
    for worker in data["workers"]:
        worker["person"].pop("genderCode", None)
        fields = worker["customFieldGroup"]["stringFields"]
        fields[:] = [f for f in fields if not f["nameCode"]["codeValue"].startswith("partnerFamilyName1")]
        for assignment in worker["workAssignments"]:
            _drop([unit["nameCode"] for unit in assignment["homeOrganizationalUnits"]], "codeValue")


def _successfactors(data):
    _drop(data["PerPersonal"], "gender", "partnerName", "partnerNamePrefix")
    _drop(data["EmpJob"], "jobTitle")


def _entra(data):
    _drop(data["users"], "givenName", "employeeLeaveDateTime")  # as a Graph page without $select


def _ad(data):
    _drop(data["users"], "title", "extensionAttribute1", "AccountExpirationDate")


# What each system's records lose (gender, the partner's name, a department code or other role
# field Spend Cloud can do without), and the warnings sync must give for it, counted over the
# persons it writes. The export refuses an empty username or e-mail address (export.persons.required)
# and Roles.csv needs its OU name and function code, so those are not left out here.
ABSENT = {
    "afas": (
        _afas,
        [
            "20 persons: column 'tussenvoegsel': person.Voorvoegsel_partner is absent",
            "20 persons: column 'achternaam': person.Voorvoegsel_partner is absent",
            "20 persons: role column 'oucode': employment.Organisatorische_eenheid_code is absent",
        ],
    ),
    "raet": (
        _raet,
        [
            "20 persons: column 'tussenvoegsel': person.partnerNamePrefix is absent",
            "20 persons: column 'geslacht': person.gender is absent",
            "persons: role column 'functie': inputs.jobProfiles['FP-FIN-01'].fullName is absent",
        ],
    ),
    "adp": (
        _adp,
        [
            "21 persons: column 'geslacht': person.person.genderCode is absent",
            "21 persons: role column 'oucode': assignment.homeOrganizationalUnits[0].nameCode.codeValue is absent",
        ],
    ),
    "successfactors": (
        _successfactors,
        [
            "20 persons: column 'geslacht': vars.personal.gender is absent",
            "20 persons: column 'tussenvoegsel': vars.personal.partnerNamePrefix is absent",
            "20 persons: role column 'functie': job.jobTitle is absent",
        ],
    ),
    "entra": (
        _entra,
        [
            "20 persons: column 'voornaam': person.givenName is absent",
        ],
    ),
    "ad": (
        _ad,
        [
            "20 persons: role column 'functie': account.title is absent",
            "20 persons: role column 'oucode': account.extensionAttribute1 is absent",
        ],
    ),
}


@pytest.mark.parametrize("system", STARTERS)
def test_records_with_optional_fields_absent_map_with_warnings(system, tmp_path):
    module = importlib.import_module(system)
    strip, warnings = ABSENT[system]
    data = module.snapshot(people.PEOPLE)
    strip(data)
    db = tmp_path / "sc.db"
    result = sync(system, db, write_files(tmp_path / "files", module, data), "--json")
    report = result.json
    failing = [p for p in people.PEOPLE if fails_in_sync(module, p)]
    assert report["counts"]["failed"] == len(failing), report["failures"]  # only the broken ones
    assert report["counts"]["created"] == len(expected_files(module)[0]) - 1  # everyone else is written
    for warning in warnings:
        assert any(w.endswith(warning) for w in report["warnings"]), report["warnings"]
    persons, roles = export(system, db, tmp_path / "out")
    column = {name: i for i, name in enumerate(persons[0])}
    if "geslacht" in " ".join(warnings):
        assert {row[column["geslacht"]] for row in persons[1:]} == {"O"}
    if "oucode" in " ".join(warnings):
        assert {r["oucode"] for r in rows(db, "SELECT oucode FROM roles")} == {""}


def test_the_default_mapping_maps_a_helloid_person_without_gender_or_department_code(tmp_path, db):
    # The shape of the HelloID target template's demoPerson.json: no Details.Gender, a primary
    # contract whose Department has only a DisplayName; with an account and its contracts.
    person = make_person("STUNTMAN14", NickName="Cásey", FamilyName="Bos", FamilyNamePrefix="Op 't")
    person["Details"] = {"BirthDate": "1955-02-25T20:05:16.2521853", "BirthLocality": "Zethuis"}
    person["PrimaryContract"] = {"Department": {"DisplayName": "Legal"}, "Title": {"Name": "Central Web Engineer"}}
    del person["Contracts"][0]["Department"]["ExternalId"]
    snapshot = tmp_path / "persons.json"
    snapshot.write_text(json.dumps([person, make_person("2")]), "utf-8")
    result = run_cli("sync", "--mapping", DEFAULT_MAPPING, "--db", db, "--source", snapshot, "--json")
    assert result.code == 0, result.out
    assert result.json["counts"]["created"] == 2
    assert result.json["warnings"] == [
        "1 person: column 'geslacht': person.Details.Gender is absent",
        "1 person: role column 'oucode': contract.Department.ExternalId is absent",
    ]
    assert rows(db, "SELECT geslacht, achternaam FROM persons WHERE scm_ref = 'STUNTMAN14'") == [
        {"geslacht": "O", "achternaam": "Bos"}
    ]
    assert rows(db, "SELECT oucode, ou FROM roles WHERE scm_ref = 'STUNTMAN14'") == [{"oucode": "", "ou": "Afdeling 1"}]


def test_preview_takes_a_record_as_sync_joins_it(tmp_path):
    module = importlib.import_module("afas")
    data = module.snapshot([people.PEOPLE[1]])
    joined = {**data["T4E_HelloID_Users_v2"][0], "employments": data["T4E_HelloID_Employments_v2"]}
    record = tmp_path / "one.json"
    record.write_text(json.dumps(joined), "utf-8")
    result = run_cli("preview", ROOT / "mappings" / "afas.yaml", record, env=TODAY)
    assert result.code == 0, result.err
    assert [r["functiecode"] for r in result.json["roles"]] == ["FP-PO-02", "FP-BUD-01"]
    assert result.json["person"]["achternaam"] == people.PEOPLE[1].surname


ADP_PUBLISHED = os.environ.get("SCMAPPER_ADP_WORKERS_SAMPLE", "")


@pytest.mark.skipif(
    not Path(ADP_PUBLISHED).is_file(),
    reason="ADP's published 292-worker sample is not committed (its licence is not ours to grant): fetch "
    "workforce/hr/workers-v2-demographics/success/workers-v2-demographics-al-workers-http-200-response.json "
    "from marketplace-esi/postman-samples and set SCMAPPER_ADP_WORKERS_SAMPLE to its path to run this check",
)
def test_adp_published_workers_sample_creates_every_active_worker_and_holds_the_one_without_email(tmp_path):
    workers = json.loads(Path(ADP_PUBLISHED).read_text("utf-8"))["workers"]
    active = sum(w["workerStatus"]["statusCode"]["shortName"] == "Active" for w in workers)
    published = {"SCMAPPER_TODAY": "2020-06-24"}  # the day ADP published it
    mapping, db = ROOT / "mappings" / "adp.yaml", tmp_path / "sc.db"
    result = run_cli("sync", "--mapping", mapping, "--db", db, "--source", ADP_PUBLISHED, "--json", env=published)
    assert result.code == 0, result.json["failures"][:5]
    assert (len(workers), active) == (292, 281)
    assert result.json["counts"]["created"] == active and result.json["failures"] == []
    # One worker has no e-mail: held back and named; everyone else reaches Spend Cloud, no --force.
    exported = run_cli("export", "--mapping", mapping, "--db", db, "--out", tmp_path / "out", "--json", env=published)
    assert exported.code == 0, exported.out
    assert exported.json["counts"]["persons"] == active - 1 >= 280
    assert exported.json["held"] == [
        {"key": "000999", "reasons": ["person '000999': column 'email' is empty"], "kept": False}
    ]


def test_the_raet_ad_export_is_read_in_the_code_page_windows_powershell_wrote_it_in(tmp_path):
    """Raet's adUsers.json is `ConvertTo-Json | Set-Content` output: Windows-1252, no byte order
    mark. The starter declares it; the same file under a mapping that does not is refused with
    the byte's place, the likely encoding and the setting to use."""
    ad_users = folder("raet") / "adUsers.json"
    raw = ad_users.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert "Zoë".encode("cp1252") in raw
    files = sorted(str(p) for p in folder("raet").iterdir())
    assert sync("raet", tmp_path / "a.db", files, "--json").code == 1  # the record broken on purpose, no more
    undeclared = tmp_path / "raet.yaml"
    undeclared.write_text(
        "version: 1\nextends: starter:raet\nsource:\n  inputs:\n    adUsers: { encoding: utf-8 }\n", "utf-8"
    )
    done = run_cli("sync", "--mapping", undeclared, "--db", tmp_path / "b.db", "--source", *files)
    assert done.code == 2 and "adUsers.json is not valid UTF-8" in done.err and "cp1252" in done.err
    assert not (tmp_path / "b.db").exists()
