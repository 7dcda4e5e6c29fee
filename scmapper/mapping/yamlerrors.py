"""YAML syntax errors in the words of the person who made them, at the line of the mistake.

Vocabulary: PyYAML reports where its parser gave up (the *mark*), often the line after the
mistake and in parser terms (`expected <block end>, but found '<block mapping start>'`). A
*line* here is a line with content (not blank, not only a comment); its *indent* is the
number of spaces before that content. `explain` looks at the lines around the mark and says
what is probably wrong, where it is, and how to write it instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import yaml

# Parser token names, for the messages no rule below knows better.
_TOKENS = {
    "<block end>": "the end of the block",
    "<block mapping start>": "a new indented block of keys",
    "<block sequence start>": "a new indented list",
    "<scalar>": "a value",
    "<stream end>": "the end of the file",
    "'?'": "a key",
    "'-'": "a list item ('- ')",
}
_UNQUOTED_BRACES = re.compile(r"(?:^|:\s+|-\s+)(\{\{)")
BRACES = (
    "a value starting with '{{' must be in quotes, or YAML reads the '{' as the start of a map: write \"{{ ... }}\""
)
_QUOTES = "inside single quotes, write a ' as ''"


@dataclass(frozen=True)
class Line:
    number: int  # 1-based
    indent: int
    text: str  # the content, without the indent


class Found(NamedTuple):
    line: int
    col: int
    message: str


@dataclass(frozen=True)
class Failure:
    """What PyYAML said, and the file's lines to read it against."""

    lines: tuple[Line, ...]
    line: int
    col: int
    problem: str
    context: str
    context_mark: yaml.Mark | None

    def at(self, number: int) -> Line | None:
        return next((line for line in self.lines if line.number == number), None)

    def before(self, number: int) -> Line | None:
        return next((line for line in reversed(self.lines) if line.number < number), None)


def lines_of(text: str) -> tuple[Line, ...]:
    """The lines with content, comment-only ones left out."""
    found = []
    for number, raw in enumerate(text.splitlines(), start=1):
        content = raw.lstrip(" ")
        if content.strip() and not content.startswith("#"):
            found.append(Line(number, len(raw) - len(content), content))
    return tuple(found)


def explain(text: str, exc: yaml.MarkedYAMLError) -> Found:
    """Where a YAML syntax error probably is, and what is wrong there in plain words."""
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = exc.problem or exc.context or "invalid YAML"
    failure = Failure(lines_of(text), line, col, problem, exc.context or "", exc.context_mark)
    for rule in _RULES:
        found = rule(failure)
        if found:
            return found._replace(message=f"YAML syntax error: {found.message}")
    return Found(line, col, f"YAML syntax error: {_plain(problem)}")


def unreadable(text: str, exc: yaml.reader.ReaderError) -> Found:
    """A character YAML does not allow anywhere in a file (a control character), located."""
    before = text[: exc.position]
    line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
    code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
    message = f"character U+{code:04X} is not allowed in a YAML file (a control or non-character): remove it"
    return Found(line, col, message)


def unquoted_braces(line: str) -> int | None:
    """The column where a value starts with '{{' unquoted (YAML then reads a map), or None."""
    match = _UNQUOTED_BRACES.search(line)
    return match.start(1) + 1 if match else None


def _braces(failure: Failure) -> Found | None:
    """A template left unquoted: `voornaam: {{ person.Name }}`."""
    numbers = {failure.line} | ({failure.context_mark.line + 1} if failure.context_mark else set())
    for number in sorted(numbers):
        line = failure.at(number)
        at = unquoted_braces(line.text) if line else None
        if line and at is not None:
            return Found(number, line.indent + at, BRACES)
    return None


def _second_document(failure: Failure) -> Found | None:
    """A `---` line after the first document: one file holds one mapping."""
    if "another document" not in failure.problem:
        return None
    message = "a second YAML document ('---'): a file holds one mapping; remove this line"
    return Found(failure.line, failure.col, message)


def _character(failure: Failure) -> Found | None:
    match = re.match(r"found character '(.*)' that cannot start any token", failure.problem)
    if not match:
        return None
    if match.group(1) == "\\t":
        message = "a tab character: YAML indents with spaces only; replace the tab with spaces"
    else:
        message = f"a value cannot start with {match.group(1)!r} unquoted: put the whole value in quotes"
    return Found(failure.line, failure.col, message)


def _escape(failure: Failure) -> Found | None:
    match = re.match(r"found unknown escape character '(.*)'", failure.problem)
    if not match:
        return None
    char = match.group(1)
    message = (
        f"'\\{char}' is not an escape YAML knows inside double quotes: write '\\\\{char}' (as a regular"
        f" expression needs), or put the value in single quotes, where '\\' is an ordinary character"
    )
    return Found(failure.line, max(failure.col - 1, 1), message)  # at the backslash


def _unclosed_quote(failure: Failure) -> Found | None:
    start = failure.context_mark
    if "quoted scalar" not in failure.context or start is None:
        return None
    message = f"the quote that opens this value is never closed: end the value with the same quote ({_QUOTES})"
    return Found(start.line + 1, start.column + 1, message)


def _unclosed_flow(failure: Failure) -> Found | None:
    start = failure.context_mark
    flow = re.match(r"while parsing a flow (sequence|mapping)", failure.context)
    if flow is None or start is None:
        return None
    opening, closing = ("[", "]") if flow.group(1) == "sequence" else ("{", "}")
    until = "the end of the file" if "<stream end>" in failure.problem else f"line {failure.line}"
    message = (
        f"the {opening!r} here is not closed where YAML expects it: end it with {closing!r} before {until}"
        " (or, if it is text, put the whole value in quotes)"
    )
    return Found(start.line + 1, start.column + 1, message)


def _after_quote(failure: Failure) -> Found | None:
    """`expected <block end>, but found ...` right after a closing quote: either more text
    follows a quoted value, or a quote left open on an earlier line closed only here."""
    here = failure.at(failure.line)
    if not failure.problem.startswith("expected <block end>") or here is None:
        return None
    head = here.text[: failure.col - 1 - here.indent].rstrip()
    if not head or head[-1] not in "\"'":
        return None
    quote = head[-1]
    opened = next(
        (line for line in reversed(failure.lines) if line.number < here.number and line.text.count(quote) % 2), None
    )
    if head.count(quote) % 2 and opened is not None:
        col = opened.indent + opened.text.rfind(quote) + 1
        message = (
            f"the {quote} that opens this value is not closed on this line, so the value runs on to the {quote}"
            f" on line {here.number}: close it on this line"
        )
        return Found(opened.number, col, message)
    return Found(
        failure.line, failure.col, f"more text after a quoted value: put the whole value in quotes ({_QUOTES})"
    )


def _indentation(failure: Failure) -> Found | None:
    """`expected <block end>, but found ...`: a line out of step with the ones around it."""
    here, before = failure.at(failure.line), failure.before(failure.line)
    if not failure.problem.startswith("expected <block end>") or here is None or before is None:
        return None
    if here.indent > before.indent:
        return _deeper(failure, here, before)
    if here.indent < before.indent:
        return _between(failure, here, before)
    message = (
        f"this line and line {before.number} are at the same indentation, but one is a list item ('- ')"
        " and the other a key: make both keys, or both list items"
    )
    return Found(here.number, here.indent + 1, message)


def _between(failure: Failure, here: Line, before: Line) -> Found:
    """This line is indented less than the one before, but more than the block around it."""
    parent = next(
        (line for line in reversed(failure.lines) if line.number < here.number and line.indent < here.indent), None
    )
    message = f"this line is indented by {here.indent} spaces, less than line {before.number} ({before.indent})"
    if parent is not None:
        message += (
            f" and more than line {parent.number} ({parent.indent}), so it belongs to neither block; indent it"
            f" by {before.indent} spaces like line {before.number}, or by {parent.indent} like line {parent.number}"
        )
    return Found(here.number, here.indent + 1, message)


def _deeper(failure: Failure, here: Line, before: Line) -> Found:
    """This line is indented more than the line before: either that line was dedented by
    mistake (the one before it is as deep as this one), or this one is indented too far."""
    earlier = failure.before(before.number)
    if earlier is not None and before.indent < earlier.indent and here.indent <= earlier.indent:
        message = (
            f"this line is indented less than the one before it ({before.indent} spaces, line {earlier.number}"
            f" has {earlier.indent}), so it leaves that block and line {here.number} no longer fits anywhere:"
            f" indent it by {earlier.indent} spaces like line {earlier.number}"
        )
        return Found(before.number, before.indent + 1, message)
    message = (
        f"this line is indented more than line {before.number}, which already has a value: indent it by"
        f" {before.indent} spaces like line {before.number}, or end line {before.number} at its ':' to open a block"
    )
    return Found(here.number, here.indent + 1, message)


def _colon(failure: Failure) -> Found | None:
    """`mapping values are not allowed here`: a ': ' where YAML cannot take a key."""
    here, before = failure.at(failure.line), failure.before(failure.line)
    if failure.problem != "mapping values are not allowed here" or here is None:
        return None
    first = here.text.find(": ") if ": " in here.text else here.text.find(":")
    if here.indent + first + 1 < failure.col:
        return Found(failure.line, failure.col, "a second ': ' on this line: a value holding ': ' must be in quotes")
    if before is not None and here.indent > before.indent and ":" in before.text:
        return _deeper(failure, here, before)
    if before is not None and ":" not in before.text and not before.text.startswith("- "):
        return Found(before.number, before.indent + 1, "this line has no ':' after its key: write 'key: value'")
    message = "a ': ' where YAML expects none: if it is part of a value, put the value in quotes"
    return Found(failure.line, failure.col, message)


def _plain(problem: str) -> str:
    for token, words in _TOKENS.items():
        problem = problem.replace(token, words)
    return problem


_RULES: tuple[Callable[[Failure], Found | None], ...] = (
    _second_document,
    _braces,
    _character,
    _escape,
    _unclosed_quote,
    _unclosed_flow,
    _after_quote,
    _indentation,
    _colon,
)
