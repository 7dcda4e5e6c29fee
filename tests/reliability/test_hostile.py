"""Hostile and broken input, kept as data so the lists can grow: each gets a clear message, the
right exit code, no traceback, and nothing written."""

import json
import re

import pytest

from conftest import DEFAULT_MAPPING, count, derived_mapping, make_person, run_cli

# Every test here runs twice: on the mapping compiled to Python and on every piece in Jinja.
pytestmark = pytest.mark.usefixtures("evaluation")


def apply(db, raw, *args, mapping=DEFAULT_MAPPING):
    action = ("--action", "create") if b"actionContext" in raw else ()
    return run_cli("apply", "--mapping", mapping, "--db", db, *action, *args, "-", input=raw)


def with_person(**changes):
    person = make_person("1")
    person.update(changes)
    return json.dumps({"action": "create", "person": person})


def deep(levels):
    return "[" * levels + "]" * levels


# (name, raw event, exit code, text the message contains)
EVENTS = [
    ("not json", b"{nope", 2, "not valid JSON"),
    ("empty", b"", 2, "not valid JSON"),
    ("an array", b"[]", 2, "must be a JSON object, not an array"),
    ("a string", b'"create"', 2, "must be a JSON object, not a string"),
    ("null", b"null", 2, "must be a JSON object, not null"),
    ("invalid utf-8", b'{"action": "create", "person": {"x": "\xc3\x28"}}', 2, "not valid UTF-8"),
    ("utf-16", '{"action": "create"}'.encode("utf-16"), 2, "not valid UTF-8"),
    ("10,000 deep", ('{"action": "create", "person": {"x": ' + deep(10_000) + "}}").encode(), 2, "nested too deeply"),
    ("unknown action", b'{"action": "rename", "person": {}}', 2, "unknown action 'rename'"),
    ("missing person", b'{"action": "create"}', 2, "needs a person object"),
    ("action a number", b'{"action": 5, "person": {}}', 2, "'action' must be a string, not a number"),
    ("person a list", b'{"action": "create", "person": []}', 2, "'person' must be an object, not an array"),
    ("person a number", b'{"action": "create", "person": 7}', 2, "'person' must be an object, not a number"),
    ("dryRun a string", b'{"action": "create", "person": {}, "dryRun": "no"}', 2, "'dryRun' must be true or false"),
    (
        "correlate a number",
        b'{"action": "create", "person": {}, "correlate": 1}',
        2,
        "'correlate' must be true or false",
    ),
    (
        "reference an object",
        b'{"action": "update", "person": {}, "accountReference": {}}',
        2,
        "'accountReference' must be a string",
    ),
    (
        "reference a bool",
        b'{"action": "update", "person": {}, "accountReference": true}',
        2,
        "'accountReference' must be a string",
    ),
    ("helloid context a list", b'{"actionContext": [], "personContext": {}}', 2, "'actionContext' must be an object"),
    (
        "helloid person a string",
        b'{"actionContext": {}, "personContext": {"Person": "x"}}',
        2,
        "'Person' must be an object",
    ),
    (
        "helloid dryrun a string",
        b'{"actionContext": {"DryRun": "true"}, "personContext": {"Person": {}}}',
        2,
        "'DryRun' must be true or false",
    ),
    ("70 deep person", with_person(Extra=json.loads(deep(70))).encode(), 1, "nested deeper than 64 levels"),
    ("a NUL in a name", with_person(Name={"FamilyName": "Jan\x00sen"}).encode(), 1, "control character U+0000"),
    ("an escape character", with_person(Name={"FamilyName": "\x1b[31mrood"}).encode(), 1, "control character U+001B"),
    ("a control character in a key", with_person(**{"Bad\x07Key": "x"}).encode(), 1, "control character U+0007"),
    # JSON's short escapes: the quick test on the event's text must see them as control characters too.
    ("a backspace escape", with_person(Name={"FamilyName": "Jan\bsen"}).encode(), 1, "control character U+0008"),
    ("a form feed escape", with_person(Name={"FamilyName": "Jan\fsen"}).encode(), 1, "control character U+000C"),
    ("an upper-case escape", b'{"action": "create", "person": {"ExternalId": "1", "X": "\\u001B"}}', 1, "U+001B"),
    (
        "70,000 characters",
        with_person(Name={"FamilyName": "x" * 70_000}).encode(),
        1,
        "70000 characters long; the limit is 65536",
    ),
    ("a number for the name", with_person(Name=5).encode(), 1, "'int object' has no attribute"),
    (
        "a list for the accounts",
        with_person(Accounts=[1, 2]).encode(),
        1,
        "has no attribute 'MicrosoftActiveDirectory'",
    ),
    ("a string for the contracts", with_person(Contracts="none").encode(), 1, "is not a list"),
    # Numbers no person record holds: Python would read them (NaN as nan, 5,000 digits slowly).
    ("NaN for a key", b'{"action": "create", "person": {"ExternalId": NaN}}', 2, "holds NaN, which is not a JSON"),
    ("Infinity", b'{"action": "create", "person": {"ExternalId": -Infinity}}', 2, "holds -Infinity, which is not"),
    ("1e400", b'{"action": "create", "person": {"ExternalId": 1e400}}', 2, "holds a number too large to read"),
    (
        "a 5,000-digit number",
        b'{"action": "create", "person": {"X": ' + b"9" * 5000 + b"}}",
        2,
        "holds a number with more than 4300 digits",
    ),
    ("200,000 items", with_person(Extra=[1] * 200_000).encode(), 1, "has 200000 items; the limit is 100000"),
    (
        "a 17 MiB event",
        with_person(Extra=["x" * 1000] * 17_500).encode(),
        2,
        "the limit is 16777216",
    ),
]


@pytest.mark.parametrize(("name", "raw", "code", "message"), EVENTS, ids=[e[0] for e in EVENTS])
def test_hostile_events(db, name, raw, code, message):
    result = apply(db, raw)
    assert result.code == code, result.out + result.err
    assert message in result.out, result.out
    assert json.loads(result.out)["success"] is False
    assert "Traceback" not in result.err
    assert count(db, "persons") == 0 and count(db, "events") == 0


def test_tab_newline_and_carriage_return_are_legal_and_round_trip(db, tmp_path):
    name = "Jan\tde\r\nMan"
    assert apply(db, with_person(Name={"NickName": name, "FamilyName": "Smit"}).encode()).code == 0
    assert run_cli("export", "--mapping", DEFAULT_MAPPING, "--db", db, "--out", tmp_path / "out").code == 0
    import csv

    with (tmp_path / "out" / "Users.csv").open(encoding="utf-8-sig", newline="") as handle:
        assert list(csv.reader(handle, delimiter=";"))[1][0] == name


def test_the_text_limit_is_configurable(db, tmp_path):
    small = derived_mapping(tmp_path / "small.yaml", lambda m: m.update(limits={"value_length": 10}))
    result = apply(db, with_person(Name={"FamilyName": "Abcdefghijkl"}).encode(), mapping=small)
    assert result.code == 1 and "the limit is 10" in result.out


# --- mappings ---------------------------------------------------------------------------------

BASE = 'version: 1\nperson:\n  key: k\n  extra_columns: [k, y]\n  columns:\n    k: "{{ person.ExternalId }}"\n'


def laughs(levels):
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join(lines)


# (name, mapping text, text the validate message contains)
MAPPINGS = [
    ("yaml syntax", "version: 1\nperson: {key: [\n", "YAML syntax error"),
    ("duplicate keys", BASE + '    k: "{{ person.Id }}"\n', "duplicate key 'k'"),
    ("python object tag", BASE + '    x: !!python/object/apply:os.system ["id"]\n', "is not allowed in a mapping file"),
    ("python name tag", BASE + "    x: !!python/name:os.system ''\n", "cannot read value"),
    ("billion laughs", laughs(9) + "\n" + BASE, "aliases expand too far"),
    (
        "laughs inside a lookup table",
        BASE
        + "lookups:\n  t: &t {a: b}\n"
        + "".join(f"  t{i}: *t\n" for i in range(3))
        + laughs(9).replace("a0:", "x0:"),
        "aliases expand too far",
    ),
    ("recursive alias", "version: 1\nx: &x [*x]\n" + BASE, "nesting deeper"),
    ("unknown column key", BASE + '    y: {valeu: "x"}\n', "unknown key 'valeu' (did you mean 'value'?)"),
    ("unknown filter", BASE + '    y: "{{ person.x | shout }}"\n', "unknown filter 'shout'"),
    ("jinja syntax", BASE + '    y: "{{ person.x | }}"\n', "Jinja syntax error"),
    ("unclosed block", BASE + '    y: "{% if person.x %}yes"\n', "Jinja syntax error"),
    ("include a file", BASE + "    y: \"{% include '/etc/passwd' %}\"\n", "include is not allowed"),
    ("import a template", BASE + "    y: \"{% import 'x' as x %}\"\n", "import is not allowed"),
    ("extends in a template", BASE + "    y: \"{% extends 'x' %}\"\n", "extends is not allowed"),
    ("5,000 parentheses", BASE + '    y: "{{ ' + "(" * 5000 + "1" + ")" * 5000 + ' }}"\n', "nested too deeply"),
    (
        "25 nested for blocks",
        BASE + '    y: "' + "".join(f"{{% for a{i} in [1] %}}" for i in range(25)) + "x" + "{% endfor %}" * 25 + '"\n',
        "nested too deeply",
    ),
    (
        "150 nested if blocks",
        BASE + '    y: "' + "{% if true %}" * 150 + "x" + "{% endif %}" * 150 + '"\n',
        "nested too deeply",
    ),
    ("a control character", BASE + "# \x01\n", "character U+0001 is not allowed in a YAML file"),
    ("a 5,000-digit number", BASE + "limits: {seconds: " + "9" * 5000 + "}\n", "number of 5000 characters is too long"),
    ("% formatting", BASE + "    y: \"{{ '%1000000000s' % 'x' }}\"\n", "% formatting is not allowed"),
    ("a column named scm_ref", BASE + '    scm_ref: "x"\n', "names starting with 'scm_' are scmapper's own"),
    ("a column named SCM_Active", BASE + '    SCM_Active: "0"\n', "names starting with 'scm_' are scmapper's own"),
    ("Email beside email", BASE + '    email: "a"\n    Email: "b"\n', "column names differ by more than case"),
    ("a newline after a name", BASE + '    "gebruikersnaam\\n": "x"\n', "names start with a letter"),
    ("seconds without end", BASE + "limits: {seconds: 1000000000}\n", "is greater than the maximum of 25"),
    ("seconds infinite", BASE + "limits: {seconds: .inf}\n", "is greater than the maximum of 25"),
    ("seconds not a number", BASE + "limits: {seconds: .nan}\n", "limits.seconds must be a finite number"),
    ("extends outside", "version: 1\nextends: /etc/passwd\n" + BASE[11:], "extends '/etc/passwd' leads outside"),
    ("extends upwards", "version: 1\nextends: ../../../etc/passwd\n" + BASE[11:], "leads outside the mapping's folder"),
    ("extends /proc", "version: 1\nextends: /proc/self/environ\n" + BASE[11:], "leads outside the mapping's folder"),
] + [
    (f"export file {name!r}", BASE + f'export:\n  persons: {{file: "{name}", columns: [k]}}\n', message)
    for name, message in (
        (".", "names starting with '.'"),
        ("..", "names starting with '.'"),
        ("archive", "a name the export itself uses"),
        ("export-report.json", "a name the export itself uses"),
        ("a\\0b.csv", "give a plain file name"),
        ("con.csv", "not a name Windows can give a file"),
        ("Users.csv.", "not a name Windows can give a file"),
    )
]


@pytest.mark.parametrize(("name", "text", "message"), MAPPINGS, ids=[m[0] for m in MAPPINGS])
def test_hostile_mappings(tmp_path, db, name, text, message):
    mapping = tmp_path / "m.yaml"
    mapping.write_text(text, "utf-8")
    checked = run_cli("validate", mapping)
    assert checked.code == 1 and message in checked.out, checked.out
    applied = apply(db, with_person().encode(), mapping=mapping)
    assert applied.code == 2 and message in applied.err
    assert "Traceback" not in applied.err + checked.err and not db.exists()


def test_a_fifty_megabyte_mapping_is_refused_unread(tmp_path):
    mapping = tmp_path / "big.yaml"
    with mapping.open("w") as handle:
        handle.write(BASE)
        handle.write("# " + "x" * 1_000_000 + "\n")
        handle.truncate(50 * 1024 * 1024)
    result = run_cli("validate", mapping)
    assert result.code == 1 and "larger than 2 MiB" in result.out


# Expressions that try to escape the sandbox or exhaust the machine. Each must be refused by
# validate (exit 1) and by apply (exit 2 for a mapping refused before it runs, 1 when the
# record it runs on fails), even wrapped in default(...), and write nothing.
ATTACKS = [
    "person.__class__",
    "person.__class__.__mro__[1].__subclasses__()",
    "person.get.__globals__",
    "(person.Name | default('')).__class__",
    "person['__class__']",
    "self",
    "self._TemplateReference__context",
    "cycler",
    "joiner()",
    "lipsum()",
    "namespace()",
    "config",
    "range(10**9)",
    "'x' * 10**9",
    "[1] * 10**9",
    "10 ** 100000",  # Jinja reads 10 ** 10 ** 9 as (10 ** 10) ** 9, which is harmless
    "os",
    "open('/etc/passwd').read()",
    "request",
    "dict(a=1)",
    "'{0.__class__}'.format(person)",
    "'{0.__class__}'.format_map([person])",
    # Growing text and lists past the limit, in ways each of which used to get through.
    "'x'.ljust(10**10)",
    "'x'.zfill(10**9)",
    "'x'.center(10**9)",
    "('x' * 60000).replace('x', 'xxxxxxxxxx' * 100)",
    "('x' * 60000).expandtabs(10**6)",
    "['x'] | batch(300000000, 'y') | list",
    "['x'] | slice(300000000) | list",
    "(10 ** 999) ** 999",
    "'%1000000000s' % 'x'",
    "(2).to_bytes(10**9, 'big')",
]


@pytest.mark.parametrize("wrapped", [False, True], ids=["bare", "in default"])
@pytest.mark.parametrize("attack", ATTACKS)
def test_sandbox_attacks_are_refused(tmp_path, db, attack, wrapped):
    expression = f"({attack}) | default('safe', true)" if wrapped else attack
    mapping = tmp_path / "m.yaml"
    mapping.write_text(BASE + f'    y: "{{{{ {expression} }}}}"\n', "utf-8")
    checked = run_cli("validate", mapping)
    applied = apply(db, with_person(ExternalId="1").encode(), mapping=mapping)
    assert checked.code == 1 or applied.code in (1, 2), (checked.out, applied.out)
    assert applied.code in (1, 2), applied.out
    assert json.loads(applied.out)["success"] is False  # the agent always gets a result
    assert "Traceback" not in applied.err and "safe" not in applied.out
    assert count(db, "persons") == 0


def test_runaway_expressions_stop_with_a_clear_error(tmp_path, db):
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        BASE
        + '    y: "{% for a in person.L %}{% for b in person.L %}{% for c in person.L %}{% endfor %}{% endfor %}{% endfor %}"\nlimits: {seconds: 0.5}\n',
        "utf-8",
    )
    assert run_cli("validate", mapping).code == 0
    result = apply(db, with_person(ExternalId="1", L=list(range(1000))).encode(), mapping=mapping)
    assert (
        result.code == 1 and "mapping took more than the 500,000 steps of work its limit of 0.5 s allows" in result.out
    )
    recursive = tmp_path / "r.yaml"
    recursive.write_text(BASE + '    y: "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}"\n', "utf-8")
    result = apply(db, with_person(ExternalId="1").encode(), mapping=recursive)
    assert result.code == 1 and "nested too deeply" in result.out
    huge = tmp_path / "h.yaml"
    huge.write_text(BASE + '    y: "{{ person.L | join(person.S) }}"\n', "utf-8")
    result = apply(db, with_person(ExternalId="1", L=list(range(2000)), S="y" * 60_000).encode(), mapping=huge)
    assert result.code == 1 and re.search(
        r"would make a value of \d+ characters or items; the limit is 1048576", result.out
    )
    assert count(db, "persons") == 0
