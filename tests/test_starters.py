"""Every starter mapping, end to end: its test cases, then sync of its samples and export.

The expected rows come from tools/samples/people.py (written by hand), never from the
mapping under test.
"""

import csv
import importlib
import json
import sys

import pytest

from conftest import ROOT, rows, run_cli

sys.path.insert(0, str(ROOT / "tools" / "samples"))
generate = importlib.import_module("generate")
people = importlib.import_module("people")

STARTERS = generate.SYSTEMS
TODAY = {"SCMAPPER_TODAY": people.TODAY.isoformat()}


def sample_file(system):
    module = importlib.import_module(system)
    return ROOT / "mappings" / "samples" / system / module.FILE


def sync(system, db, source, *args):
    return run_cli(
        "sync", "--mapping", ROOT / "mappings" / f"{system}.yaml", "--db", db, "--source", source, *args, env=TODAY
    )


def test_generated_samples_and_cases_are_current():
    stale = [
        path
        for system in STARTERS
        for path, text in generate.files(system).items()
        if not path.exists() or path.read_text("utf-8") != text
    ]
    assert stale == [], "run python tools/samples/generate.py"


@pytest.mark.parametrize("system", STARTERS)
def test_mapping_test_cases_pass(system):
    result = run_cli("test", ROOT / "mappings" / f"{system}.yaml", "--json")
    report = result.json
    assert result.code == 0, "\n".join(f"{c['name']}: {c['differences']}" for c in report["cases"] if not c["passed"])
    assert report["passed"] >= 20 and report["failed"] == 0


@pytest.mark.parametrize("system", STARTERS)
def test_sync_then_export_gives_the_expected_persons(system, tmp_path):
    db = tmp_path / "sc.db"
    first = sync(system, db, sample_file(system), "--json")
    report = first.json
    assert first.code == 1  # the broken samples fail; everyone else is applied
    module = importlib.import_module(system)
    broken = [p for p in people.PEOPLE if getattr(module, "broken", lambda q: q.broken)(p)]
    assert report["counts"]["failed"] == len(broken) == len(report["failures"])
    for person in broken:
        [failure] = [f for f in report["failures"] if person.broken in f["reason"]]
        assert failure["key"] == person.number  # named by its key where the record has one
        assert failure["origin"].startswith(sample_file(system).name + "#")
    out = tmp_path / "out"
    exported = run_cli("export", "--mapping", ROOT / "mappings" / f"{system}.yaml", "--db", db, "--out", out, env=TODAY)
    assert exported.code == 0, exported.out
    expected = []
    for person in people.PEOPLE:
        if getattr(module, "broken", lambda q: q.broken)(person):
            continue
        wanted = generate.expectation(module, person)
        if wanted["active"]:
            p = wanted["person"]
            expected.append(
                (
                    p["externalId"],
                    [p[c] for c in ("voornaam", "tussenvoegsel", "achternaam", "geslacht", "email", "gebruikersnaam")],
                )
            )
    with (out / "Users.csv").open(encoding="utf-8-sig", newline="") as handle:
        actual = list(csv.reader(handle, delimiter=";"))[1:]
    assert actual == [row for _, row in sorted(expected)]


@pytest.mark.parametrize("system", STARTERS)
def test_second_sync_changes_nothing_and_half_a_snapshot_is_refused(system, tmp_path):
    db = tmp_path / "sc.db"
    sync(system, db, sample_file(system))
    before = rows(db, "SELECT * FROM persons ORDER BY scm_ref")
    again = sync(system, db, sample_file(system))
    assert "Nothing changed." in again.out
    assert rows(db, "SELECT * FROM persons ORDER BY scm_ref") == before
    module = importlib.import_module(system)
    half = people.PEOPLE[: len(people.PEOPLE) // 2]
    partial = tmp_path / "half.json"
    partial.write_text(json.dumps(module.envelope([r for p in half for r in module.records(p)])), "utf-8")
    refused = sync(system, db, partial)
    assert refused.code == 1 and "REFUSED, nothing written: threshold removed_persons" in refused.out
    assert rows(db, "SELECT * FROM persons ORDER BY scm_ref") == before


def test_preview_groups_a_source_row_as_sync_does(tmp_path):
    rows = json.loads(sample_file("afas").read_text("utf-8"))["rows"]
    record = tmp_path / "one.json"
    record.write_text(json.dumps(rows[0]), "utf-8")
    result = run_cli("preview", ROOT / "mappings" / "afas.yaml", record, env=TODAY)
    assert result.code == 0, result.err
    assert result.json["roles"][0]["functiecode"] == rows[0]["Functie_code"] and result.json["active"] is True
