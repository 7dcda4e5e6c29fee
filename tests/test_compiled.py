"""The mapping compiled to Python against the same mapping run in Jinja: the same rows, byte for
byte, on every starter's samples and test cases and on the fuzzed events of the reliability
suite; the same errors; the rewritten Jinja built-ins against Jinja's own; what falls back."""

import ast
import copy
import importlib
import json
import random
import sys
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jinja2 import Environment
from reliability.test_fuzz import SAMPLE, mutate, mutated

from scmapper.authoring.cases import case_snapshot, load_cases
from scmapper.errors import DataError, SandboxViolation
from scmapper.mapping import builtins
from scmapper.mapping.compiler import translate
from scmapper.mapping.loading import load_mapping, load_rules
from scmapper.mapping.rules import Rules

from conftest import DEFAULT_MAPPING, ROOT, derived_mapping, make_person, rows, run_cli

sys.path.insert(0, str(ROOT / "tools" / "samples"))
generate = importlib.import_module("generate")
people = importlib.import_module("people")

STARTERS = generate.SYSTEMS
MAPPINGS = sorted(p for p in (ROOT / "mappings").glob("*.yaml") if not p.name.endswith(".tests.yaml"))
WITH_CASES = [p for p in MAPPINGS if p.with_name(p.name.replace(".yaml", ".tests.yaml")).is_file()]


def both(path, monkeypatch):
    """The rules of one mapping, compiled and interpreted."""
    made = {}
    for way in ("compiled", "interpreted"):
        monkeypatch.setenv("SCMAPPER_EVALUATION", way)
        made[way] = load_rules(path)
    monkeypatch.delenv("SCMAPPER_EVALUATION")
    assert made["compiled"].program is not None and made["interpreted"].program is None
    return made["compiled"], made["interpreted"]


def outcome(rules, record, today=None, inputs=None):
    try:
        m = rules.map_person(record, today, inputs=inputs)
    except (DataError, SandboxViolation) as exc:
        return ("error", type(exc).__name__, str(exc))
    return (m.key, m.row, m.roles, m.active, m.warnings, m.undecided, m.absent)


def test_every_starter_compiles_whole():
    for path in MAPPINGS:
        assert translate(load_mapping(path)).fallbacks == {}, path.name


@pytest.mark.parametrize("path", WITH_CASES, ids=[p.name for p in WITH_CASES])
def test_every_starter_case_maps_alike_compiled_and_interpreted(path, monkeypatch):
    compiled, interpreted = both(path, monkeypatch)
    doc = load_cases(path.with_name(path.name.replace(".yaml", ".tests.yaml"))).data
    for case in doc["cases"]:
        today = case.get("today", doc.get("today"))
        day = date.fromisoformat(today) if today else None
        snapshot = case_snapshot(compiled.mapping.source, case, day)
        for record in snapshot.records:
            mine = outcome(compiled, record.data, day, snapshot.tables)
            assert mine == outcome(interpreted, record.data, day, snapshot.tables), case["name"]


def synced(system, way, tmp_path):
    """Sync of the starter's sample folder and the export after it: the report, the tables and
    the files' bytes."""
    env = {"SCMAPPER_TODAY": people.TODAY.isoformat(), "SCMAPPER_EVALUATION": way}
    mapping = ROOT / "mappings" / f"{system}.yaml"
    files = [a for p in sorted((ROOT / "mappings" / "samples" / system).iterdir()) for a in ("--source", p)]
    db, out = tmp_path / f"{way}.db", tmp_path / way
    report = run_cli("sync", "--mapping", mapping, "--db", db, *files, "--json", env=env)
    assert report.code in (0, 1), report.err
    exported = run_cli("export", "--mapping", mapping, "--db", db, "--out", out, env=env)
    assert exported.code == 0, exported.err
    tables = {  # every column but the times a row was written
        name: [{k: v for k, v in row.items() if not k.endswith("_at")} for row in rows(db, f"SELECT * FROM {name}")]
        for name in ("persons", "roles")
    }
    body = {k: v for k, v in report.json.items() if k not in ("seconds", "started", "finished", "timings")}
    files = {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.is_file() and p.name != "export-report.json"}
    return body, tables, files  # (the export report says when it ran)


@pytest.mark.parametrize("system", STARTERS)
def test_a_starters_samples_sync_and_export_byte_for_byte_alike(system, tmp_path):
    compiled = synced(system, "compiled", tmp_path)
    interpreted = synced(system, "interpreted", tmp_path)
    assert compiled[2] and compiled[1]["persons"]
    assert compiled[0] == interpreted[0] and compiled[1] == interpreted[1]
    assert compiled[2].keys() == interpreted[2].keys()
    for name, content in compiled[2].items():
        assert content == interpreted[2][name], name


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fuzzed_events_map_alike(seed, monkeypatch):
    compiled, interpreted = both(DEFAULT_MAPPING, monkeypatch)
    rng = random.Random(seed)
    failed = 0
    for number in range(250):
        context = mutated(rng, number).get("personContext")
        person = context.get("Person") if isinstance(context, dict) else None
        if not isinstance(person, dict):
            continue  # an event without a person object is refused before any mapping
        mine = outcome(compiled, copy.deepcopy(person))
        assert mine == outcome(interpreted, copy.deepcopy(person)), json.dumps(person)[:400]
        failed += mine[0] == "error"
    assert 0 < failed < 250  # the mutations both broke records and left some whole


@pytest.mark.parametrize("path", MAPPINGS, ids=[p.name for p in MAPPINGS])
def test_fuzzed_records_of_every_starter_map_alike(path, monkeypatch):
    compiled, interpreted = both(path, monkeypatch)
    cases_file = path.with_name(path.name.replace(".yaml", ".tests.yaml"))
    cases = (
        load_cases(cases_file).data["cases"]
        if cases_file.is_file()
        else [{"record": SAMPLE["personContext"]["Person"]}]
    )
    rng = random.Random(path.name)
    for case in cases:
        snapshot = case_snapshot(compiled.mapping.source, case)
        for record in snapshot.records:
            for _ in range(12):
                broken = json.loads(json.dumps(mutate(rng, copy.deepcopy(record.data)), default=str))  # as read
                mine = outcome(compiled, copy.deepcopy(broken), inputs=snapshot.tables)
                theirs = outcome(interpreted, copy.deepcopy(broken), inputs=snapshot.tables)
                assert mine == theirs, json.dumps(broken, default=str)[:400]


@pytest.mark.parametrize(
    "column",
    [
        "{{ person.Name.GivenName ~ ' ' ~ (person.Name.FamilyName | upper) }}",
        "{% if person.Name.NickName %}{{ person.Name.NickName | trim | title }}{% else %}-{% endif %}",
        "{{ person.Contracts | map(attribute='Department.DisplayName') | join(', ') }}",
        "{{ person.Contracts | selectattr('Context.InConditions') | list | length }}",
        "{{ (person.Contracts | first).Title.Name | replace('e', 'E', 1) }}",
        "{{ person.Name.Missing | default('none') }} {{ person.Name.Missing is defined }}",
        "{{ [1, 2, 3] | select('odd') | list | join }} {{ {'a': 1}.a + 2 * 3 - 1 }} {{ 7 // 2 }} {{ 2 ** 8 }}",
        "{{ person.Name.GivenName.upper() }} {{ 'a,b'.split(',') | last }} {{ person.Name.Missing ~ 'x' }}",
        "{{ person.ExternalId | int + 1 }} {{ 'x' if person.Name.FamilyName in ['Person1'] else 'y' }}",
        "{{ person.Contracts[5].Title }}{{ person['Name']['GivenName'] | lower }}",
        "{{ (person.ExternalId | int) >= 1 }} {{ 1 < 2 <= 2 > 1 }} {{ 'a' != 'b' }} {{ 'x' not in 'abc' }} {{ -1 }}",
        "{{ not person.Name.NickName }} {{ 3 / 2 }} {{ 7 % 3 }} {{ (2, 'b') | join }} {{ 2 == 2.0 }}",
    ],
)
def test_each_kind_of_expression_compiles_and_gives_what_jinja_gives(column, tmp_path, monkeypatch):
    def change(data):
        data["person"]["columns"]["voornaam"] = column

    path = derived_mapping(tmp_path / "m.yaml", change)
    assert translate(load_mapping(path)).fallbacks == {}
    compiled, interpreted = both(path, monkeypatch)
    for person in (make_person("1"), make_person("2", NickName="  jan-willem de  boer "), {"ExternalId": "3"}):
        assert outcome(compiled, person) == outcome(interpreted, person)
    assert outcome(compiled, make_person("1"))[0] != "error"


@pytest.mark.parametrize(
    ("column", "reason"),
    [
        ("{% for c in person.Contracts %}{{ c.Title.Name }}{% endfor %}", "a {% for %} block"),
        ("{% set x = person.Name.GivenName %}{{ x }}", "a {% assign %} block"),
        ("{{ person.Name.GivenName[1:3] }}", "a slice ([a:b])"),
        ("{{ person.Contracts | sort(attribute='Title.Name') | first }}", "the filter 'sort'"),
        ("{{ person.Contracts | join(', ', attribute='Title.Name') }}", "the filter 'join' with these arguments"),
        ("{{ 'yes' if person.Name.NickName }}", "an inline if without else"),
    ],
)
def test_what_the_compiler_does_not_write_runs_in_jinja_and_validate_explain_says_so(
    column, reason, tmp_path, monkeypatch
):
    def change(data):
        data["person"]["columns"]["voornaam"] = column

    path = derived_mapping(tmp_path / "m.yaml", change)
    assert translate(load_mapping(path)).fallbacks == {("column", "voornaam"): reason}
    compiled, interpreted = both(path, monkeypatch)
    for person in (make_person("1"), make_person("2", NickName="Jo")):
        assert outcome(compiled, person) == outcome(interpreted, person)
    explained = run_cli("validate", "--explain", path)
    assert explained.code == 0
    assert f"person.columns.voornaam runs in Jinja: {reason}" in explained.out
    assert "of 14 expressions compiled to Python" in explained.out
    report = run_cli("validate", "--explain", "--json", path).json["evaluation"][str(path)]
    assert report["compiled"] == 13 and [p["piece"] for p in report["interpreted"]] == ["person.columns.voornaam"]


def test_an_interpreted_run_is_asked_for_by_name(monkeypatch):
    monkeypatch.setenv("SCMAPPER_EVALUATION", "interpreted")
    assert Rules(load_mapping(DEFAULT_MAPPING)).program is None
    monkeypatch.setenv("SCMAPPER_EVALUATION", "anything else")
    assert Rules(load_mapping(DEFAULT_MAPPING)).program is not None


def test_the_compiled_module_holds_no_text_of_the_mapping_as_code(tmp_path):
    hostile = "{{ person['\\'] + __import__(\"os\").system(\"x\") + \\''] ~ 'a\\nb' }}"

    def change(data):
        data["person"]["columns"]["voornaam"] = hostile

    source = translate(load_mapping(derived_mapping(tmp_path / "m.yaml", change))).source
    assert "__import__" in source  # as text inside a literal only: every name in the code is the compiler's
    tree = ast.parse(source)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    runtime = {"attribute", "item", "binop", "call", "concat", "output", "made", "weigh", "FILTERS", "TESTS"}
    own = {"c", "_parts", "_out", "PIECES", "row_column", "row_role"}
    assert names <= runtime | own | {f"piece_{i}" for i in range(40)}, names - runtime - own
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr != "append"]


# --- the rewritten built-ins against Jinja's own -----------------------------------------------

JINJA = Environment()  # Jinja as it comes: its filters and tests are the reference
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=12),
    st.sampled_from(["42", "4.5", "0x1f", " 7 ", "-3", "1e3", "abc", "Ĳ-zoë (x)", "a-b c[d<e"]),
)
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=4), st.dictionaries(st.text(max_size=3), SCALARS, max_size=3))
RECORDS = st.lists(st.fixed_dictionaries({"a": SCALARS, "b": st.fixed_dictionaries({"c": SCALARS})}), max_size=4)


def jinja_says(expression, **values):
    try:
        return ("ok", JINJA.compile_expression(expression, undefined_to_none=False)(**values))
    except Exception as exc:  # noqa: BLE001 - both sides must fail alike
        return ("error", type(exc).__name__)


def plain_says(call):
    try:
        return ("ok", call())
    except Exception as exc:  # noqa: BLE001
        return ("error", type(exc).__name__)


def same(mine, theirs):
    if mine[0] == "error" or theirs[0] == "error":
        return mine[0] == theirs[0]
    a, b = mine[1], theirs[1]
    return type(a) is type(b) and (a == b or (a != a and b != b))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=VALUES, argument=SCALARS)
def test_rewritten_filters_give_what_jinjas_give(value, argument):
    plain = builtins.FILTERS
    calls = {
        "v | lower": lambda: plain["lower"](value),
        "v | upper": lambda: plain["upper"](value),
        "v | capitalize": lambda: plain["capitalize"](value),
        "v | title": lambda: plain["title"](value),
        "v | trim": lambda: plain["trim"](value),
        "v | trim(a)": lambda: plain["trim"](value, argument),
        "v | string": lambda: plain["string"](value),
        "v | length": lambda: plain["length"](value),
        "v | count": lambda: plain["count"](value),
        "v | list": lambda: plain["list"](value),
        "v | int": lambda: plain["int"](value),
        "v | int(a)": lambda: plain["int"](value, argument),
        "v | float": lambda: plain["float"](value),
        "v | abs": lambda: plain["abs"](value),
        "v | join": lambda: plain["join"](value),
        "v | join(a)": lambda: plain["join"](value, argument),
        "v | replace('a', a)": lambda: plain["replace"](value, "a", argument),
        "v | replace(a, 'x', 1)": lambda: plain["replace"](value, argument, "x", 1),
        "v | select | list": lambda: list(plain["select"](value)),
        "v | reject('none') | list": lambda: list(plain["reject"](value, "none")),
        "v | select('eq', a) | list": lambda: list(plain["select"](value, "eq", argument)),
    }
    for expression, call in calls.items():
        theirs = jinja_says(expression, v=value, a=argument)
        assert same(plain_says(call), theirs), (expression, value, argument)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=RECORDS, argument=SCALARS)
def test_rewritten_attribute_filters_give_what_jinjas_give(records, argument):
    plain = builtins.FILTERS
    calls = {
        "v | map(attribute='b.c') | list": lambda: list(plain["map"](records, attribute="b.c")),
        "v | map(attribute='a') | list": lambda: list(plain["map"](records, attribute="a")),
        "v | selectattr('a') | list": lambda: list(plain["selectattr"](records, "a")),
        "v | rejectattr('b.c', 'none') | list": lambda: list(plain["rejectattr"](records, "b.c", "none")),
        "v | selectattr('a', 'in', [a, 1]) | list": lambda: list(
            plain["selectattr"](records, "a", "in", [argument, 1])
        ),
    }
    for expression, call in calls.items():
        assert same(plain_says(call), jinja_says(expression, v=records, a=argument)), (expression, records)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=VALUES, argument=SCALARS)
def test_rewritten_tests_give_what_jinjas_give(value, argument):
    for name, test in builtins.TESTS.items():
        if name in ("defined", "undefined") or not name.isalpha():
            continue  # defined: scmapper's own on both paths; ==, <, ...: the same functions as eq, lt, ...
        takes = name in ("divisibleby", "sameas", "in", "==", "eq", "equalto", "!=", "ne", ">", "gt", "greaterthan")
        takes = takes or name in (">=", "ge", "<", "lt", "lessthan", "<=", "le")
        args = (argument,) if takes else ()
        if name == "in":
            args = ([argument, value],)
        expression = f"v is {name}" + ("(a)" if takes else "")
        theirs = jinja_says(expression, v=value, a=args[0] if args else None)
        assert same(plain_says(lambda t=test, a=args: t(value, *a)), theirs), (name, value, argument)


def test_the_bounds_attacks_are_compiled_where_they_can_be(tmp_path):
    """test_bounded_work runs every attack both ways; these are the ones that meet plain.py."""
    from reliability.test_bounded_work import SHARED_ATTACKS

    in_jinja = {"tojson": "tojson", "sum": "sum", "max": "max", "literal": "assign"}
    for number, (name, expression) in enumerate(SHARED_ATTACKS.items()):
        source = expression if expression.startswith("{%") else "{{ " + expression + " }}"

        def change(data, source=source):
            data["person"]["columns"]["voornaam"] = source

        fallbacks = translate(load_mapping(derived_mapping(tmp_path / f"m{number}.yaml", change))).fallbacks
        if name in in_jinja:
            assert in_jinja[name] in fallbacks[("column", "voornaam")], name
        else:
            assert fallbacks == {}, name


def test_a_compiled_run_spends_the_budget_as_an_interpreted_one_does(monkeypatch):
    from scmapper.mapping import budget

    compiled, interpreted = both(DEFAULT_MAPPING, monkeypatch)
    person = make_person("1")
    left = []
    for rules in (compiled, interpreted):
        with budget.spending(2, 65536) as spent:
            rules._map(rules._context(person, "p"), "p", True)
        left.append(spent.steps)
    # The same steps, but for one a role item: Jinja renders all roles in one loop, a step a turn.
    assert 0 <= left[0] - left[1] <= len(person["Contracts"])


# --- column patterns: RE2's yes or no, asked directly ------------------------------------------

PATTERNS = [r"^[^@\s]+@[^@\s]+$", r"^\d{4}$", r"[A-Z]{2}-\d+", r"^$", r"\pL+ \pL", r"(a|aa)+$", r"é", r"^.{0,3}$"]


@settings(max_examples=300, deadline=None)
@given(value=st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=30), which=st.sampled_from(PATTERNS))
def test_a_patterns_direct_answer_is_what_re2_search_says(value, which):
    from scmapper.mapping.patterns import compiled

    pattern = compiled(which)
    assert pattern._match is not None  # the direct path is the one under test
    assert pattern.found(value) == (pattern.regexp.search(value) is not None)


# --- what a review of the compiler found: each case both ways, alike ---------------------------


def one_column(tmp_path, source, name="voornaam", table="person"):
    def change(data):
        data[table]["columns"][name] = source

    return derived_mapping(tmp_path / "m.yaml", change)


@pytest.mark.parametrize(
    "source",
    [
        "{{ person.Name.GivenName.mro | default('x') }} {{ person.Name.GivenName.mro is defined }}",
        "{{ [] | map | list | length }} {{ [] | map(default='x') | list | length }}",
        "{{ [] | selectattr | list | length }} {{ [{'a': 1}] | selectattr | list | length }}",
        "{{ 'a b'.split(_loop_vars=1) | join('-') }}",
        "{{ 'x' | replace('a') }}",
        "{{ 4 is divisibleby }}",
        "{{ 'x' | int(5, default=3) }}",
        "{{ ('\\t' * 40000).expandtabs(tabsize=50000) | length }}",
        "{{ (person.ExternalId | int).to_bytes(length=2000000000, byteorder='big') | length }}",
    ],
)
def test_calls_the_rewrites_would_take_otherwise_than_jinja_run_in_jinja(source, tmp_path, monkeypatch):
    compiled, interpreted = both(one_column(tmp_path, source), monkeypatch)
    for person in (make_person("1"), {"ExternalId": "2"}):
        assert outcome(compiled, person) == outcome(interpreted, person)


def test_a_lazy_value_in_a_var_is_taken_once_so_every_reader_sees_it_whole(tmp_path, monkeypatch):
    def change(data):
        data.setdefault("vars", {})["titles"] = "person.Contracts | map(attribute='Title.Name')"
        data["person"]["columns"]["voornaam"] = "{{ vars.titles | join(',') }}"
        data["person"]["columns"]["tussenvoegsel"] = "{% for t in vars.titles %}{{ t }}{% endfor %}"  # in Jinja
        data["roles"]["columns"]["functie"] = "{{ vars.titles | join('/') }}"

    compiled, interpreted = both(derived_mapping(tmp_path / "m.yaml", change), monkeypatch)
    person = make_person("1")
    del person["Details"]["Gender"]  # an absent field: the row is redone column by column
    second = copy.deepcopy(person["Contracts"][0])
    second["Title"] = {"Name": "Second"}  # no ExternalId: a role column reads an absent field
    person["Contracts"].append(second)
    mine = outcome(compiled, person)
    assert mine == outcome(interpreted, person)
    assert mine[1]["voornaam"] == mine[1]["tussenvoegsel"].replace("Second", ",Second")
    assert {role["functie"] for role in mine[2]} == {mine[1]["voornaam"].replace(",", "/")}


def test_a_role_value_holding_a_separator_is_one_role_in_jinja_too(tmp_path, monkeypatch):
    def change(data):
        columns = data["roles"]["columns"]
        for name in list(columns):
            columns[name] = {"fixed": name}
        columns["functie"] = "{{ contract.Title.Name ~ '\\x1e' ~ 'X' }}"

    compiled, interpreted = both(derived_mapping(tmp_path / "m.yaml", change), monkeypatch)
    mine = outcome(compiled, make_person("1"))
    assert mine == outcome(interpreted, make_person("1")) and len(mine[2]) == 1


def test_an_item_named_as_a_name_expressions_have_is_a_validation_problem(tmp_path):
    def change(data):
        data["roles"]["for_each"] = "loop in person.Contracts"
        data["roles"]["when"] = "loop.Context.InConditions"

    done = run_cli("validate", derived_mapping(tmp_path / "m.yaml", change))
    assert done.code == 1 and "for_each names each item 'loop', a name expressions already have" in done.out


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ person.Missing | items | list | length }}", "0"),
        ("{{ person.Contracts | groupby('Title.Missing', default='g') | map(attribute='grouper') | join }}", "g"),
    ],
)
def test_an_absent_field_is_undefined_to_jinjas_own_filters(source, expected, tmp_path, monkeypatch):
    compiled, interpreted = both(one_column(tmp_path, source), monkeypatch)
    mine = outcome(compiled, make_person("1"))
    assert mine == outcome(interpreted, make_person("1")) and mine[1]["voornaam"] == expected


def test_kept_code_is_that_of_the_very_files_bases_included(tmp_path):
    base, main = tmp_path / "base.yaml", tmp_path / "main.yaml"
    layout = (
        'version: 1\nperson:\n  key: id\n  extra_columns: [id, name]\n  columns:\n    id: "{{ person.ExternalId }}"\n'
    )
    main.write_text("version: 1\nextends: base.yaml\n")
    base.write_text(layout + "    name: \"{{ person.Name.GivenName ~ '-v1' }}\"\n")
    assert load_rules(main).map_person(make_person("1")).row["name"] == "Test-v1"
    from scmapper.mapping import cache

    first = {p: p.read_bytes() for p in cache.directory().glob("*.code")}
    base.write_text(layout + "    name: \"{{ person.Name.GivenName ~ '-v2' }}\"\n")
    assert load_rules(main).map_person(make_person("1")).row["name"] == "Test-v2"
    for path, raw in first.items():  # a process that read version 1 writes its code last
        path.write_bytes(raw)
    assert load_rules(main).map_person(make_person("1")).row["name"] == "Test-v2"
