"""Every filter and test a mapping can name, as plain functions: scmapper's own (filters.py)
and, written again without Jinja, the Jinja built-ins mappings use.

Vocabulary: FILTERS and TESTS are the plain functions by name, unbounded; `bounded_filters` and
`bounded_tests` are them as steps of the budget (bounds.py). The Jinja environment registers
scmapper's own under the same names (expressions.sandbox), so both paths call the very same
function; Jinja's built-ins keep Jinja's code there, and tests/test_compiled.py checks each one
rewritten here against Jinja's on generated values. A filter or test not here (`sort`,
`tojson`, ...), or named with arguments the rewrite does not take, is left to Jinja: the
expression naming it is interpreted (compiler.py).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from numbers import Number
from typing import Any

from scmapper.mapping import filters, plain
from scmapper.mapping.absence import undefined
from scmapper.mapping.bounds import bounded, bounded_test
from scmapper.mapping.plain import item


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _replace(value: Any, old: Any, new: Any, count: int | None = None) -> str:
    return str(value).replace(str(old), str(new), -1 if count is None else count)


def _join(value: Any, d: Any = "") -> str:
    return str(d).join(map(str, value))


_WORD_START = re.compile(r"([-\s({\[<]+)")


def _title(value: Any) -> str:
    return "".join(part[0].upper() + part[1:].lower() for part in _WORD_START.split(_text(value)) if part)


def _int(value: Any, default: int = 0, base: int = 10) -> int:
    try:
        return int(value, base) if isinstance(value, str) else int(value)
    except (TypeError, ValueError):
        try:  # "42.5" is 42, as in Jinja
            return int(float(value))
        except (TypeError, ValueError, OverflowError):
            return default


def _float(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _parts(attribute: Any) -> list[Any]:
    if attribute is None:
        return []
    if isinstance(attribute, str):
        return [int(part) if part.isdigit() else part for part in attribute.split(".")]
    return [attribute]


def getter(attribute: Any, fallback: Any = None) -> Callable[[Any], Any]:
    """An item's value at a dotted path, read as `item[...]` reads it."""
    parts = _parts(attribute)

    def get(value: Any) -> Any:
        for part in parts:
            value = item(value, part)
            if fallback is not None and undefined(value):
                value = fallback
        return value

    return get


def map_attribute(value: Any, *args: Any, attribute: Any = None, default: Any = None) -> Iterator[Any]:
    """`map(attribute='a.b', default=x)`: each item's value at the path, lazily as Jinja's map."""
    if args or attribute is None:
        raise TypeError("map takes attribute= here")
    if value:
        get = getter(attribute, default)
        for each in value:
            yield get(each)


def _selecting(by_attribute: bool, keep: bool) -> Callable[..., Iterator[Any]]:
    def select(value: Any, *args: Any) -> Iterator[Any]:
        get = getter(args[0]) if by_attribute else None
        rest = args[1:] if by_attribute else args
        if rest:
            test, test_args = bounded_tests()[rest[0]], rest[1:]
            passes: Callable[[Any], Any] = lambda x: test(x, *test_args)  # noqa: E731
        else:
            passes = bool
        if value:
            for each in value:
                if bool(passes(get(each) if get else each)) is keep:
                    yield each

    return select


def _sequence(value: Any) -> bool:
    try:
        len(value)
        value.__getitem__  # noqa: B018 - whether it has one
    except Exception:  # noqa: BLE001 - anything that is not a sequence
        return False
    return True


def _iterable(value: Any) -> bool:
    try:
        iter(value)
    except TypeError:
        return False
    return True


OWN_FILTERS: dict[str, Callable[..., Any]] = {
    "default": plain.default,
    "d": plain.default,
    "name_prefix": filters.name_prefix,
    "family_name": filters.family_name,
    "strip_diacritics": filters.strip_diacritics,
    "gender": filters.gender,
    "to_date": filters.to_date,
    "in_window": filters.in_window,
    "translate": filters.translate,
    "where": filters.where,
    "flatten": filters.flatten,
    "split_surname": filters.split_surname,
    "get": filters.get,
    "first": filters.first,
    "last": filters.last,
}
FILTERS: dict[str, Callable[..., Any]] = {
    **OWN_FILTERS,
    # Jinja's built-ins, without Jinja (autoescape is off in every scmapper environment)
    "lower": lambda value: _text(value).lower(),
    "upper": lambda value: _text(value).upper(),
    "capitalize": lambda value: _text(value).capitalize(),
    "title": _title,
    "trim": lambda value, chars=None: _text(value).strip(chars),
    "string": _text,
    "replace": _replace,
    "join": _join,
    "length": len,
    "count": len,
    "list": list,
    "int": _int,
    "float": _float,
    "abs": abs,
    "map": map_attribute,
    "select": _selecting(False, True),
    "reject": _selecting(False, False),
    "selectattr": _selecting(True, True),
    "rejectattr": _selecting(True, False),
}

TESTS: dict[str, Callable[..., Any]] = {
    "defined": lambda value: not undefined(value),
    "undefined": undefined,
    "none": lambda value: value is None,
    "boolean": lambda value: value is True or value is False,
    "true": lambda value: value is True,
    "false": lambda value: value is False,
    "integer": lambda value: isinstance(value, int) and value is not True and value is not False,
    "float": lambda value: isinstance(value, float),
    "number": lambda value: isinstance(value, Number),
    "string": lambda value: isinstance(value, str),
    "lower": lambda value: str(value).islower(),
    "upper": lambda value: str(value).isupper(),
    "mapping": lambda value: isinstance(value, Mapping),
    "sequence": _sequence,
    "iterable": _iterable,
    "odd": lambda value: value % 2 == 1,
    "even": lambda value: value % 2 == 0,
    "divisibleby": lambda value, num: value % num == 0,
    "sameas": lambda value, other: value is other,
    "in": lambda value, seq: value in seq,
}
for _names, _compare in (
    (("==", "eq", "equalto"), operator.eq),
    (("!=", "ne"), operator.ne),
    ((">", "gt", "greaterthan"), operator.gt),
    ((">=", "ge"), operator.ge),
    (("<", "lt", "lessthan"), operator.lt),
    (("<=", "le"), operator.le),
):
    TESTS.update(dict.fromkeys(_names, _compare))


@cache
def bounded_filters() -> dict[str, Callable[..., Any]]:
    return {name: bounded(name, func) for name, func in FILTERS.items()}


@cache
def bounded_tests() -> dict[str, Callable[..., Any]]:
    return {name: bounded_test(func) for name, func in TESTS.items()}
