"""The one factory of Jinja environments, the mapping environment, and the static checks.

Vocabulary: a *template* is column text with `{{ ... }}` parts; an *expression* is a
bare Jinja expression (a `when` condition, a `for_each` list). Nothing else in
scmapper builds a Jinja Environment; each is the bounded sandbox of sandbox.py.
`default` treats null as missing, as HR records use null for "no value"; in the mapping
environment a key a record does not have reads as absent (absence.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date
from functools import cache
from typing import Any, cast

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, nodes, pass_context
from jinja2.exceptions import TemplateAssertionError

from scmapper.core.suggest import closest, did_you_mean
from scmapper.errors import UsageError
from scmapper.mapping import budget, filters
from scmapper.mapping.bounds import bounded, bounded_test
from scmapper.mapping.sandbox import BOUNDING_FILTERS, MappingSandbox

# A column value longer than this is a runaway expression, not a name or a code.
MAX_VALUE_LENGTH = 65_536

_BRACED = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.DOTALL)


def _default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """Jinja's default, where null is missing too (HR records use null for 'no value')."""
    if isinstance(value, Undefined) or value is None or (boolean and not value):
        return default_value
    return value


def _text(value: Any) -> str:
    """What a column shows of a value that is not text: empty for null, else its text; an
    object or list of the record has no one text, so the column names a field of it instead."""
    if value is None:
        return ""
    if isinstance(value, dict):
        raise TypeError("the expression gives an object, not one value: name one of its fields")
    if isinstance(value, list | tuple):
        raise TypeError("the expression gives a list, not one value: pick an item ([0]) or join them (| join(', '))")
    return str(value)


@cache
def environment() -> MappingSandbox:
    """The one environment every mapping expression runs in: null renders as empty."""

    current = budget.current

    @pass_context
    def finalize(context: Any, value: Any) -> str:
        text = value if type(value) is str else _text(value)
        spent = current()
        if spent is not None:  # inline: it runs for every value every column outputs
            spent.left -= len(text)
            if spent.left < 0:
                spent.spend(0)
        return text

    # A column's text is kept whole, a block scalar's final newline included.
    env = sandbox("mapping", finalize, keep_trailing_newline=True)
    env.absent_fields = True  # a key a record does not have reads as absent; in CSV templates it fails
    return env


def sandbox(
    tag: str,
    finalize: Callable[..., Any],
    extra_filters: dict[str, Callable[..., Any]] | None = None,
    *,
    keep_trailing_newline: bool = False,
) -> MappingSandbox:
    """The factory of every Jinja environment in scmapper (mapping expressions here, export
    templates in csvformat): the bounded sandbox, strict undefined, the built-in filters, no
    globals. `finalize` needs the context (pass_context), so no output is folded at compile time."""
    env = MappingSandbox(
        tag,
        undefined=StrictUndefined,
        finalize=finalize,
        autoescape=False,
        keep_trailing_newline=keep_trailing_newline,
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
    env.filters = {name: bounded(name, func) for name, func in env.filters.items()} | BOUNDING_FILTERS
    env.tests = {name: bounded_test(cast(Callable[..., Any], func)) for name, func in env.tests.items()}
    # Only what mappings need: no range, lipsum, cycler, joiner, namespace or dict.
    env.globals.clear()
    env.absent_fields = True
    return env


_AS_OF: ContextVar[date | None] = ContextVar("scmapper_as_of", default=None)


@contextmanager
def as_of(day: date | None) -> Iterator[None]:
    """The run's date for the code inside (`--as-of`): `today` in expressions, the versions an
    effective-dated input keeps. None leaves it as it is."""
    token = _AS_OF.set(day) if day is not None else None
    try:
        yield
    finally:
        if token is not None:
            _AS_OF.reset(token)


def today() -> date:
    """The run's date (`as_of`), else SCMAPPER_TODAY (YYYY-MM-DD) so mapping tests give stable
    results, else today."""
    given = _AS_OF.get()
    if given is not None:
        return given
    fixed = os.environ.get("SCMAPPER_TODAY")
    if not fixed:
        return filters.today()
    try:
        return date.fromisoformat(fixed)
    except ValueError:
        raise UsageError(f"SCMAPPER_TODAY {fixed[:40]!r} is not a date: set it as YYYY-MM-DD, or unset it") from None


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
        message = _unknown(env, unknown.group(1), unknown.group(2)) if unknown else exc.message
        return [(exc.lineno or 1, message or "invalid expression")]
    except TemplateSyntaxError as exc:
        return [(exc.lineno or 1, f"Jinja syntax error: {exc.message}")]
    except (RecursionError, SyntaxError):  # Python's own limits on nesting (SyntaxError: blocks)
        return [(1, "expression nested too deeply")]
    # The bounding filters are scmapper's own (the sandbox writes them into every tree): named in
    # a mapping or a template they would pass text through unbounded and unguarded.
    own = [
        (node.lineno, f"filter {node.name!r} is scmapper's own: not for mappings or templates")
        for node in tree.find_all(nodes.Filter)
        if isinstance(node, nodes.Filter) and node.name in BOUNDING_FILTERS
    ]
    if own:
        return own
    # Jinja defers an unknown filter or test inside a condition to run time; name it now.
    deferred = [
        (node.lineno, _unknown(env, "filter" if isinstance(node, nodes.Filter) else "test", node.name))
        for node in tree.find_all((nodes.Filter, nodes.Test))
        if isinstance(node, nodes.Filter | nodes.Test)
        and node.name not in (env.filters if isinstance(node, nodes.Filter) else env.tests)
    ]
    return deferred or tree


def _unknown(env: MappingSandbox, kind: str, name: str) -> str:
    known = env.filters if kind == "filter" else env.tests
    return f"unknown {kind} {name!r}{did_you_mean(name, known)}"


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
    for modulo in tree.find_all(nodes.Mod):
        if isinstance(modulo.left, nodes.Const) and isinstance(modulo.left.value, str):
            problems.append((modulo.lineno, "% formatting is not allowed in a mapping; join text with ~"))
    for node in tree.find_all((nodes.Name, nodes.Getattr, nodes.Getitem)):
        if isinstance(node, nodes.Name) and node.ctx == "load" and node.name not in allowed:
            known = ", ".join(sorted(names))
            guess = closest(node.name, names)
            hint = f"did you mean {guess!r}? available: {known}" if guess else f"available: {known}"
            problems.append((node.lineno, f"unknown name {node.name!r} ({hint})"))
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
