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
    expected = expected.replace(
        "{folder}", str(case.parent.resolve())
    )  # a mapping's folder, as the trust boundary names it
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
    # a file that is not there is the environment (2), not a problem found in a mapping (1)
    assert (result.code, result.out) == (2, "")
    assert result.err.startswith("scmapper: mapping no/such.yaml not found: check the path")


def test_schema_is_valid_against_its_metaschema_and_shipped_in_the_package():
    for name in ("mapping.schema.json", "mapping-tests.schema.json"):
        jsonschema.Draft202012Validator.check_schema(json.loads((ROOT / "schemas" / name).read_text("utf-8")))
    shipped = ROOT / "scmapper" / "schemas" / "mapping.schema.json"
    assert shipped.read_bytes() == (ROOT / "schemas" / "mapping.schema.json").read_bytes()


def starter_copy(tmp_path, name, *edits):
    """A starter with its base files and samples, in tmp_path, its text edited (old, new)."""
    import shutil

    shutil.copytree(ROOT / "mappings" / "shared", tmp_path / "shared")
    shutil.copytree(ROOT / "mappings" / "samples" / name, tmp_path / "samples" / name)
    text = (ROOT / "mappings" / f"{name}.yaml").read_text("utf-8")
    for old, new in edits:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, "utf-8")
    return path, text.splitlines()


def test_a_field_no_sample_has_is_a_warning_with_its_place(tmp_path):
    mapping, lines = starter_copy(
        tmp_path,
        "raet",
        ('"{{ person.gender | gender }}"', '"{{ person.gendr | gender }}"'),
        ("jobProfiles[employment.jobProfile].fullName", "jobProfiles[employment.jobProfile].fulName"),
        ("in_window(employment.hireDate,", "in_window(employment.hiredate_,"),
    )
    result = run_cli("validate", mapping, "--json")
    assert result.code == 0 and result.json["valid"] is True
    where = {p["message"].partition(":")[0]: (p["line"], p["col"], p["severity"]) for p in result.json["problems"]}

    def place(text):  # the line holding text, and the column its quoted value starts at
        line = next(i for i, t in enumerate(lines, 1) if text in t)
        return line, lines[line - 1].index('"') + 1, "warning"

    assert where == {
        "column 'geslacht'": place("person.gendr"),
        "role column 'functie'": place("fulName"),
        "when": place("hiredate_"),
    }
    text = run_cli("validate", mapping)
    assert text.code == 0
    line, col, _ = place("person.gendr")
    message = "warning: column 'geslacht': person.gendr is in none of the samples (samples/raet)"
    assert f"{mapping}:{line}:{col}: {message}; did you mean person.gender?\n" in text.out
    assert (
        "role column 'functie': inputs.jobProfiles[...].fulName is in none of the samples (samples/raet);"
        " did you mean inputs.jobProfiles[...].fullName?\n" in text.out
    )
    assert "when: person.employments.hiredate_ is in none of the samples (samples/raet); did you mean" in text.out


def test_samples_that_do_not_fit_the_inputs_are_an_error(tmp_path):
    mapping, _ = starter_copy(tmp_path, "afas")
    (tmp_path / "samples" / "afas" / "T4E_HelloID_Employments_v2.json").unlink()
    result = run_cli("validate", mapping)
    assert result.code == 1
    assert "source.samples 'samples/afas': no file for input T4E_HelloID_Employments_v2" in result.out


def test_the_sftp_connection_file_is_checked_as_upload_reads_it(tmp_path):
    """validate reads the connection file the sftp section names and checks it against its schema
    and the merged settings, as upload does; a key file missing here is upload's business."""
    (tmp_path / "conn.yaml").write_text("host: 127.0.0.1\nport: 99999\npassword: hunter2\nbogus: 1\n")
    mapping = derived_mapping(tmp_path / "m.yaml", lambda m: m.update(sftp={"connection": "conn.yaml"}))
    result = run_cli("validate", mapping)
    assert result.code == 1
    conn = tmp_path / "conn.yaml"
    assert result.out.splitlines() == [
        f"{conn}:2:7: port: 99999 is greater than the maximum of 65535",
        f"{conn}:3:11: password: secrets never go in a mapping file: set password_env to the name of an"
        " environment variable",
        f"{conn}:4:1: unknown key 'bogus'; expected one of: connect_timeout, host, key_file, known_hosts, passphrase,"
        " passphrase_env, password, password_env, port, remote_dir, retries, retry_delay, timeout, trust_host_key,"
        " username",
    ]
    assert "hunter2" not in result.out
    (tmp_path / "conn.yaml").write_text("host: 127.0.0.1\nusername: u\nremote_dir: /in\nkey_file: not-here.key\n")
    assert run_cli("validate", mapping).code == 0
    short = derived_mapping(tmp_path / "m.yaml", lambda m: m.update(sftp={"host": "h"}))
    missing = run_cli("validate", short)
    assert missing.code == 1 and "sftp settings: username, remote_dir missing" in missing.out


def test_a_var_the_base_has_under_a_near_name_is_a_misspelling_unless_declared(tmp_path):
    """`usernaam:` beside the starter's `username:` would be kept as a new var and the starter's
    rule would stay: a problem, with the near name; a new var on purpose is named in adds.vars."""
    mapping = tmp_path / "cust.yaml"
    mapping.write_text("version: 1\nextends: starter:afas\nvars:\n  usernaam: \"person.Email_werk\"\n", "utf-8")
    done = run_cli("validate", mapping)
    assert done.code == 1
    assert f"{mapping}:4:3: var 'usernaam' is not in starter:afas, which has 'username': did you mean 'username'?" in done.out
    mapping.write_text(mapping.read_text("utf-8") + "adds:\n  vars: [usernaam]\n", "utf-8")
    assert run_cli("validate", mapping).code == 0
    lookup = tmp_path / "lookup.yaml"
    lookup.write_text("version: 1\nextends: starter:afas\nlookups:\n  naamgebruk: {\"0\": B}\n", "utf-8")
    assert "lookup 'naamgebruk' is not in starter:afas, which has 'naamgebruik'" in run_cli("validate", lookup).out


def test_the_tests_file_beside_the_mapping_is_checked_for_names(tmp_path):
    """A misspelt input name in a case made `the case's records make 0 persons, not one`, with no
    file, line or near name; validate now names each at its place."""
    assert run_cli("init", tmp_path, "--from", "afas").code == 0
    cases = tmp_path / "spendcloud.tests.yaml"
    text = cases.read_text("utf-8")
    cases.write_text(text.replace("    T4E_HelloID_Employments_v2:", "    T4E_HelloID_Employment_v2:", 1)
                     .replace("      achternaam:", "      achternam:", 1), "utf-8")  # fmt: skip
    done = run_cli("validate", tmp_path / "spendcloud.yaml")
    assert done.code == 1
    lines = [line for line in done.out.splitlines() if "spendcloud.tests.yaml:" in line]
    assert any(
        line.endswith("the mapping has no input 'T4E_HelloID_Employment_v2' (did you mean 'T4E_HelloID_Employments_v2'?)")
        for line in lines
    ), lines
    assert any(line.endswith("the mapping has no person column 'achternam' (did you mean 'achternaam'?)") for line in lines)
