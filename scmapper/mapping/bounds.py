"""Filters and tests as steps of the budget (budget.py): each call a step, its value charged by
the size it walks (sizes.py), and refused before it runs where its arguments say its result
would outgrow the size cap. Every filter and test of every environment is wrapped here
(expressions.sandbox)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from scmapper.mapping import budget, sizes
from scmapper.mapping.budget import DEFAULT_OUTPUT
from scmapper.mapping.sizes import CHARS_PER_STEP, ITEMS_PER_STEP, check_size, checked, weigh


def bounded(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that is a step of the budget, refused before it runs where its arguments say
    its result would outgrow the size cap, and checked after. `functools.wraps` keeps Jinja's
    pass_context marks, so the filter still gets its context."""
    first = 1 if getattr(func, "jinja_pass_arg", None) else 0  # the filtered value's position
    current = budget.current
    whole = name in _WALK_WHOLE

    @functools.wraps(func)
    def sized(*args: Any, **kwargs: Any) -> Any:
        budget.step()
        return checked(func(*_prechecked(name, list(args), first, kwargs), **kwargs))

    @functools.wraps(func)
    def plain(*args: Any, **kwargs: Any) -> Any:
        # The common case, every filter of every column: a text result, checked inline.
        spent = current()
        if spent is not None:
            spent.step()
            if len(args) > first:
                _charge_input(spent, args[first], whole)
        value = func(*args, **kwargs)
        if type(value) is str:
            if len(value) > (DEFAULT_OUTPUT if spent is None else spent.output):
                check_size(len(value))
            return value
        return checked(value)

    return sized if name in _SIZED_BY_ARGUMENTS else plain


_SIZED_BY_ARGUMENTS = frozenset({"batch", "slice", "replace", "join", "sum"})
# Filters whose C code walks the whole value, nested lists included (comparing, printing).
_WALK_WHOLE = frozenset({"tojson", "string", "max", "min", "sort", "unique", "dictsort", "groupby", "flatten"})


def bounded_test(func: Callable[..., Any]) -> Callable[..., Any]:
    """A Jinja test (`is in`, `is eq`, and each item `select` or `reject` tests) as a step of
    the budget, charged for walking its value and arguments whole, as `in` and `==` do."""

    @functools.wraps(func)
    def tested(*args: Any, **kwargs: Any) -> Any:
        spent = budget.current()
        if spent is not None:
            spent.step()
            for arg in args:
                if type(arg) is not str or len(arg) > CHARS_PER_STEP:
                    weigh(arg)
        return func(*args, **kwargs)

    return tested


def _charge_input(spent: budget.Budget, value: Any, whole: bool) -> None:
    """Charges a filter the work of going over its value: all of it for one that walks it
    whole, its length for the rest (one pass over the items or characters)."""
    kind = type(value)
    if whole and kind in (list, tuple, dict):
        weigh(value)
    elif kind is str:
        if len(value) > CHARS_PER_STEP:
            spent.charge(len(value) // CHARS_PER_STEP)
    elif kind in (list, tuple, dict) or isinstance(value, Mapping):  # a lookup table too
        spent.charge(len(value) // ITEMS_PER_STEP)


def _prechecked(name: str, args: list[Any], first: int, kwargs: dict[str, Any]) -> list[Any]:
    """The arguments of filter `name`, after refusing those that would size its result past the cap."""
    value, rest = (args[first], args[first + 1 :]) if len(args) > first else (None, [])
    if name in ("batch", "slice") and rest and isinstance(rest[0], int):
        check_size(rest[0])  # batch's line count, slice's number of slices
    elif name == "replace" and isinstance(value, str) and len(rest) >= 2 and isinstance(rest[1], str):
        check_size(len(value) + (len(value) + 1) * len(rest[1]))
    elif name == "join" and value is not None and not isinstance(value, str):
        separator = rest[0] if rest else kwargs.get("d", "")
        args[first] = sizes.joinable(separator if isinstance(separator, str) else "", value)
    elif name == "sum":
        start = kwargs.get("start", rest[1] if len(rest) > 1 else 0)
        if not isinstance(start, int | float):
            # adding lists or texts one to the next copies the growing total every time
            raise TypeError("sum adds numbers; to put lists together use flatten, texts join")
        weigh(value)
    return args
