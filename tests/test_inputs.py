"""Sources of several inputs: files to inputs, the join, lookup tables, and sync over them.

The join is tested on records given as lists (inputs.from_items, the path test cases take);
sync through the real CLI on files, with a small mapping written here.
"""

import json
from pathlib import Path

import pytest

from scmapper.errors import UsageError
from scmapper.mapping.source import Input, Source
from scmapper.sources import inputs

from conftest import DEFAULT_MAPPING, count, derived_mapping, make_person, rows, run_cli, write_mapping

SOURCE = Source(
    inputs=(
        Input("employees", records="value", key="personCode"),
        Input("employments", records="value", attach="employments", on="personCode", key="id"),
        Input("slices", attach="slices", on="employment", to="employments"),
        Input("units", records="value", lookup="code.id"),
        Input("extra", lookup="id", optional=True),
    )
)


def test_attached_records_join_their_parent_as_text_grandchildren_first():
    snapshot = inputs.from_items(
        SOURCE,
        {
            "employees": [{"personCode": "1"}, {"personCode": 2}, {"personCode": None}],
            "employments": [
                {"id": "e1", "personCode": 1},
                {"id": "e2", "personCode": "2"},
                {"id": "e9", "personCode": "9"},
            ],
            "slices": [{"employment": "e1", "n": 1}, {"employment": "e1", "n": 2}],
            "units": [],
        },
    )
    people = [r.data for r in snapshot.records]
    assert people[0]["employments"] == [
        {"id": "e1", "personCode": 1, "slices": [{"employment": "e1", "n": 1}, {"employment": "e1", "n": 2}]}
    ]
    assert people[1]["employments"] == [{"id": "e2", "personCode": "2", "slices": []}]
    assert people[2]["employments"] == []  # no key: nothing attaches, not even records without one
    assert snapshot.notes == (
        "employments: 1 record(s) attach to no employees record on personCode (case.employments#3)",
    )


def test_a_lookup_input_is_a_table_by_a_dotted_field_whose_first_record_wins():
    snapshot = inputs.from_items(
        SOURCE,
        {
            "employees": [],
            "units": [{"code": {"id": 7}, "name": "ICT"}, {"code": {"id": "7"}, "name": "old"}, {"name": "no id"}],
        },
    )
    assert dict(snapshot.tables["units"]) == {"7": {"code": {"id": 7}, "name": "ICT"}}
    assert dict(snapshot.tables["extra"]) == {}  # optional, not given: an empty table
    assert snapshot.notes == ("units: 1 record(s) repeat a code.id seen before; the first one is used",)
    changed = inputs.from_items(SOURCE, {"employees": [], "units": [{"code": {"id": 7}, "name": "IT"}]})
    assert snapshot.digest and changed.digest != snapshot.digest


def test_files_go_to_inputs_by_name_page_or_as_the_only_required_input(tmp_path):
    given = ["units=u.json", "dir/employees.json", "employments.2.json", "employments.json", "slices=s.json"]
    named = inputs.assign(SOURCE, given)
    assert {k: [p.as_posix() for p in v] for k, v in named.items()} == {
        "employees": ["dir/employees.json"],
        "employments": ["employments.2.json", "employments.json"],
        "slices": ["s.json"],
        "units": ["u.json"],
        "extra": [],
    }
    single = Source(inputs=(Input("workers", records="workers"), Input("departments", lookup="id", optional=True)))
    assert inputs.assign(single, ["any-name.json"])["workers"] == [Path("any-name.json")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["employees.json"], "no file for input employments, slices, units: give it as --source employments=FILE"),
        (["emps=e.json"], "--source emps=e.json: the mapping has no input 'emps' (inputs: employees, employments"),
        (["people.json"], "--source people.json: which input is it? Name it, as --source NAME=people.json"),
    ],
)
def test_files_that_fit_no_input_are_refused(args, message):
    with pytest.raises(UsageError) as refused:
        inputs.assign(SOURCE, args)
    assert str(refused.value).startswith(message)


MAPPING = {
    "version": 1,
    "source": {
        "inputs": {
            "users": {"records": "rows", "key": "Medewerker"},
            "jobs": {"records": "rows", "attach": "jobs", "on": "Medewerker"},
            "units": {"lookup": "id"},
        }
    },
    "person": {
        "key": "externalId",
        "extra_columns": ["naam"],
        "columns": {
            "externalId": {"value": "{{ person.Medewerker }}", "required": True},
            "naam": {"value": "{{ person.Naam }}", "required": True},
            "geslacht": "{{ person.Geslacht | gender }}",
        },
    },
    "roles": {
        "for_each": "job in person.jobs",
        "when": "true",
        "columns": {"ou": "{{ inputs.units[job.unit].name }}", "oucode": "{{ job.unit }}"},
    },
    "export": {"persons": {"file": "p.csv", "columns": ["naam"]}, "thresholds": {"removed_persons": {"count": 99}}},
}


def files(tmp_path, units, people=(("1", "A", "U1"), ("2", "B", "U2"))):
    users = {
        "skip": 0,
        "take": 100,
        "rows": [{"Medewerker": m, "Naam": n} if n else {"Medewerker": m} for m, n, _ in people],
    }
    jobs = {"skip": 0, "take": 100, "rows": [{"Medewerker": m, "unit": u} for m, _, u in people]}
    for name, data in (("users", users), ("jobs", jobs), ("units", units)):
        (tmp_path / f"{name}.json").write_text(json.dumps(data), "utf-8")
    return [f"{n}={tmp_path / n}.json" for n in ("users", "jobs", "units")]


def sync(tmp_path, db, sources):
    mapping = write_mapping(tmp_path / "m.yaml", MAPPING)
    return run_cli("sync", "--mapping", mapping, "--db", db, *(a for s in sources for a in ("--source", s)), "--json")


def test_sync_joins_the_inputs_and_warns_about_absent_fields_counted(tmp_path, db):
    result = sync(tmp_path, db, files(tmp_path, [{"id": "U1", "name": "ICT"}]))
    assert result.code == 0, result.err
    assert result.json["counts"]["created"] == 2
    assert result.json["warnings"] == [
        "2 persons: column 'geslacht': person.Geslacht is absent",
        "1 person: role column 'ou': inputs.units['U2'] is absent",
    ]
    assert rows(db, "SELECT ou, oucode FROM roles ORDER BY oucode") == [
        {"ou": "ICT", "oucode": "U1"},
        {"ou": "", "oucode": "U2"},
    ]
    events = [e["message"] for e in rows(db, "SELECT message FROM events ORDER BY rowid")]
    assert any("role column 'ou': inputs.units['U2'] is absent" in m for m in events)  # in the audit too


def test_a_changed_lookup_input_alone_updates_the_persons_it_changes(tmp_path, db):
    sync(tmp_path, db, files(tmp_path, [{"id": "U1", "name": "ICT"}, {"id": "U2", "name": "HR"}]))
    again = sync(tmp_path, db, files(tmp_path, [{"id": "U1", "name": "ICT"}, {"id": "U2", "name": "P&O"}]))
    assert (again.json["counts"]["updated"], again.json["counts"]["unchanged"]) == (1, 1)
    assert rows(db, "SELECT ou FROM roles ORDER BY oucode") == [{"ou": "ICT"}, {"ou": "P&O"}]


def test_a_missing_input_file_is_a_usage_error_and_nothing_is_written(tmp_path, db):
    given = files(tmp_path, [])[:2]
    result = sync(tmp_path, db, given)
    assert result.code == 2
    assert result.err == "scmapper: no file for input units: give it as --source units=FILE\n"
    assert not db.exists() and count(db, "persons") == 0


def test_a_required_column_reading_an_absent_field_fails_only_its_record(tmp_path, db):
    result = sync(
        tmp_path, db, files(tmp_path, [{"id": "U1", "name": "ICT"}], people=(("1", "A", "U1"), ("2", None, "U1")))
    )
    assert result.code == 1 and result.json["counts"]["created"] == 1
    assert result.json["failures"] == [
        {
            "origin": "users.json#2",
            "key": "2",
            "reason": "person '2': required column 'naam' is empty (person.Naam is absent)",
        }
    ]
    assert rows(db, "SELECT scm_ref FROM persons") == [{"scm_ref": "1"}]


def test_pages_of_one_input_concatenate_whatever_their_envelope(tmp_path, db):
    sources = files(tmp_path, [{"id": "U1", "name": "ICT"}, {"id": "U2", "name": "HR"}])
    page = {"skip": 0, "take": 1, "rows": [{"Medewerker": "1", "unit": "U1"}]}
    (tmp_path / "jobs.json").write_text(json.dumps(page), "utf-8")
    (tmp_path / "jobs.2.jsonl").write_text('{"Medewerker": "2", "unit": "U2"}\n{"Medewerker": "2", "unit": "U1"}\n')
    # No records path: each file is read by its own envelope (rows; JSON lines).
    inputs_ = {**MAPPING["source"]["inputs"], "jobs": {"attach": "jobs", "on": "Medewerker"}}
    path = write_mapping(tmp_path / "pages.yaml", {**MAPPING, "source": {"inputs": inputs_}})
    given = [sources[0], str(tmp_path / "jobs.json"), str(tmp_path / "jobs.2.jsonl"), sources[2]]
    result = run_cli("sync", "--mapping", path, "--db", db, *(a for s in given for a in ("--source", s)), "--json")
    assert result.code == 0, result.err
    assert rows(db, "SELECT scm_ref, oucode FROM roles ORDER BY scm_ref, oucode") == [
        {"scm_ref": "1", "oucode": "U1"},
        {"scm_ref": "2", "oucode": "U1"},
        {"scm_ref": "2", "oucode": "U2"},
    ]


# --- encodings: what Windows PowerShell 5.1 writes ---------------------------------------------


def encoded_snapshot(tmp_path, encoding, *, bom=b"", lines=False):
    people = [make_person("1", FamilyName="Hölscher"), make_person("2", FamilyName="Ærø")]
    text = "\n".join(json.dumps(p, ensure_ascii=False) for p in people) + "\n" if lines else json.dumps(people, ensure_ascii=False)
    path = tmp_path / ("people.jsonl" if lines else "people.json")
    path.write_bytes(bom + text.encode(encoding))
    return path


def synced_names(db, *source, mapping=DEFAULT_MAPPING):
    done = run_cli("sync", "--mapping", mapping, "--db", db, "--source", *source, "--json")
    return done, sorted(r["achternaam"] for r in rows(db, "SELECT achternaam FROM persons")) if db.exists() else []


def test_a_cp1252_file_is_named_with_its_likely_encoding_and_read_once_declared(db, tmp_path):
    path = encoded_snapshot(tmp_path, "cp1252")
    refused, _ = synced_names(db, path)
    assert refused.code == 2
    assert "is not valid UTF-8 (byte" in refused.err and "it looks like Windows-1252 (cp1252)" in refused.err
    assert f"--source NAME={path}:cp1252" in refused.err
    done, names = synced_names(db, f"{path}:cp1252")
    assert done.code == 0 and names == ["AEro", "Holscher"]  # strip_diacritics, from the right letters


def test_the_mapping_declares_an_inputs_encoding(db, tmp_path):
    mapping = derived_mapping(tmp_path / "m.yaml", lambda m: m.setdefault("source", {}).update(encoding="cp1252"))
    done, names = synced_names(db, encoded_snapshot(tmp_path, "cp1252", lines=True), mapping=mapping)
    assert done.code == 0 and names == ["AEro", "Holscher"]


def test_a_utf16_file_with_its_byte_order_mark_needs_no_declaration(db, tmp_path):
    """Out-File and > in Windows PowerShell 5.1 write UTF-16LE with a byte-order mark."""
    done, names = synced_names(db, encoded_snapshot(tmp_path, "utf-16-le", bom=b"\xff\xfe"))
    assert done.code == 0 and names == ["AEro", "Holscher"]


def test_a_source_pattern_is_expanded_and_one_that_matches_nothing_says_so(db, tmp_path):
    """Windows PowerShell passes `export/*.json` on as it is: scmapper expands it itself."""
    folder = tmp_path / "export"
    folder.mkdir()
    for n in (1, 2):
        (folder / f"part{n}.json").write_text(json.dumps([make_person(str(n))]), "utf-8")
    done = run_cli("sync", "--mapping", DEFAULT_MAPPING, "--db", db, "--source", f"{folder}/*.json", "--json")
    assert done.code == 0 and done.json["counts"]["created"] == 2
    none = run_cli("sync", "--mapping", DEFAULT_MAPPING, "--db", db, "--source", f"{tmp_path}/nothing/*.json")
    assert none.code == 2 and f"--source {tmp_path}/nothing/*.json: no file matches" in none.err


def test_utf16_without_its_mark_is_named_as_such(db, tmp_path):
    path = encoded_snapshot(tmp_path, "utf-16-le")
    refused, _ = synced_names(db, path)
    assert refused.code == 2 and "it looks like UTF-16 without a byte-order mark (declare utf-16-le)" in refused.err
    done, names = synced_names(db, f"{path}:utf-16-le")
    assert done.code == 0 and names == ["AEro", "Holscher"]
