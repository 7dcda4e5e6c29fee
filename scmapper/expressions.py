"""The single sandboxed Jinja environment, and the checks run on every expression.

Vocabulary: a *template* is column text with `{{ ... }}` parts; an *expression* is a
bare Jinja expression (a `when` condition, a `for_each` list). Nothing else in
scmapper builds a Jinja Environment.

Data lookups are forgiving in the ways HR data needs: keys match case-insensitively
when no exact key exists (PowerShell payloads mix `accountField` and `AccountField`),
an attribute of null is null, and `default` treats null as missing. A key a record
does not have is *absent* (`Absent`): it reads as empty, and each use of it as a value
is *noted* so the column that read it can say so (rules.py turns notes into warnings,
or into the reason a required column is empty). Reaching for anything starting with `_`
raises at once, so no filter can swallow it.
"""

from __future__ import annotations

import os
import re
import signal
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from functools import cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, nodes, pass_context
from jinja2.exceptions import SecurityError, TemplateAssertionError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from scmapper import filters

# A column value longer than this is a runaway expression, not a name or a code.
MAX_VALUE_LENGTH = 65_536
_MAX_POWER = 1_000

_BRACED = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.DOTALL)
_NOTES: ContextVar[list[Absent] | None] = ContextVar("scmapper_absent_notes", default=None)


class Absent(Undefined):
    """A field the record does not have (or an item past the end of a list). Used as text, a
    list or a length it is empty, and the use is noted; tested (`default`, `or`, `if`,
    `is defined`) it is not, since the mapping then says what absence means. Its fields and
    items are absent too, so a path can run on past the first missing key."""

    __slots__ = ("_first",)

    def __init__(self, obj: Any, name: str, first: str | None = None) -> None:
        super().__init__(obj=obj, name=name)
        self._first = name if first is None else first  # the missing key; `name` runs on from it

    def _note(self) -> None:
        notes = _NOTES.get()
        if notes is not None:
            notes.append(self)

    def __str__(self) -> str:
        self._note()
        return ""

    def __iter__(self) -> Iterator[Any]:
        self._note()
        return iter(())

    def __len__(self) -> int:
        self._note()
        return 0

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__":
            raise AttributeError(name)
        return self.child(name)

    def __getitem__(self, key: Any) -> Absent:  # type: ignore[override]
        return self.child(key)

    def child(self, key: Any) -> Absent:
        step = f"[{key!r}]" if not isinstance(key, str) else f".{key}"
        return Absent(self._undefined_obj, f"{self._undefined_name}{step}", self._first)

    @property
    def _undefined_message(self) -> str:
        return f"{self._undefined_name!r} is absent"

    @property
    def within(self) -> Any:
        """The object the first missing key was looked up in."""
        return self._undefined_obj

    @property
    def path(self) -> str:
        """The keys read from `within` on, the first one missing: "Department.ExternalId"."""
        return str(self._undefined_name)

    @property
    def missing(self) -> str:
        """The key `within` does not have: "Department"."""
        return self._first


class noting_absent:  # noqa: N801 - used as a function: `with noting_absent() as notes:`
    """Collects the absent values used as values while the block runs. A class rather than a
    generator: it runs around every row, and this way costs a fraction of a microsecond."""

    __slots__ = ("notes", "_token")

    def __enter__(self) -> list[Absent]:
        self.notes: list[Absent] = []
        self._token = _NOTES.set(self.notes)
        return self.notes

    def __exit__(self, *exc: object) -> None:
        _NOTES.reset(self._token)


def absent_path(absent: Absent, roots: Mapping[str, Any]) -> str:
    """The missing field, as a path from the names expressions see: "contract.Department"
    when a contract has no Department (whatever was read beyond it); the missing key alone
    when the object it was looked up in is found under no root."""
    within = absent.within
    found = getattr(within, "name", None) if isinstance(within, Table) else None
    if found is None:  # the names bound last first: a roles loop variable before person
        found = next(
            (p for name, root in reversed(list(roots.items())) if (p := _find(root, within, name, 0)) is not None), None
        )
    if found is None:
        return absent.missing
    return found + (absent.missing if absent.missing.startswith("[") else f".{absent.missing}")


def _find(value: Any, target: Any, path: str, depth: int) -> str | None:
    if value is target:
        return path
    if isinstance(value, Table):  # one of its records, by its key; a big table is not searched
        found = (key for key, record in value.items() if record is target) if len(value) <= _SEARCHED else ()
        return next((f"{value.name}[{key!r}]" for key in found), None)
    if depth > 16:
        return None
    if isinstance(value, dict):
        children: Iterator[tuple[str, Any]] = ((f"{path}.{k}", v) for k, v in value.items())
    elif isinstance(value, list):
        children = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    return next((p for where, v in children if (p := _find(v, target, where, depth + 1)) is not None), None)


_SEARCHED = 10_000  # records of a lookup table searched to name where an absent field was read


class Table(Mapping[str, Any]):
    """A lookup input: its records by the text of one field (`inputs.NAME[value]`). Matching is
    exact on text, so an id sent as a number finds the record whose id is the same digits."""

    def __init__(self, name: str, records: Mapping[str, Any]) -> None:
        self.name = f"inputs.{name}"
        self._records = dict(records)

    def __getitem__(self, key: str) -> Any:
        return self._records[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def find(self, key: Any) -> Any:
        if key is None:
            return None  # no id is no record, as an attribute of null is null
        if isinstance(key, Undefined):
            return key
        text = key if isinstance(key, str) else filters.text(key)
        return self._records[text] if text in self._records else Absent(self, f"[{text!r}]")


class MappingSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, with data-first lookups and loud refusals."""

    intercepted_binops = frozenset({"*", "**"})
    absent_fields = False  # the mapping environment reads a missing key as Absent; CSV templates do not

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return not attr.startswith("_") and super().is_safe_attribute(obj, attr, value)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise SecurityError(f"access to {attribute!r} is not allowed in a mapping")

    def getattr(self, obj: Any, attribute: str) -> Any:
        if attribute[:1] == "_":
            return self.unsafe_undefined(obj, attribute)
        if type(obj) is dict:  # JSON objects: the common case, checked before the slower ABC test
            return obj[attribute] if attribute in obj else _lookup(self, obj, attribute)
        if obj is None:
            return None
        if isinstance(obj, Absent):
            return obj.child(attribute)
        if isinstance(obj, Table):
            return obj.find(attribute)
        if isinstance(obj, Mapping):
            return _lookup(self, obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if obj is None:
            return None
        if isinstance(obj, Absent):
            return obj.child(argument)
        if isinstance(obj, Table):
            return obj.find(argument)
        if isinstance(obj, Mapping) and isinstance(argument, str):
            return _lookup(self, obj, argument)
        if self.absent_fields and type(obj) is list and type(argument) is int and not -len(obj) <= argument < len(obj):
            return Absent(obj, f"[{argument}]")
        return super().getitem(obj, argument)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > _MAX_POWER:
            raise SecurityError(f"exponent {right} is too large")
        if operator == "*":
            _check_repeat(left, right)
            _check_repeat(right, left)
        return super().call_binop(context, operator, left, right)


def _check_repeat(seq: Any, times: Any) -> None:
    if isinstance(seq, str | list | tuple) and isinstance(times, int):
        if len(seq) * times > MAX_VALUE_LENGTH:
            raise SecurityError(f"repeating a value {times} times exceeds {MAX_VALUE_LENGTH} items")


def _lookup(env: MappingSandbox, obj: Mapping[Any, Any], key: str) -> Any:
    if key in obj:
        return obj[key]
    lowered = key.lower()
    for name, value in obj.items():
        if isinstance(name, str) and name.lower() == lowered:
            return value
    if env.absent_fields:
        return Absent(obj, key)
    return env.undefined(obj=obj, name=key)


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """Jinja's default, where null is missing too (HR records use null for 'no value')."""
    if isinstance(value, Undefined) or value is None or (boolean and not value):
        return default_value
    return value


@cache
def environment() -> MappingSandbox:
    """The one environment every mapping expression runs in."""
    env = MappingSandbox(
        undefined=StrictUndefined,
        finalize=lambda value: "" if value is None else value,
        autoescape=False,
        keep_trailing_newline=True,
    )
    for unsafe in ("format", "center", "indent", "wordwrap", "attr", "xmlattr", "pprint"):
        env.filters.pop(unsafe, None)
    env.filters.update(
        default=_default,
        d=_default,
        name_prefix=filters.name_prefix,
        family_name=filters.family_name,
        strip_diacritics=filters.strip_diacritics,
        gender=filters.gender,
        to_date=filters.to_date,
        in_window=filters.in_window,
        translate=filters.translate,
        where=filters.where,
        flatten=filters.flatten,
        split_surname=filters.split_surname,
        get=filters.get,
        first=filters.first,
        last=filters.last,
    )
    # Only what mappings need: no range, lipsum, cycler, joiner, namespace or dict.
    env.globals.clear()
    env.absent_fields = True
    return env


@cache
def csv_environment() -> MappingSandbox:
    """The environment export templates render in: the same sandbox, and every
    `{{ value }}` quoted as a CSV cell for the file's dialect unless it is a whole row."""
    from scmapper.csvformat import CsvText

    @pass_context
    def finalize(context: Any, value: Any) -> str:
        return value if isinstance(value, CsvText) else context["scm_dialect"].cell(value)

    @pass_context
    def csv_row(context: Any, values: Any) -> str:
        return context["scm_dialect"].row(values)

    @pass_context
    def csv_cell(context: Any, value: Any) -> str:
        return CsvText(context["scm_dialect"].cell(value))

    env = MappingSandbox(undefined=StrictUndefined, finalize=finalize, autoescape=False)
    env.filters = {**environment().filters, "csv_row": csv_row, "csv_cell": csv_cell}
    env.globals.clear()
    return env


class TimeLimitExceeded(BaseException):
    """Raised inside a render that ran past its time limit (BaseException: no filter swallows it)."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupts the code inside after `seconds`, where the platform has interval timers and
    this is the main thread; elsewhere it runs unbounded (HelloID's own script limit applies)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGALRM) is not _expire:  # installed once, then only the timer is set
        signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _expire(signum: int, frame: Any) -> None:
    raise TimeLimitExceeded


def today() -> date:
    """Today, or SCMAPPER_TODAY (YYYY-MM-DD) so mapping tests give stable results."""
    fixed = os.environ.get("SCMAPPER_TODAY")
    return date.fromisoformat(fixed) if fixed else filters.today()


def expression_source(text: str) -> str:
    """A `when` or `for_each` written as "{{ expr }}" or bare "expr": the bare expression."""
    match = _BRACED.match(text)
    return match.group(1).strip() if match else text.strip()


def check_template(source: str, names: frozenset[str]) -> list[tuple[int, str]]:
    """Problems in a template, as (line within the source, message); empty when sound."""
    return _check(source, names, expression=False)


def check_expression(source: str, names: frozenset[str]) -> list[tuple[int, str]]:
    return _check(source, names, expression=True)


CSV_TEMPLATE_NAMES = frozenset({"header", "rows", "columns"})


def check_csv_template(source: str, columns: tuple[str, ...]) -> list[tuple[int, str]]:
    """Problems in an export template, including disagreement with the declared columns."""
    tree_or_problems = _compiled(csv_environment(), source)
    if isinstance(tree_or_problems, list):
        return tree_or_problems
    tree = tree_or_problems
    problems = _unsafe_parts(tree, CSV_TEMPLATE_NAMES)
    for loop in tree.find_all(nodes.For):
        if not (isinstance(loop.iter, nodes.Name) and loop.iter.name == "rows" and isinstance(loop.target, nodes.Name)):
            continue
        var = loop.target.name
        used = [n for n in loop.find_all(nodes.Getattr) if isinstance(n.node, nodes.Name) and n.node.name == var]
        for node in used:
            if node.attr not in columns:
                problems.append((node.lineno, f"template uses column {node.attr!r}, which is not declared"))
        whole = any(isinstance(f.node, nodes.Name) and f.node.name == var for f in loop.find_all(nodes.Filter))
        if not whole:
            missing = [c for c in columns if c not in {n.attr for n in used}]
            problems += [(loop.lineno, f"declared column {c!r} is not in the template") for c in missing]
    return problems


def _compiled(env: MappingSandbox, text: str) -> nodes.Template | list[tuple[int, str]]:
    try:
        tree = env.parse(text)
        env.compile(tree)
    except TemplateAssertionError as exc:  # raised at compile time for unknown filters and tests
        unknown = re.match(r"No (filter|test) named '(.*)'", exc.message or "")
        message = f"unknown {unknown.group(1)} {unknown.group(2)!r}" if unknown else exc.message
        return [(exc.lineno or 1, message or "invalid expression")]
    except TemplateSyntaxError as exc:
        return [(exc.lineno or 1, f"Jinja syntax error: {exc.message}")]
    return tree


def _check(source: str, names: frozenset[str], *, expression: bool) -> list[tuple[int, str]]:
    text = "{{ (" + source + ") }}" if expression else source
    tree = _compiled(environment(), text)
    if isinstance(tree, list):
        return tree
    return _unsafe_parts(tree, names)


def _unsafe_parts(tree: nodes.Template, names: frozenset[str]) -> list[tuple[int, str]]:
    stored = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    stored |= {m.name for m in tree.find_all(nodes.Macro)}
    allowed = names | stored | ({"loop"} if any(tree.find_all(nodes.For)) else set())
    problems: list[tuple[int, str]] = []
    for loader in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        problems.append((loader.lineno, f"{type(loader).__name__.lower()} is not allowed: a mapping reads no files"))
    for node in tree.find_all((nodes.Name, nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Name) and node.ctx == "load" and node.name not in allowed:
            known = ", ".join(sorted(names))
            problems.append((node.lineno, f"unknown name {node.name!r} (available: {known})"))
        elif isinstance(node, nodes.Getattr) and node.attr.startswith("_"):
            problems.append((node.lineno, f"access to {node.attr!r} is not allowed"))
        elif (
            isinstance(node, nodes.Getitem)
            and isinstance(node.arg, nodes.Const)
            and isinstance(node.arg.value, str)
            and node.arg.value.startswith("_")
        ):
            problems.append((node.lineno, f"access to {node.arg.value!r} is not allowed"))
    return problems
