"""`scmapper validate` through the real CLI, with mapping cases kept as data files.

Each tests/data/mappings/invalid/<case>.yaml has <case>.expected beside it: the exact
output lines, with {file} standing for the mapping's path.
"""

import json
from pathlib import Path

import jsonschema
import pytest

from conftest import DEFAULT_MAPPING, ROOT, derived_mapping, run_cli, sample_person

DATA = ROOT / "tests" / "data" / "mappings"
INVALID = sorted((DATA / "invalid").glob("*.yaml"))
VALID = sorted((DATA / "valid").glob("*.yaml")) + sorted(
    p for p in (ROOT / "mappings").glob("*.yaml") if not p.name.endswith(".tests.yaml")
)


@pytest.mark.parametrize("case", INVALID, ids=lambda p: p.stem)
def test_invalid_mapping_reports_exact_messages(case: Path):
    relative = case.relative_to(ROOT)
    result = run_cli("validate", relative)
    expected = case.with_suffix(".expected").read_text("utf-8").replace("{file}", str(relative))
    assert result.code == 1
    assert result.out == expected
    assert "Traceback" not in result.err


@pytest.mark.parametrize("case", VALID, ids=lambda p: p.stem)
def test_valid_mappings_pass(case: Path):
    result = run_cli("validate", case)
    assert (result.code, result.out) == (0, f"{case}: ok\n")


def test_every_invalid_case_has_its_expected_output():
    assert INVALID and all(c.with_suffix(".expected").exists() for c in INVALID)


def test_schema_error_names_file_and_line(tmp_path):
    mapping = derived_mapping(tmp_path / "m.yaml", lambda m: m["lifecycle"].update(delete="sometimes"))
    line = next(i for i, text in enumerate(mapping.read_text().splitlines(), 1) if "sometimes" in text)
    result = run_cli("validate", mapping)
    assert result.code == 1
    assert result.out.startswith(f"{mapping}:{line}:11: lifecycle.delete: 'sometimes' is not one of")


def test_json_report_lists_every_problem():
    case = DATA / "invalid" / "several-problems.yaml"
    result = run_cli("validate", "--json", case)
    report = result.json
    assert result.code == 1 and report["valid"] is False
    assert [(p["line"], p["col"]) for p in report["problems"]] == [(1, 10), (6, 15), (7, 51), (8, 1)]


@pytest.mark.parametrize(
    ("accounts", "message"),
    [
        ({}, "required column 'gebruikersnaam' is empty (person.Accounts.MicrosoftActiveDirectory is absent)"),
        ({"MicrosoftActiveDirectory": None}, "required column 'gebruikersnaam' is empty"),
    ],
    ids=["missing", "null"],
)
def test_sample_runs_every_expression(write, accounts, message):
    person = sample_person()
    person["Accounts"] = accounts
    sample = write("person.json", json.dumps(person))
    result = run_cli("validate", DEFAULT_MAPPING, "--sample", sample)
    lines = DEFAULT_MAPPING.read_text("utf-8").splitlines()
    line = next(i for i, t in enumerate(lines, 1) if t.strip().startswith("gebruikersnaam: {"))
    assert result.code == 1
    assert result.out == f"{DEFAULT_MAPPING}:{line}:21: on the sample: person '100482': {message}\n"


def test_sample_that_maps_cleanly(write):
    sample = write("person.json", json.dumps(sample_person()))
    assert run_cli("validate", DEFAULT_MAPPING, "--sample", sample).code == 0


def test_missing_mapping_file():
    result = run_cli("validate", "no/such.yaml")
    assert (result.code, result.out) == (1, "no/such.yaml:1:1: cannot read mapping: No such file or directory\n")


def test_schema_is_valid_against_its_metaschema_and_shipped_in_the_package():
    for name in ("mapping.schema.json", "mapping-tests.schema.json"):
        jsonschema.Draft202012Validator.check_schema(json.loads((ROOT / "schemas" / name).read_text("utf-8")))
    shipped = ROOT / "scmapper" / "schemas" / "mapping.schema.json"
    assert shipped.read_bytes() == (ROOT / "schemas" / "mapping.schema.json").read_bytes()
