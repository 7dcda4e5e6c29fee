"""Every evaluation bounded by the work it does, not by the clock (issue 24, items 3, 4 and 10):
values counted as what they expand to, operations in C charged by the size they walk, column
patterns run in linear time, export templates held to the same bounds."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scmapper.mapping import budget
from scmapper.mapping.loading import load_mapping
from scmapper.mapping.rules import Rules

from conftest import DEFAULT_MAPPING, SAMPLE_EVENT, count, derived_mapping, make_person, native, rows, run_cli, spawn

# Every test here runs twice: on the mapping compiled to Python and on every piece in Jinja.
pytestmark = pytest.mark.usefixtures("evaluation")

# A list holding one 60,000-item list 60,000 times: little memory, 3.6 billion items.
SHARED = "([[0] * 60000] * 60000)"
SHARED_ATTACKS = {
    "equal": f"{SHARED} == {SHARED}",
    "in": f"[1] in {SHARED}",
    "count": f"{SHARED}.count([1])",
    "tojson": f"{SHARED} | tojson | length",
    "string": f"{SHARED} | string | length",
    "flatten": f"{SHARED} | flatten | length",
    "sum": "([[0] * 1000] * 1000) | sum(start=[]) | length",  # within the cap, but quadratic
    "join": f"{SHARED} | join(',') | length",
    "max": f"{SHARED} | max | length",
    "literal": "{% set a = [0] * 60000 %}{{ [" + ", ".join(["a"] * 20) + "] | length }}",
    "concatenated": "([[0] * 60000] * 10 + [[0] * 60000] * 10) | length",
}


def one_column(tmp_path, expression, **limits):
    mapping = tmp_path / "m.yaml"
    text = 'version: 1\nperson:\n  key: k\n  extra_columns: [k, y]\n  columns:\n    k: "{{ person.k }}"\n'
    template = expression if "{%" in expression else "{{ " + expression + " }}"
    text += f"    y: {json.dumps(template)}\n"
    if limits:
        text += f"limits: {json.dumps(limits)}\n"
    mapping.write_text(text, "utf-8")
    return mapping


# Run in a process of its own, which reports its own peak memory: this test process's peak is
# whatever the tests before it reached.
ATTACKER = """
import json, resource, sys
from scmapper.cli.main import main
results = []
for mapping in sys.argv[1:]:
    with open(mapping + ".out", "w") as out:
        sys.stdout = out
        results.append(main(["preview", mapping, sys.argv[0]]))
    sys.stdout = sys.__stdout__
print(json.dumps({"codes": results, "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def test_shared_references_count_as_what_they_expand_to(tmp_path, db):
    """Each attack ends as its record's error, at once, and the process that runs them all stays
    far below 1 GB at its peak: nothing of the 3.6 billion items is ever made or walked."""
    person = tmp_path / "person.json"
    person.write_text(json.dumps({"k": "1"}))
    mappings = []
    for name, attack in SHARED_ATTACKS.items():
        folder = tmp_path / name
        folder.mkdir()
        mappings.append(str(one_column(folder, attack)))
        assert run_cli("validate", mappings[-1]).code == 0, name
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", ATTACKER.replace("sys.argv[0]", repr(str(person))), *mappings],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["codes"] == [1] * len(SHARED_ATTACKS), done.stderr
    for name, line in zip(SHARED_ATTACKS, done.stderr.splitlines(), strict=True):
        if name == "sum":
            assert "sum adds numbers" in line
        else:
            assert re.search(r"would make a value of (more than )?\d+ characters or items", line), (name, line)
    assert report["peak_kib"] < 1024 * 1024, f"peak memory {report['peak_kib'] // 1024} MiB"
    assert time.monotonic() - started < 60  # unbounded, each runs for hours
    assert count(db, "persons") == 0


def test_comparisons_are_charged_by_what_they_compare(tmp_path, db):
    """Comparing two texts of a million characters is one operation in C; three thousand of them
    in a loop are charged their size, not one step each."""
    loop = "{% set s = 'x' * 1000000 %}{% for i in person.L %}{{ s == s ~ '' }}{% endfor %}"
    mapping = one_column(tmp_path, "''")
    mapping.write_text(mapping.read_text("utf-8").replace(json.dumps("{{ '' }}"), json.dumps(loop)))
    few = run_cli("preview", mapping, "-", input=json.dumps({"k": "1", "L": list(range(3))}))
    assert few.code == 0 and "TrueTrueTrue" in few.out, few.err
    many = run_cli("preview", mapping, "-", input=json.dumps({"k": "1", "L": list(range(3000))}))
    assert many.code == 1 and "steps of work its limit of 2 s allows" in many.err, many.err


class JumpingClock:
    """A clock on which every reading is a minute after the last: a process that pauses."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        self.now += 60.0
        return self.now


def test_the_bound_counts_work_so_a_pausing_process_fails_no_honest_record(monkeypatch):
    rules = Rules(load_mapping(DEFAULT_MAPPING))
    person = json.loads(SAMPLE_EVENT.read_text("utf-8"))["personContext"]["Person"]
    for clock in ("monotonic", "perf_counter", "time"):
        monkeypatch.setattr(time, clock, JumpingClock())
    mapped = rules.map_person(person)
    assert mapped.key == person["ExternalId"] and mapped.row["externalId"] == person["ExternalId"]


def test_an_honest_record_uses_a_sliver_of_its_budget():
    """The default mapping on HelloID's sample person, steps counted: the margin that makes the
    bound safe for honest data. The same count on every run: nothing here depends on timing."""
    rules = Rules(load_mapping(DEFAULT_MAPPING))
    person = json.loads(SAMPLE_EVENT.read_text("utf-8"))["personContext"]["Person"]
    used = []
    for _ in range(2):
        with budget.spending(2.0, 1_048_576) as spent:
            rules._map(rules._context(person, "record"), "record", True)  # the budget map_person opens
        used.append(2 * budget.STEPS_PER_SECOND - spent.steps)
    assert used[0] == used[1] and 0 < used[0] < 2 * budget.STEPS_PER_SECOND // 1000, used


def test_a_runaway_stops_at_the_same_step_every_time(tmp_path, db):
    loops = "{% for a in person.L %}{% for b in person.L %}{% endfor %}{% endfor %}"
    mapping = one_column(tmp_path, "''", seconds=0.2)
    mapping.write_text(mapping.read_text("utf-8").replace("\"{{ '' }}\"", json.dumps(loops)))
    person = json.dumps({"k": "1", "L": list(range(5000))})
    first, second = (run_cli("preview", mapping, "-", input=person) for _ in range(2))
    assert first.code == second.code == 1
    assert first.err == second.err and "took more than the 200,000 steps of work its limit of 0.2 s allows" in first.err


# --- column patterns ---------------------------------------------------------------------------


def test_a_pattern_with_nested_repeats_runs_in_linear_time(tmp_path, db):
    """`^(a|aa)+$` on 40 a's and a b: Python's re would try about 10^8 ways (minutes); RE2 does not
    backtrack at all."""

    def change(m):
        m["person"]["columns"]["email"]["pattern"] = "^(a|aa)+@x$"

    mapping = derived_mapping(tmp_path / "m.yaml", change)
    assert run_cli("validate", mapping).code == 0
    person = make_person("1")
    person["Accounts"]["MicrosoftActiveDirectory"]["userPrincipalName"] = "a" * 40 + "b@x"
    started = time.monotonic()
    result = run_cli("apply", "--mapping", mapping, "--db", db, "-", input=native("create", person))
    assert result.code == 1 and "does not match '^(a|aa)+@x$'" in result.out
    assert time.monotonic() - started < 10
    person["Accounts"]["MicrosoftActiveDirectory"]["userPrincipalName"] = "a" * 41 + "@x"
    assert run_cli("apply", "--mapping", mapping, "--db", db, "-", input=native("create", person)).code == 0


@pytest.mark.parametrize(
    ("pattern", "said"),
    [("^(a)\\1$", "invalid escape sequence"), ("^(?=a)\\w+$", "invalid perl operator"), ("^(a", "missing )")],
)
def test_validate_names_a_pattern_re2_cannot_run(tmp_path, pattern, said):
    def change(m):
        m["person"]["columns"]["email"]["pattern"] = pattern

    result = run_cli("validate", derived_mapping(tmp_path / "m.yaml", change))
    assert result.code == 1 and "email: pattern is not a regular expression RE2 can run" in result.out
    assert said in result.out and "E0000" not in result.out + result.err  # no log line of RE2's own


# --- export templates -------------------------------------------------------------------------


def test_an_export_template_is_held_to_the_same_bounds(tmp_path, db):
    event = SAMPLE_EVENT.read_text("utf-8")
    assert run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "--action", "create", "-", input=event).code == 0
    (tmp_path / "layout.j2").write_text(
        "{% set big = [[0] * 60000] * 60000 %}{{ big == big }}{% for p in rows %}{{ p | csv_row }}{% endfor %}"
    )

    def change(m):
        m["export"]["persons"]["template"] = "layout.j2"

    mapping = derived_mapping(tmp_path / "m.yaml", change)
    out = tmp_path / "out"
    result = run_cli("export", "--mapping", mapping, "--db", db, "--out", out)
    assert result.code == 2 and "layout.j2:1:1: export.persons template: would make a value of" in result.err
    assert not (out / "Users.csv").exists()


def test_an_agent_goes_through_while_another_events_mapping_runs_long(tmp_path, db):
    """One agent maps a record whose mapping loops to the end of a 25-second budget (some
    seconds of work here); it holds no lock meanwhile, so another agent's ordinary event is done
    at once, and the slow one then fails alone."""

    def change(m):
        m["person"]["columns"]["voornaam"] = (
            "{% for a in person.Loop %}{% for b in person.Loop %}{% endfor %}{% endfor %}{{ person.Name.NickName }}"
        )
        m["limits"] = {"seconds": 25}

    slow_mapping = derived_mapping(tmp_path / "slow.yaml", change)
    assert (
        run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "-", input=native("create", make_person("1"))).code
        == 0
    )
    event = tmp_path / "slow-event.json"
    event.write_text(native("create", {**make_person("2"), "Loop": list(range(8000))}), "utf-8")
    slow = spawn("apply", "--mapping", slow_mapping, "--db", db, event)
    while cpu_seconds(slow.pid) < 1.0 and slow.poll() is None:  # started, loaded: mapping now
        time.sleep(0.05)
    started = time.monotonic()
    quick = run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", db, "-", input=native("create", make_person("3")))
    assert quick.code == 0 and time.monotonic() - started < 5
    out, err = slow.communicate(timeout=60)
    assert slow.returncode == 1 and b"steps of work its limit of 25 s allows" in out, err
    assert sorted(r["externalId"] for r in rows(db, "SELECT externalId FROM persons")) == ["1", "3"]


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used (Linux: /proc/PID/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize(
    "attack",
    [
        "{% set a = [0] * 30000 %}{% for i in a %}{% if -1 is in a %}{% endif %}{% endfor %}",
        "{% set a = [0] * 20000 %}{% set b = [1] * 20000 %}{{ a | select('in', b) | list | length }}",
        "{% set a = [0] * 3000 %}{% for x in a recursive %}{% if loop.depth == 1 %}{{ loop(a) }}{% endif %}{% endfor %}",
        "{% set s = 'x' * 1000000 %}{% for i in [0] * 60000 %}{% set t = s ~ '' %}{% endfor %}",
    ],
    ids=["test is in", "select in", "recursive loop", "concatenation"],
)
def test_tests_recursive_loops_and_copies_are_charged_too(tmp_path, attack):
    mapping = one_column(tmp_path, attack, seconds=0.2)
    result = run_cli("preview", mapping, "-", input=json.dumps({"k": "1"}))
    assert result.code == 1 and "steps of work its limit of 0.2 s allows" in result.err, result.err


def test_a_whole_walk_of_a_lookup_table_is_charged_by_its_records(tmp_path):
    mapping = tmp_path / "m.yaml"
    loop = "{% for i in [0] * 300 %}{% set m = inputs.units | max %}{% endfor %}"
    mapping.write_text(
        "version: 1\nsource:\n  inputs:\n    people: { key: k }\n    units: { lookup: id }\n"
        f'person:\n  key: k\n  extra_columns: [k, y]\n  columns:\n    k: "{{{{ person.k }}}}"\n    y: {json.dumps(loop)}\n'
        "limits: { seconds: 0.2 }\n",
        "utf-8",
    )
    (tmp_path / "people.json").write_text(json.dumps([{"k": "1"}]))
    (tmp_path / "units.json").write_text(json.dumps([{"id": str(n)} for n in range(100_000)]))
    result = run_cli("preview", mapping, "--source", tmp_path / "people.json", tmp_path / "units.json")
    assert result.code == 1 and "steps of work its limit of 0.2 s allows" in result.err, result.err
