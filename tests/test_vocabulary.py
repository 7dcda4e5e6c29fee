"""One vocabulary across commands: `--mapping` wherever a mapping is read (the positional forms
still work), `--dry-run` wherever a command can write."""

import pytest

from conftest import DEFAULT_MAPPING, ROOT, SAMPLE_EVENT, run_cli

AFAS = ROOT / "mappings" / "afas.yaml"


def test_validate_takes_mapping_options_positionals_or_both():
    for args in (["--mapping", DEFAULT_MAPPING], [DEFAULT_MAPPING]):
        result = run_cli("validate", *args)
        assert (result.code, result.out) == (0, f"{DEFAULT_MAPPING}: ok\n")
    both = run_cli("validate", DEFAULT_MAPPING, "--mapping", AFAS, "--json")
    assert both.code == 0 and both.json["files"] == [str(DEFAULT_MAPPING), str(AFAS)]


def test_test_takes_mapping_options_positionals_or_both():
    option = run_cli("test", "--mapping", AFAS, "--json")
    positional = run_cli("test", AFAS, "--json")
    assert option.code == positional.code == 0 and option.json == positional.json
    both = run_cli("test", AFAS, "--mapping", ROOT / "mappings" / "adp.yaml", "--json")
    assert both.code == 0 and [r["file"].rsplit("/", 1)[-1] for r in both.json] == ["afas.tests.yaml", "adp.tests.yaml"]
    cases = run_cli(
        "test", "--mapping", AFAS, "--mapping", DEFAULT_MAPPING, "--cases", ROOT / "mappings" / "afas.tests.yaml"
    )
    assert (cases.code, cases.err) == (2, "scmapper: --cases goes with one mapping\n")


def test_preview_takes_the_mapping_either_way():
    option = run_cli("preview", "--mapping", DEFAULT_MAPPING, SAMPLE_EVENT)
    positional = run_cli("preview", DEFAULT_MAPPING, SAMPLE_EVENT)
    assert option.code == positional.code == 0 and option.json == positional.json


@pytest.mark.parametrize(
    "args",
    [
        ["--mapping", str(DEFAULT_MAPPING), str(DEFAULT_MAPPING), str(SAMPLE_EVENT)],  # a mapping twice
        [str(DEFAULT_MAPPING)],  # no person
        [],
    ],
)
def test_preview_needs_one_mapping_and_one_person(args):
    result = run_cli("preview", *args)
    assert (result.code, result.out) == (2, "")
    assert result.err == (
        "scmapper: preview takes a mapping and a person: scmapper preview --mapping MAPPING PERSON.json (- for stdin),"
        " or the input files: scmapper preview MAPPING --source FILE... --key KEY\n"
    )


@pytest.mark.parametrize("command", ["apply", "sync", "export", "upload"])
def test_every_command_that_writes_takes_dry_run(command):
    usage = run_cli(command, "--help").out
    assert "--dry-run" in usage
