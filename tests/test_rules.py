"""rules.py, interpreted: the roles of a person rendered in one Jinja pass give what rendering them
one by one gives (the compiled form against both: test_compiled.py)."""

from datetime import date
from pathlib import Path

import pytest

from scmapper.authoring.cases import case_snapshot, load_cases
from scmapper.errors import DataError, SandboxViolation
from scmapper.mapping.loading import load_rules

from conftest import ROOT, derived_mapping, make_person

STARTERS = sorted((ROOT / "mappings").glob("*.tests.yaml"))


def outcome(rules, record, today, inputs=None):
    try:
        mapped = rules.map_person(record, today, inputs=inputs)
    except (DataError, SandboxViolation) as exc:
        return ("error", str(exc))
    return (mapped.row, mapped.roles, mapped.active, mapped.warnings)


def both_ways(rules, record, today, inputs=None):
    together = outcome(rules, record, today, inputs)
    template, rules._all_roles._template = rules._all_roles._template, None  # item by item only
    try:
        alone = outcome(rules, record, today, inputs)
    finally:
        rules._all_roles._template = template
    return together, alone


@pytest.mark.usefixtures("interpreted")
@pytest.mark.parametrize("cases", STARTERS, ids=[p.name for p in STARTERS])
def test_every_starter_case_maps_the_same_both_ways(cases):
    rules = load_rules(Path(str(cases).replace(".tests.yaml", ".yaml")))
    doc = load_cases(cases).data
    for case in doc["cases"]:
        today = case.get("today", doc.get("today"))
        snapshot = case_snapshot(rules.mapping.source, case)
        [record] = snapshot.records
        day = date.fromisoformat(today) if today else None
        together, alone = both_ways(rules, record.data, day, snapshot.tables)
        assert together == alone, case["name"]


@pytest.mark.usefixtures("interpreted")
def test_helloid_persons_map_the_same_both_ways_and_odd_ones_fall_back():
    rules = load_rules(ROOT / "mappings" / "spendcloud.yaml")
    three = make_person("1")
    three["Contracts"] = [dict(three["Contracts"][0]) for _ in range(3)]  # identical: they collapse
    odd = make_person("2")
    odd["Contracts"].append("not a contract")  # an item the when test cannot read
    for person in (make_person("4"), three, odd):
        together, alone = both_ways(rules, person, None)
        assert together == alone
    assert len(outcome(rules, three, None)[1]) == 1
    assert rules._all_roles.render(rules._context(odd, "x")) is None
    # A for_each that gives no plain list (an OData envelope, one item, nothing) goes item by item too.
    for contracts in ({"results": three["Contracts"]}, three["Contracts"][0], None):
        shaped = {**make_person("5"), "Contracts": contracts}
        assert rules._all_roles.render(rules._context(shaped, "x")) is None
        together, alone = both_ways(rules, shaped, None)
        assert together == alone
    # Records cannot hold control characters (check_record), but a value from elsewhere might:
    gap = make_person("3")
    gap["Contracts"][0]["Title"]["Name"] = "with \x1f inside"
    assert rules._all_roles.render(rules._context(gap, "x")) is None


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ person.Name }}", "column 'voornaam': the expression gives an object, not one value: name one of its"),
        ("{{ person.Contracts }}", "column 'voornaam': the expression gives a list, not one value: pick an item"),
    ],
    ids=["an object", "a list"],
)
def test_a_column_that_gives_an_object_or_a_list_fails_the_record_instead_of_writing_its_repr(
    tmp_path, source, message
):
    def change(data):
        data["person"]["columns"]["voornaam"] = source

    rules = load_rules(derived_mapping(tmp_path / "m.yaml", change))
    with pytest.raises(DataError, match=message):
        rules.map_person(make_person("1"))


def test_a_role_when_that_cannot_read_its_item_is_named_when_not_a_column():
    rules = load_rules(ROOT / "mappings" / "spendcloud.yaml")
    odd = make_person("2")
    odd["Contracts"] = [7]
    with pytest.raises(DataError, match=r"person '2': when: "):
        rules.map_person(odd)
