"""The one factory of Jinja environments, the mapping environment, and the static checks.

Vocabulary: a *template* is column text with `{{ ... }}` parts; an *expression* is a
bare Jinja expression (a `when` condition, a `for_each` list). Nothing else in
scmapper builds a Jinja Environment; each is the bounded sandbox of sandbox.py.
`default` treats null as missing, as HR records use null for "no value"; in the mapping
environment a key a record does not have reads as absent (absence.py).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from functools import cache
from typing import Any, cast

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes, pass_context, pass_environment
from jinja2.exceptions import TemplateAssertionError
from jinja2.filters import _GroupTuple, do_items, ignore_case, sync_do_groupby, sync_do_map

from scmapper.core.suggest import closest, did_you_mean
from scmapper.mapping import builtins
from scmapper.mapping.absence import undefined
from scmapper.mapping.bounds import bounded, bounded_test
from scmapper.mapping.plain import output
from scmapper.mapping.sandbox import BOUNDING_FILTERS, MappingSandbox


@cache
def environment() -> MappingSandbox:
    """The one environment every mapping expression runs in: null renders as empty."""

    @pass_context
    def finalize(context: Any, value: Any) -> str:
        return output(value)

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
    # scmapper's own filters are the very functions a compiled mapping calls (builtins.py);
    # Jinja's built-ins stay Jinja's, but for `map`, whose default= must see absent fields.
    env.filters.update(builtins.OWN_FILTERS, map=_map, items=_items, groupby=_groupby, **(extra_filters or {}))
    env.tests.update(defined=builtins.TESTS["defined"], undefined=builtins.TESTS["undefined"])
    env.filters = {name: bounded(name, func) for name, func in env.filters.items()} | BOUNDING_FILTERS
    env.tests = {name: bounded_test(cast(Callable[..., Any], func)) for name, func in env.tests.items()}
    # Only what mappings need: no range, lipsum, cycler, joiner, namespace or dict.
    env.globals.clear()
    env.absent_fields = True
    return env


@pass_context
def _map(context: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
    """Jinja's map; `map(attribute=...)` the plain one, whose default= also fills absent fields."""
    if not args and "attribute" in kwargs:
        return builtins.map_attribute(value, **kwargs)
    return sync_do_map(context, value, *args, **kwargs)


def _items(value: Any) -> Any:
    """Jinja's items; an absent field, as an undefined one, has none."""
    return iter(()) if undefined(value) else do_items(value)


@pass_environment
def _groupby(environment: Any, value: Any, attribute: Any, default: Any = None, case_sensitive: bool = False) -> Any:
    """Jinja's groupby; with default=, an absent field is grouped under the default, as an
    undefined one is."""
    if default is None:
        return sync_do_groupby(environment, value, attribute, case_sensitive=case_sensitive)
    get = builtins.getter(attribute, default)
    key = get if case_sensitive else (lambda item: ignore_case(get(item)))
    grouped = [(k, list(values)) for k, values in itertools.groupby(sorted(value, key=key), key)]
    return [_GroupTuple(k if case_sensitive else get(values[0]), values) for k, values in grouped]


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
