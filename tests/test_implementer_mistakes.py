"""The implementer's first hour (issue 14): each mistake a new implementer made, as the exact
command they ran, the message they now get (file:line:col, what is wrong, the way out) and the
exit code. The mappings are customer files beside copies of the shipped starters, as an
implementer's own folder holds them; more cases are data in tests/data/mappings/invalid."""

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from scmapper.mapping.names import PERSON_COLUMNS, ROLE_COLUMNS
from scmapper.mapping.schema import mapping_schema

from conftest import ROOT, run_cli, sample_person


@pytest.fixture
def folder(tmp_path):
    """A customer's mapping folder: the shipped mappings, samples and shared bases."""
    shutil.copytree(ROOT / "mappings", tmp_path / "mappings")
    return tmp_path / "mappings"


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text("utf-8").splitlines(), 1) if text in line)


def test_a_misspelt_and_an_invented_column_are_problems_with_the_way_out(folder):
    acme = folder / "acme.yaml"
    acme.write_text(
        "version: 1\nextends: afas.yaml\nperson:\n  columns:\n"
        '    achternam: "{{ vars.name | family_name }}"\n'
        '    kostenplaats: "{{ person.Kostenplaats }}"\n'
    )
    result = run_cli("validate", acme)
    assert result.code == 1
    assert result.out.splitlines() == [
        f"{acme}:5:5: column 'achternam' is not a Spend Cloud person column (did you mean 'achternaam'?);"
        " if the customer's Spend Cloud import has it, declare it: person.extra_columns: [achternam]",
        f"{acme}:6:5: column 'kostenplaats' is not a Spend Cloud person column (known: externalId, achternaam,"
        " voornaam, tussenvoegsel, gebruikersnaam, geslacht, email); if the customer's Spend Cloud import has it,"
        " declare it: person.extra_columns: [kostenplaats]",
    ]


def test_a_declared_extra_column_is_valid_and_reaches_the_store(folder, tmp_path):
    acme = folder / "acme.yaml"
    acme.write_text(
        "version: 1\nextends: spendcloud.yaml\nperson:\n  extra_columns: [kostenplaats]\n  columns:\n"
        '    kostenplaats: "{{ person.PrimaryContract.CostCenter.Code }}"\n'
    )
    assert run_cli("validate", acme).out == (
        f"{acme}:6:19: warning: person.extra_columns declares 'kostenplaats', but no export file writes it: add it"
        f" to export.persons.columns (or leave it out of the mapping)\n{acme}: ok\n"
    )
    exported = (
        "export:\n  persons:\n    columns: [voornaam, tussenvoegsel, achternaam, email, gebruikersnaam, kostenplaats]\n"
    )
    acme.write_text(acme.read_text() + exported)
    assert run_cli("validate", acme).out == f"{acme}: ok\n"
    person = sample_person()
    person["PrimaryContract"] = {"CostCenter": {"Code": "KP-100"}}
    result = run_cli("preview", acme, "-", input=json.dumps(person))
    assert result.code == 0 and result.json["person"]["kostenplaats"] == "KP-100"


def test_the_schema_offers_the_known_columns_to_editors():
    """The editor completes the same column names validate accepts."""
    defs = mapping_schema()["$defs"]
    assert tuple(defs["person"]["properties"]["columns"]["properties"]) == PERSON_COLUMNS
    assert tuple(defs["roles"]["properties"]["columns"]["properties"]) == ROLE_COLUMNS
    for table in ("person", "roles"):
        assert defs[table]["properties"]["extra_columns"]["items"] == {"$ref": "#/$defs/columnName"}


def test_an_unknown_filter_gets_a_suggestion_at_its_line(folder):
    acme = folder / "acme.yaml"
    acme.write_text(
        'version: 1\nextends: afas.yaml\nperson:\n  columns:\n    email: "{{ person.Email_werk | lowercase }}"\n'
    )
    result = run_cli("validate", acme)
    assert (result.code, result.out) == (1, f"{acme}:5:12: email: unknown filter 'lowercase' (did you mean 'lower'?)\n")


def test_a_misspelt_field_is_checked_against_the_test_cases_when_there_are_no_samples(folder):
    """A customer folder without sample files still has test cases: their records are the samples."""
    afas = (folder / "afas.yaml").read_text("utf-8")
    acme = folder / "acme.yaml"
    acme.write_text(afas.replace("  samples: samples/afas\n", "").replace("person.Email_werk", "person.Email_wrek"))
    cases = (folder / "afas.tests.yaml").read_text("utf-8").replace("mapping: afas.yaml", "mapping: acme.yaml")
    (folder / "acme.tests.yaml").write_text(cases)
    result = run_cli("validate", acme)
    line = line_of(acme, "Email_wrek")
    assert result.code == 0
    assert result.out == (
        f"{acme}:{line}:21: warning: column 'email': person.Email_wrek is in none of the records of the test"
        f" cases (acme.tests.yaml); did you mean person.Email_werk?\n{acme}: ok\n"
    )


def test_a_dedented_line_is_named_at_its_own_line_in_plain_words(folder):
    acme = folder / "acme.yaml"
    acme.write_text(
        "version: 1\nextends: spendcloud.yaml\nperson:\n  columns:\n"
        '    voornaam: "{{ person.Name.GivenName }}"\n'
        '  email: "{{ person.Contact.Business.Email }}"\n'
        '    geslacht: "{{ person.Details.Gender | gender }}"\n'
    )
    result = run_cli("validate", acme)
    assert result.code == 1
    assert result.out == (
        f"{acme}:6:3: YAML syntax error: this line is indented less than the one before it (2 spaces, line 5"
        " has 4), so it leaves that block and line 7 no longer fits anywhere: indent it by 4 spaces like line 5\n"
    )
    assert "block end" not in result.out and "block mapping start" not in result.out


@pytest.mark.parametrize(
    ("columns", "like"),
    [('    voornaam: "{{ person.Name.GivenName }}"\n', "like line 5 (4 spaces)"), ("", "like the keys there")],
    ids=["a column of its own", "only the base's columns"],
)
def test_a_dedented_last_column_is_shown_a_line_of_the_users_own_file(folder, columns, like):
    """The columns block holds the base's columns too: their lines are the base's, never shown."""
    acme = folder / "acme.yaml"
    block = "  columns:\n" + columns if columns else "  columns: {}\n"
    acme.write_text(
        "version: 1\nextends: spendcloud.yaml\nperson:\n" + block + '  email: "{{ person.Contact.Business.Email }}"\n'
    )
    result = run_cli("validate", acme)
    line = 6 if columns else 5
    assert (result.code, result.out) == (
        1,
        f"{acme}:{line}:3: unknown key 'email'; expected one of: columns, extra_columns, key, unique, username;"
        f" if it belongs under 'columns', indent it {like}\n",
    )


def test_a_base_that_fails_to_load_is_reported_at_the_users_extends_line(tmp_path):
    (tmp_path / "shared").mkdir()
    top = tmp_path / "top.yaml"
    top.write_text("version: 1\nextends: shared/mid.yaml\n")
    (tmp_path / "shared" / "mid.yaml").write_text("version: 1\nname: mid\nextends: nobase.yaml\n")
    assert run_cli("validate", top).out == (
        f"{top}:2:10: extends 'nobase.yaml': no such file {tmp_path / 'shared' / 'nobase.yaml'}"
        " (via extends at line 2: shared/mid.yaml:3:10)\n"
    )
    (tmp_path / "shared" / "mid.yaml").write_text("version: 1\nextends: base.yaml\n")
    (tmp_path / "shared" / "base.yaml").write_text("version: 1\nperson:\n  key: [x\n")
    result = run_cli("validate", top)
    assert result.out.startswith(f"{top}:2:10: YAML syntax error: the '[' here is not closed")
    assert result.out.endswith("(via extends at line 2: shared/mid.yaml, whose extends at line 2: base.yaml:3:8)\n")


def test_a_for_each_typo_is_reported_at_the_for_each_line(folder):
    acme = folder / "acme.yaml"
    acme.write_text("version: 1\nextends: spendcloud.yaml\nroles:\n  for_each: contrct in person.Contracts\n")
    result = run_cli("validate", acme)
    assert (result.code, result.out) == (
        1,
        f"{acme}:4:13: for_each calls each item 'contrct', but when, ou, functie, oucode,"
        " functiecode read 'contract': write 'contract in person.Contracts', or use 'contrct' there too\n",
    )


def test_a_for_each_path_no_sample_has_is_a_warning_at_the_for_each_line(folder):
    acme = folder / "acme.yaml"
    acme.write_text("version: 1\nextends: spendcloud.yaml\nroles:\n  for_each: contract in person.Contract\n")
    sample = folder / "samples" / "helloid" / "create-event.json"
    result = run_cli("validate", acme, "--sample", sample)
    assert result.code == 0
    assert result.out.splitlines() == [
        f"{acme}:4:13: warning: on the sample: for_each: person.Contract is absent, so no roles",
        f"{acme}:2:10: warning: on the sample: person '100482' has no qualifying contract, so no roles"
        " (via extends at line 2: spendcloud.yaml:20:9)",
        f"{acme}: ok",
    ]


def test_a_removed_key_column_is_reported_in_the_users_file_with_the_extends_chain(folder):
    afas = (folder / "afas.yaml").read_text("utf-8")
    acme = folder / "acme.yaml"
    acme.write_text("\n".join(line for line in afas.splitlines() if "externalId:" not in line) + "\n")
    result = run_cli("validate", acme)
    extends = line_of(acme, "extends:")
    base = folder / "shared" / "spendcloud-base.yaml"
    key = line_of(base, "key: externalId")
    assert result.code == 1
    assert result.out == (
        f"{acme}:{extends}:10: key column 'externalId' is not a person column: add externalId under"
        f" person.columns, or change person.key (via extends at line {extends}: shared/spendcloud-base.yaml:{key}:8)\n"
    )


def test_a_chain_of_two_bases_names_every_extends(tmp_path):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "keys.yaml").write_text("version: 1\nperson:\n  key: externalId\n  columns: {}\n")
    (tmp_path / "shared" / "base.yaml").write_text("version: 1\nextends: keys.yaml\nlifecycle: {delete: soft}\n")
    acme = tmp_path / "acme.yaml"
    acme.write_text('version: 1\nname: Acme\nextends: shared/base.yaml\nperson:\n  columns: {voornaam: "x"}\n')
    result = run_cli("validate", acme)
    assert (result.code, result.out) == (
        1,
        f"{acme}:3:10: key column 'externalId' is not a person column: add externalId under person.columns, or"
        " change person.key (via extends at line 3: shared/base.yaml, whose extends at line 2: keys.yaml:3:8)\n",
    )


def test_problems_in_a_base_are_reported_in_the_file_the_user_gave(tmp_path):
    """A change in the user's file breaks the base's expressions: every problem names the user's
    file first, at its extends line, and the base's own line after it."""
    (tmp_path / "base.yaml").write_text(
        'version: 1\nperson:\n  key: externalId\n  columns:\n    externalId: "{{ person.ExternalId }}"\n'
        'roles:\n  when: "{{ contract.Context.InConditions }}"\n  columns:\n    ou: "{{ contract.Department.DisplayName }}"\n'
    )
    acme = tmp_path / "acme.yaml"
    acme.write_text("version: 1\nextends: base.yaml\nroles:\n  for_each: job in person.Jobs\n")
    result = run_cli("validate", acme, "--json")
    assert result.code == 1
    assert [(p["file"], p["line"], p["col"], p["message"]) for p in result.json["problems"]] == [
        (
            str(acme),
            2,
            10,
            "when: unknown name 'contract' (available: job, lookups, person, today, vars)"
            " (via extends at line 2: base.yaml:7:9)",
        ),
        (
            str(acme),
            2,
            10,
            "ou: unknown name 'contract' (available: job, lookups, person, today, vars)"
            " (via extends at line 2: base.yaml:9:9)",
        ),
    ]


def test_an_override_keeps_the_base_columns_checks(folder):
    acme = folder / "acme.yaml"
    acme.write_text(
        'version: 1\nextends: spendcloud.yaml\nperson:\n  columns:\n    email: "{{ person.Contact.Business.Email | lower }}"\n'
    )
    person = sample_person()
    person["Contact"] = {"Business": {"Email": "Not An Address"}}
    result = run_cli("preview", acme, "-", input=json.dumps(person))
    assert result.code == 1
    assert result.err == (
        "scmapper: person '100482': column 'email' value 'not an address' does not match '^[^@\\\\s]+@[^@\\\\s]+$'\n"
    )


def test_an_override_drops_a_check_only_when_it_says_so(folder):
    acme = folder / "acme.yaml"
    acme.write_text(
        "version: 1\nextends: spendcloud.yaml\nperson:\n  columns:\n"
        '    email: { value: "{{ person.Contact.Business.Email | lower }}", pattern: null }\n'
        "    gebruikersnaam: { required: false }\n"
    )
    person = sample_person()
    person["Contact"] = {"Business": {"Email": "Not An Address"}}
    person["Accounts"] = {}
    result = run_cli("preview", acme, "-", input=json.dumps(person))
    assert result.code == 0, result.err
    assert result.json["person"]["email"] == "not an address" and result.json["person"]["gebruikersnaam"] == ""


@pytest.mark.parametrize(
    ("base", "child", "merged"),
    [
        ({"value": "a", "required": True, "pattern": "^x"}, "b", {"value": "b", "required": True, "pattern": "^x"}),
        ({"value": "a", "max_length": 9}, {"lookup": "c", "map": {}}, {"lookup": "c", "map": {}, "max_length": 9}),
        ({"value": "a", "required": True}, 3, {"fixed": 3, "required": True}),
        ({"value": "a", "required": True}, {"required": False}, {"value": "a", "required": False}),
        ({"value": "a", "pattern": "^x"}, {"value": "b", "pattern": None}, {"value": "b", "pattern": None}),
        ("a", {"value": "b"}, {"value": "b"}),
        ({"value": "a"}, "b", "b"),
        (
            {"lookup": "c", "map": {"a": "A"}, "max_length": 5},
            {"default": "d"},
            {"lookup": "c", "map": {"a": "A"}, "max_length": 5, "default": "d"},
        ),
        ({"lookup": "c", "map": {"a": "A"}}, {"map": {"b": "B"}}, {"lookup": "c", "map": {"b": "B"}}),
        ("a", {"required": True}, {"value": "a", "required": True}),
        ({"value": "a", "required": True}, ["x"], {"fixed": ["x"], "required": True}),
        ({"value": "a"}, ["x"], ["x"]),
    ],
    ids=[
        "text keeps checks",
        "lookup keeps checks",
        "fixed keeps checks",
        "drop required",
        "drop pattern",
        "plain base",
        "no checks to keep",
        "a lookup's default only",
        "a lookup's map only",
        "a check over a plain base",
        "a wrong type keeps checks (the schema refuses it)",
        "a wrong type as written",
    ],
)
def test_how_a_column_override_merges(tmp_path, base, child, merged):
    from scmapper.mapping.yamlio import load_text

    def doc(name, column, extends=None):
        data = {"version": 1, **({"extends": extends} if extends else {}), "person": {"columns": {"email": column}}}
        return load_text(yaml.safe_dump(data), name)

    result = doc("base.yaml", base).extended_by(doc("child.yaml", child, "base.yaml"))
    assert result.data["person"]["columns"]["email"] == merged


def test_a_copied_cases_file_says_which_mapping_it_names_and_which_it_ran(folder):
    acme = folder / "acme.yaml"
    acme.write_text((folder / "afas.yaml").read_text("utf-8").replace("person.Email_werk", "person.UPN"))
    shutil.copy(folder / "afas.tests.yaml", folder / "acme.tests.yaml")
    cases = folder / "acme.tests.yaml"
    result = run_cli("test", acme)
    line = line_of(cases, "mapping: afas.yaml")
    assert result.code == 1
    lines = result.out.splitlines()
    named = Path(os.path.relpath(folder.resolve() / "afas.yaml", ROOT)).as_posix()  # run_cli runs from ROOT
    assert lines[0] == (
        f"{cases}:{line}:10: warning: these cases say they are for afas.yaml (mapping: afas.yaml), not for {acme}:"
        f" if they are acme.yaml's cases, write mapping: acme.yaml; to run them against afas.yaml:"
        f" scmapper test {named} --cases {cases}"
    )
    assert lines[-1].endswith("failed (ran against " + str(acme) + "; see the warning above)")
    report = run_cli("test", acme, "--json").json
    assert report["mapping"] == str(acme) and report["warnings"][0]["severity"] == "warning"
    assert run_cli("validate", acme).out.startswith(f"{cases}:{line}:10: warning: these cases say they are for")


def test_a_cases_files_mapping_outside_the_folder_is_compared_never_read(folder):
    """`mapping:` only says which mapping the cases were written for: even a path outside the
    folder is compared with the mapping that runs, and warned about, but never opened."""
    cases = folder / "afas.tests.yaml"
    text = cases.read_text("utf-8").replace("mapping: afas.yaml", "mapping: ../../../etc/passwd")
    cases.write_text(text)
    result = run_cli("test", folder / "afas.yaml")
    line = line_of(cases, "mapping: ../")
    assert result.code == 0
    assert result.out.startswith(f"{cases}:{line}:10: warning: these cases say they are for ../../../etc/passwd")
    assert "root:" not in result.out + result.err


def test_the_starters_cases_name_their_own_mapping():
    for cases in sorted((ROOT / "mappings").glob("*.tests.yaml")):
        result = run_cli("test", cases, "--json")
        assert result.code == 0 and result.json["warnings"] == [], cases


def test_no_message_about_a_starter_shows_python_spellings(folder):
    """Emptying, or setting to true, a list or a map, any value of a starter: validate speaks YAML."""
    data = yaml.safe_load((folder / "afas.yaml").read_text("utf-8"))
    target = folder / "broken.yaml"
    seen = 0

    def paths(node, path=()):
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for key, value in items:
            yield (*path, key)
            yield from paths(value, (*path, key))

    for path in paths(data):
        for value in (None, True, [], {}):
            broken = json.loads(json.dumps(data))
            holder = broken
            for key in path[:-1]:
                holder = holder[key]
            holder[path[-1]] = value
            target.write_text(yaml.safe_dump(broken, allow_unicode=True))
            result = run_cli("validate", target)
            seen += result.code != 0
            for word in ("None", "True", "False", "Traceback"):
                assert word not in result.out + result.err, (path, value, result.out)
    assert seen > 100  # most of these breaks are found


def test_the_message_the_implementers_guide_shows_is_the_one_validate_prints(folder):
    guide = (ROOT / "docs" / "implementers.md").read_text("utf-8")
    shown = next(line for line in guide.splitlines() if line.startswith("mappings/typo.yaml:"))
    block = guide[guide.index("cat > mappings/typo.yaml <<'YAML'\n") :]
    text = block[block.index("\n") + 1 : block.index("YAML\nscmapper validate mappings/typo.yaml")]
    typo = folder / "typo.yaml"
    typo.write_text(text)
    result = run_cli("validate", typo)
    assert result.code == 1
    assert result.out == shown.replace("mappings/typo.yaml", str(typo), 1) + "\n"


def test_a_field_no_sample_has_is_a_problem_where_it_feeds_a_required_column(folder, tmp_path):
    """The starter's `(person.UPN or '')` tests an absent field away: validate now refuses the
    typo where it feeds gebruikersnaam, and at run time the empty column names the field."""
    acme = folder / "acme.yaml"
    acme.write_text(
        "version: 1\nextends: afas.yaml\nvars:\n  username: \"(person.UPNN or '').split('@') | first | lower\"\n",
        "utf-8",
    )
    result = run_cli("validate", acme)
    assert result.code == 1
    assert result.out == (
        f"{acme}:4:13: vars.username: person.UPNN is in none of the samples (samples/afas); did you mean"
        " person.UPN?; it feeds the required column 'gebruikersnaam'\n"
    )
    files = sorted(str(p) for p in (folder / "samples" / "afas").glob("*.json"))
    synced = run_cli("sync", "--mapping", acme, "--db", tmp_path / "a.db", "--source", *files, "--json", "--force")
    reasons = {f["reason"] for f in synced.json["failures"]}
    assert "person '10001': required column 'gebruikersnaam' is empty (person.UPNN is absent)" in reasons


def test_a_field_of_an_optional_input_or_one_of_several_sources_only_warns(tmp_path):
    """Raet's username comes from an extension field first and from the optional adUsers export
    second: a folder without that export still validates, with a warning."""
    assert run_cli("init", tmp_path / "acme", "--from", "raet").code == 0
    (tmp_path / "acme" / "samples" / "adUsers.json").unlink()
    result = run_cli("validate", tmp_path / "acme" / "spendcloud.yaml")
    assert result.code == 0, result.out
    assert "warning: vars.username: inputs.adUsers[...].sAMAccountName is in none of the samples" in result.out
