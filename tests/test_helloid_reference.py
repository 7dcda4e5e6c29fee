"""What the HelloID helper hands scmapper and how it reads the answer, through the Python
references of its PowerShell (tests/helloid_reference.py): first that the references still say
what the script says, then their behaviour against Windows' command-line rules, Windows
PowerShell 5.1's dates and scmapper's real output."""

from __future__ import annotations

import inspect
import json
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import helloid_reference as reference
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scmapper.mapping import filters

from conftest import DEFAULT_MAPPING, ROOT, run_cli

HELPER = ROOT / "integrations" / "helloid" / "scmapper-common.ps1"


def _statements(lines: list[str]) -> list[str]:
    kept = []
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#") and line not in ("{", "}"):
            kept.append(line)
    return kept


def powershell_function(name: str) -> list[str]:
    """The statements of one function of the helper, a line each, without comments and braces."""
    text = HELPER.read_text(encoding="ascii")
    start = text.index(f"function {name} {{")
    opening = text.index("{", start)
    depth, closing = 0, opening
    for closing in range(opening, len(text)):
        depth += {"{": 1, "}": -1}.get(text[closing], 0)
        if depth == 0:
            break
    body = text[opening + 1 : closing]
    return _statements(body.splitlines())


def python_mirror(function_name: str) -> list[str]:
    source = inspect.getsource(getattr(reference, function_name))
    return [match.strip() for match in re.findall(r"# ps: (.*)", source)]


@pytest.mark.parametrize("name", sorted(reference.PS_FUNCTIONS))
def test_each_reference_says_what_the_powershell_says_statement_by_statement(name):
    assert python_mirror(reference.PS_FUNCTIONS[name]) == powershell_function(name), (
        f"{name} in scmapper-common.ps1 changed: change {reference.PS_FUNCTIONS[name]} in "
        "tests/helloid_reference.py with it"
    )


def test_a_changed_statement_in_the_script_would_be_seen():
    statements = powershell_function("ConvertTo-ScmapperQuotedArgument")
    changed = [s.replace("(2 * $pending) + 1", "2 * $pending") for s in statements]
    assert changed != statements and python_mirror("quote_argument") != changed


# Microsoft's documented examples of how the C runtime splits a command line.
DOCUMENTED = [
    (r'"a b c" d e', ["a b c", "d", "e"]),
    (r'"ab\"c" "\\" d', ['ab"c', "\\", "d"]),
    (r'a\\\b d"e f"g h', [r"a\\\b", "de fg", "h"]),
    (r"a\\\"b c d", [r"a\"b", "c", "d"]),
    (r'a\\\\"b c" d e', [r"a\\b c", "d", "e"]),
    (r'a"b"" c d', ['ab" c d']),
]


@pytest.mark.parametrize(("line", "expected"), DOCUMENTED)
def test_the_command_line_parser_follows_microsofts_examples(line, expected):
    assert reference.windows_argv(line) == expected


# Arguments are paths and words: anything but NUL, which no Windows command line can carry.
ARGUMENT = st.text(
    alphabet=st.one_of(st.sampled_from('\\" \t\n\u00a0\u3000a:é'), st.characters(blacklist_characters="\x00")),
    max_size=40,
)


@settings(max_examples=400, deadline=None)
@given(st.lists(ARGUMENT, max_size=6))
@example(["apply", "--mapping", "C:\\Program Files\\SpendCloud\\", "--db", "\\\\server\\share\\a b.db", "-"])
@example(['say "hi"\\', "", "\\\\", '\\"', "a\\b c\\"])
def test_every_argument_arrives_unchanged_through_the_windows_command_line(arguments):
    line = " ".join(reference.quote_argument(argument) for argument in arguments)
    assert reference.windows_argv(line) == arguments


@pytest.mark.parametrize("plain", ["apply", "--mapping", "C:\\HelloID\\SpendCloud\\spendcloud.yaml", "-"])
def test_plain_arguments_stay_as_typed(plain):
    assert reference.quote_argument(plain) == plain


# --- dates from Windows PowerShell 5.1 ---------------------------------------------------------


def written_by_powershell_51(day: date, zone: ZoneInfo) -> str:
    """ConvertTo-Json of 5.1 (JavaScriptSerializer) of that day's local midnight: UTC milliseconds."""
    instant = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)
    milliseconds = (instant - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    return '{"StartDate":"\\/Date(' + str(milliseconds) + ')\\/"}'


def offset_in(zone: ZoneInfo):
    return lambda instant: instant.astimezone(zone).utcoffset()


@pytest.mark.parametrize("zone", ["Europe/Amsterdam", "America/New_York", "Asia/Kolkata", "UTC"])
@settings(max_examples=200, deadline=None)
@given(day=st.dates(min_value=date(1950, 1, 1), max_value=date(2060, 12, 31)))
def test_a_local_date_reaches_scmapper_as_the_day_the_agent_saw(zone, day):
    where = ZoneInfo(zone)
    written = written_by_powershell_51(day, where)
    sent = json.loads(reference.event_json(written, offset_in(where)))["StartDate"]
    assert re.fullmatch(r"/Date\(-?\d+[+-]\d{4}\)/", sent)
    assert filters.to_date(sent) == day


def test_without_the_offset_an_amsterdam_midnight_reads_as_the_day_before():
    written = written_by_powershell_51(date(2027, 1, 1), ZoneInfo("Europe/Amsterdam"))
    assert "Date(1798758000000)" in written  # 2026-12-31 23:00 UTC
    assert filters.to_date(json.loads(written)["StartDate"]) == date(2026, 12, 31)


def test_text_that_only_looks_like_a_date_is_left_alone():
    typed = json.dumps({"Note": "\\/Date(0)\\/", "Other": "/Date(0)/"})
    assert reference.event_json(typed, offset_in(ZoneInfo("Europe/Amsterdam"))) == typed


# --- reading scmapper's answer -------------------------------------------------------------------


def test_the_helper_reads_scmappers_real_answer_as_scmapper_meant_it(tmp_path):
    event = (ROOT / "mappings" / "samples" / "helloid" / "create-event.json").read_text(encoding="utf-8")
    run = run_cli(
        "apply", "--mapping", DEFAULT_MAPPING, "--db", tmp_path / "a.db", "--action", "create", "-", input=event
    )
    assert run.code == 0, run.err
    assert reference.read_result_line(run.out) == json.loads(run.out)
    assert reference.read_result_line(run.out)["success"] is True


@pytest.mark.parametrize(
    ("stdout", "expected"),
    [
        ("", None),
        ("   \r\n", None),
        ('{"success": true}\r\n', {"success": True}),
        ('a note\r\n{"success": false}\r\n\r\n', {"success": False}),
        ('{"success": true}\ncut off {', None),
    ],
)
def test_only_a_json_last_line_counts_as_an_answer(stdout, expected):
    assert reference.read_result_line(stdout) == expected


# --- the implementers' debug start ------------------------------------------------------------

DEBUG_START = ROOT / "integrations" / "helloid" / "test" / "debugStart.ps1"


def test_the_debug_starts_sequence_succeeds_on_the_sample_event_init_writes(tmp_path):
    """test/debugStart.ps1 expects every step to succeed with the event `init` writes; the same
    events, as its contexts serialise, through the real CLI."""
    steps = re.findall(r"@\{ Name = '(\w+)'; DryRun = \$(true|false) \}", DEBUG_START.read_text("ascii"))
    assert [name for name, _ in steps] == ["create", "create", "update", "disable", "enable", "delete"]
    sample = json.loads((ROOT / "mappings" / "samples" / "helloid" / "create-event.json").read_text("utf-8"))
    database, account = tmp_path / "debug-object.db", None
    for name, dry_run in steps:
        context = {
            **sample["actionContext"],
            "Configuration": {
                "scmapperPath": "scmapper.exe",
                "mappingPath": str(DEFAULT_MAPPING),
                "databasePath": str(database),
            },
            "DryRun": dry_run == "true",
            "References": {"Account": account},
        }
        event = json.dumps({"actionContext": context, "personContext": sample["personContext"]})
        run = run_cli("apply", "--mapping", DEFAULT_MAPPING, "--db", database, "--action", name, "-", input=event)
        answer = reference.read_result_line(run.out)
        assert run.code == 0 and answer["success"] is True, (name, run.err)
        if dry_run == "true":
            assert not database.exists()
        else:
            account = answer["accountReference"] or account
    assert account == sample["personContext"]["Person"]["ExternalId"]
