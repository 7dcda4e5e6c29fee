"""The sandbox and the lookup rules, on the environment every mapping uses."""

import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from scmapper.mapping import absence, day, expressions
from scmapper.mapping.absence import AbsentError
from scmapper.mapping.budget import LimitExceeded
from scmapper.mapping.document import expression_source

PERSON = {
    "ExternalId": "1",
    "Name": {"NickName": None, "GivenName": "Anna"},
    "Details": None,
    "accountField": "lower",
}

NAMES = frozenset({"person", "today"})


def render(source, **context):
    return expressions.environment().from_string(source).render(person=PERSON, **context)


def test_null_renders_empty_and_default_treats_null_as_missing():
    assert render("[{{ person.Name.NickName }}]") == "[]"
    assert render("{{ person.Name.NickName | default(person.Name.GivenName) }}") == "Anna"


def test_attribute_of_null_is_null_not_an_error():
    assert render("[{{ person.Details.Gender }}]") == "[]"


def test_keys_fall_back_to_case_insensitive_match():
    assert render("{{ person.externalid }}/{{ person.AccountField }}") == "1/lower"


def test_an_absent_key_reads_empty_and_its_use_is_noted_with_its_path():
    with absence.noting() as notes:
        assert render("[{{ person.Nmae.Given }}]") == "[]"
    assert [absence.path_of(n, {"person": PERSON}) for n in notes] == ["person.Nmae"]


def test_an_absent_key_that_is_tested_or_defaulted_is_not_noted():
    with absence.noting() as notes:
        text = "{{ person.Nmae | default('d') }}{{ person.X or 'o' }}{% if person.Y %}y{% endif %}"
        assert render(text) == "do"
    assert notes == []


def test_an_absent_key_in_arithmetic_is_still_an_error():
    with pytest.raises(AbsentError, match="'Nmae' is absent"):
        render("{{ person.Nmae + 1 }}")


def test_an_attribute_of_a_text_is_an_error_not_an_absence():
    with pytest.raises(UndefinedError, match="has no attribute 'Given'"):
        render("{{ person.ExternalId.Given }}")


def test_an_item_past_the_end_of_a_list_is_absent():
    with absence.noting() as notes:
        assert render("[{{ items[2].name }}]", items=[{"name": "a"}]) == "[]"
    assert [n.path for n in notes] == ["[2].name"]


def test_a_lookup_table_matches_ids_as_text_and_names_a_miss():
    table = absence.Table("units", {"7": {"name": "ICT"}})
    context = {"inputs": {"units": table}}
    assert render("{{ inputs.units[7].name }}/{{ inputs.units['7'].name }}", **context) == "ICT/ICT"
    with absence.noting() as notes:
        assert render("[{{ inputs.units['8'].name }}][{{ inputs.units[none].name }}]", **context) == "[][]"
    assert [absence.path_of(n, context) for n in notes] == ["inputs.units['8']"]


ATTACKS = [
    "{{ person.__class__ }}",
    "{{ person.__class__ | default('x') }}",
    "{{ ''.__class__.__mro__ }}",
    "{{ (person.Name.GivenName.__class__) | default('safe', true) }}",
    "{{ person.Name.GivenName._x | default('y') }}",
]


@pytest.mark.parametrize("source", ATTACKS)
def test_underscore_access_raises_even_inside_default(source):
    with pytest.raises(SecurityError):
        render(source)


@pytest.mark.parametrize("source", ATTACKS)
def test_underscore_access_is_refused_statically(source):
    problems = expressions.check_template(source, NAMES)
    assert any("is not allowed" in message for _, message in problems)


@pytest.mark.parametrize("name", ["self", "cycler", "joiner", "lipsum", "namespace", "config", "range", "os", "dict"])
def test_jinja_globals_are_unknown_names(name):
    problems = expressions.check_template("{{ " + name + " | default('x') }}", NAMES)
    assert problems == [(1, f"unknown name {name!r} (available: person, today)")]


@pytest.mark.parametrize(
    "source", ["{{ 'x' * 1000000000 }}", "{{ [1] * 10000000 }}", "{{ 10 ** 100000 }}", "{{ (10 ** 999) ** 999 }}"]
)
def test_size_bombs_are_refused_before_they_are_made(source):
    with pytest.raises(LimitExceeded):
        render(source)


def test_unknown_filter_and_syntax_errors_are_reported_with_line():
    assert expressions.check_template("{{ person.Name | nosuchfilter }}", NAMES) == [
        (1, "unknown filter 'nosuchfilter'")
    ]
    [(line, message)] = expressions.check_template("a\n{{ person.Name. }}", NAMES)
    assert line == 2 and message.startswith("Jinja syntax error")


def test_names_bound_inside_a_template_are_allowed():
    source = "{% for c in person.Contracts %}{{ loop.index }}{{ c }}{% endfor %}{% set x = 1 %}{{ x }}"
    assert expressions.check_template(source, NAMES) == []


def test_expression_source_strips_braces():
    assert expression_source("{{ contract.Context.InConditions }}") == "contract.Context.InConditions"
    assert expression_source("person.Contracts") == "person.Contracts"


def test_today_can_be_fixed_for_mapping_tests(monkeypatch):
    monkeypatch.setenv("SCMAPPER_TODAY", "2024-02-29")
    assert str(day.today()) == "2024-02-29"
