"""The single sandboxed Jinja environment, and the checks run on every expression.

Vocabulary: a *template* is column text with `{{ ... }}` parts; an *expression* is a
bare Jinja expression (a `when` condition, a `for_each` list). Nothing else in
scmapper builds a Jinja Environment.

Data lookups are forgiving in the ways HR data needs: keys match case-insensitively
when no exact key exists (PowerShell payloads mix `accountField` and `AccountField`),
an attribute of null is null, and `default` treats null as missing. Reaching for
anything starting with `_` raises at once, so no filter can swallow it.
"""

from __future__ import annotations

import os
import re
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from functools import cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, nodes
from jinja2.exceptions import SecurityError, TemplateAssertionError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from scmapper import fields, filters

# A column value longer than this is a runaway expression, not a name or a code.
MAX_VALUE_LENGTH = 65_536
_MAX_POWER = 1_000

_BRACED = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.DOTALL)


class MappingSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, with data-first lookups and loud refusals."""

    intercepted_binops = frozenset({"*", "**"})

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
        if isinstance(obj, Mapping):
            return _lookup(self, obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if obj is None:
            return None
        if isinstance(obj, Mapping) and isinstance(argument, str):
            return _lookup(self, obj, argument)
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
    found = fields.field(obj, key, fields.MISSING)
    return env.undefined(obj=obj, name=key) if found is fields.MISSING else found


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """Jinja's default, where null is missing too (HR records use null for 'no value')."""
    if isinstance(value, Undefined) or value is None or (boolean and not value):
        return default_value
    return value


@cache
def environment() -> MappingSandbox:
    """The one environment every mapping expression runs in: null renders as empty."""
    # A column's text is kept whole, a block scalar's final newline included.
    return sandbox(lambda value: "" if value is None else value, keep_trailing_newline=True)


def sandbox(
    finalize: Callable[..., Any],
    extra_filters: dict[str, Callable[..., Any]] | None = None,
    *,
    keep_trailing_newline: bool = False,
) -> MappingSandbox:
    """The factory of every Jinja environment in scmapper (mapping expressions here, export
    templates in csvformat): the sandbox, strict undefined, the built-in filters and no globals."""
    env = MappingSandbox(
        undefined=StrictUndefined, finalize=finalize, autoescape=False, keep_trailing_newline=keep_trailing_newline
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
        **(extra_filters or {}),
    )
    # Only what mappings need: no range, lipsum, cycler, joiner, namespace or dict.
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


def compiled(env: MappingSandbox, text: str) -> nodes.Template | list[tuple[int, str]]:
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
    tree = compiled(environment(), text)
    if isinstance(tree, list):
        return tree
    return unsafe_parts(tree, names)


def unsafe_parts(tree: nodes.Template, names: frozenset[str]) -> list[tuple[int, str]]:
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
