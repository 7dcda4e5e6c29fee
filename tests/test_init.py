"""`init` and the shipped starters: a customer's folder anywhere extends a starter by name, and what
the starter names resolves inside the package; nothing else of the package is reachable."""

import json

import pytest

from conftest import ROOT, run_cli

STARTERS = ("afas", "raet", "adp", "successfactors", "entra", "ad")


@pytest.mark.parametrize("system", STARTERS)
def test_init_makes_a_folder_whose_mapping_tests_and_samples_pass(system, tmp_path):
    made = run_cli("init", tmp_path / "cust", "--from", system)
    assert made.code == 0, made.err
    folder = tmp_path / "cust"
    mapping = (folder / "spendcloud.yaml").read_text("utf-8")
    assert f"extends: starter:{system}" in mapping and "../" not in mapping
    checked = run_cli("validate", folder / "spendcloud.yaml")
    assert checked.code == 0, checked.out
    assert f"builds on starter:{system} of scmapper" in checked.out
    tested = run_cli("test", folder / "spendcloud.yaml", "--json")
    assert tested.code == 0, tested.out
    samples = sorted((folder / "samples").glob("*.json"))
    synced = run_cli("sync", "--mapping", folder / "spendcloud.yaml", "--db", tmp_path / "s.db", "--json", "--source", *samples)
    assert synced.code == 0, synced.out + synced.err  # the records broken on purpose were left out
    report = json.loads(synced.out)
    assert report["counts"]["created"] >= 15 and report["failures"] == []


def test_the_commented_settings_are_the_starters_own_and_valid_when_uncommented(tmp_path):
    assert run_cli("init", tmp_path, "--from", "afas").code == 0
    text = (tmp_path / "spendcloud.yaml").read_text("utf-8")
    assert "#   username: (person.UPN or '').split('@') | first | lower" in text
    assert "#     removed_persons:" in text and "#     file: Users.csv" in text
    block = text.split("# --- The username Spend Cloud keys on\n")[1].split("\n\n")[0]
    uncommented = "\n".join(line.removeprefix("# ") for line in block.splitlines())
    (tmp_path / "spendcloud.yaml").write_text(text + "\n" + uncommented + "\n", encoding="utf-8")
    assert run_cli("validate", tmp_path / "spendcloud.yaml").code == 0
    assert run_cli("test", tmp_path / "spendcloud.yaml").code == 0


@pytest.mark.parametrize(
    ("sample", "starter"),
    [
        ("afas/T4E_HelloID_Users_v2.json", "afas"),
        ("raet/employees.json", "raet"),
        ("adp/workers.json", "adp"),
        ("successfactors/PerPerson.json", "successfactors"),
        ("entra/users.json", "entra"),
        ("ad/users.json", "ad"),
        ("helloid/create-event.json", "spendcloud"),
    ],
)
def test_init_knows_the_system_by_a_sample_files_shape(sample, starter, tmp_path):
    made = run_cli("init", tmp_path, "--from", ROOT / "mappings" / "samples" / sample)
    assert made.code == 0, made.err
    assert f"extends: starter:{starter}\n" in (tmp_path / "spendcloud.yaml").read_text("utf-8")


def test_init_of_an_unknown_shape_names_the_shapes_it_knows(tmp_path):
    odd = tmp_path / "odd.json"
    odd.write_text('{"employees": []}')
    done = run_cli("init", tmp_path / "c", "--from", odd)
    assert done.code == 2 and "AFAS rows, Graph value" in done.err
    assert not (tmp_path / "c").exists()


def test_init_overwrites_nothing_and_names_what_is_there(tmp_path):
    (tmp_path / "spendcloud.tests.yaml").write_text("mine\n")
    done = run_cli("init", tmp_path, "--from", "afas")
    assert done.code == 2
    assert str(tmp_path / "spendcloud.tests.yaml") in done.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spendcloud.tests.yaml"]
    assert (tmp_path / "spendcloud.tests.yaml").read_text() == "mine\n"


def test_the_helloid_folder_applies_its_sample_event(tmp_path):
    assert run_cli("init", tmp_path, "--from", "helloid").code == 0
    assert run_cli("test", tmp_path / "spendcloud.yaml").code == 0
    done = run_cli(
        "apply", "--mapping", tmp_path / "spendcloud.yaml", "--db", tmp_path / "s.db", "--action", "create",
        tmp_path / "samples" / "create-event.json",
    )
    assert done.code == 0 and json.loads(done.out)["success"] is True


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_a_starters_own_names_resolve_inside_the_package(tmp_path):
    """The starter's `source.samples: samples/afas` and its `extends: shared/...` are the package's,
    not the customer folder's: no --root, no copy of them beside the mapping."""
    mapping = write(tmp_path / "m.yaml", "version: 1\nextends: starter:afas\n")
    done = run_cli("validate", mapping, "--json")
    assert done.code == 0, done.out
    assert json.loads(done.out)["builds_on"] == {str(mapping): {"starter": "starter:afas", "scmapper": "0.1.0"}}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("starter:nosuch", "scmapper ships no such starter; it has ad, adp, afas"),
        ("starter:../../../etc/passwd", "scmapper ships no such starter"),
        ("starter:shared/../afas", "scmapper ships no such starter"),
    ],
)
def test_a_starter_name_is_never_a_path(name, message, tmp_path):
    mapping = write(tmp_path / "m.yaml", f"version: 1\nextends: '{name}'\n")
    done = run_cli("validate", mapping)
    assert done.code == 1
    assert f"{mapping}:2:10: extends {name!r}: {message}" in done.out


def test_the_package_is_not_reachable_by_a_relative_path(tmp_path):
    """Only `starter:` reaches the package: a relative path from the customer's folder into it is
    outside the folder like any other."""
    import os

    inside = os.path.relpath(ROOT / "scmapper" / "starters" / "afas.yaml", tmp_path)
    mapping = write(tmp_path / "m.yaml", f"version: 1\nextends: {inside}\n")
    done = run_cli("validate", mapping)
    assert done.code == 1 and "leads outside the mapping's folder" in done.out


def test_demo_needs_no_checkout_files(tmp_path):
    """With no --mapping and --events, the demo reads the starters shipped in the package (the
    installed wheel's demo from an empty folder runs in test_installed)."""
    done = run_cli("demo", "--out", tmp_path / "demo-out")
    assert done.code == 0, done.out[-2000:]
    assert (tmp_path / "demo-out" / "helloid" / "Users.csv").is_file()
    assert (tmp_path / "demo-out" / "successfactors" / "Users.csv").is_file()
