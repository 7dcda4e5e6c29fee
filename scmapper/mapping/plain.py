"""What a compiled mapping runs on: the sandbox's rules as plain functions, without Jinja.

Vocabulary: *compiled* code (compiler.py) calls these for every operation a mapping writes: a
field read (`attribute`, `item`), an operator (`binop`), a method call (`call`), `~` (`concat`),
a value output into a column (`output`), a list or dict written out (`made`), an operand of a
comparison (`weigh`). Each does what the Jinja sandbox (sandbox.py) does for the same operation,
and the sandbox calls the same functions (`field` and `element` for record data, `binop`,
`concat`, `output`), so the two cannot drift: keys case-insensitively, a missing key absent
(absence.py), an attribute of null null, every operation a step of the budget and every value
held to the size cap. Anything the plain rules do not cover (a method of a list, an attribute of
a date) goes to the sandbox itself, imported then: an honest record never needs it, so an event
imports no Jinja.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from functools import cache
from types import BuiltinMethodType
from typing import Any

from scmapper.core import fields
from scmapper.mapping import budget, sizes
from scmapper.mapping.absence import Absent, Table, undefined
from scmapper.mapping.sizes import CHARS_PER_STEP, check_size, checked, weigh

# A column value longer than this is a runaway expression, not a name or a code.
MAX_VALUE_LENGTH = 65_536

made = checked  # a list, tuple or dict the mapping writes out: it may hold a big value many times


class Refused(Exception):
    """What a mapping may not do (a name starting with `_`, `%` formatting): the plain form of
    the sandbox's SecurityError, reported the same way (a SandboxViolation)."""


def text(value: Any) -> str:
    """What a column shows of a value that is not text: empty for null, else its text; an
    object or list of the record has no one text, so the column names a field of it instead."""
    if value is None:
        return ""
    if isinstance(value, dict):
        raise TypeError("the expression gives an object, not one value: name one of its fields")
    if isinstance(value, list | tuple):
        raise TypeError("the expression gives a list, not one value: pick an item ([0]) or join them (| join(', '))")
    return str(value)


def output(value: Any) -> str:
    """A value a column outputs (`{{ ... }}`), as text, its length spent from the budget."""
    out = value if type(value) is str else text(value)
    spent = budget.current()
    if spent is not None:
        spent.left -= len(out)
        if spent.left < 0:
            spent.spend(0)
    return out


def default(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """Jinja's default, where null is missing too (HR records use null for 'no value')."""
    if undefined(value) or value is None or (boolean and not value):
        return default_value
    return value


# What a text has to offer a mapping: its public methods, but format (refused, as in the sandbox).
_TEXT_METHODS = frozenset(name for name in dir("") if name[:1] != "_") - {"format", "format_map"}


Missing = Callable[[Any, Any], Any]  # what a key a record does not have reads as: (record, key) -> value
NOT_DATA: Any = object()  # what `field` and `element` say of an object that is not record data


def field(obj: Any, name: str, missing: Missing = Absent) -> Any:
    """`obj.name` where obj is record data: a key (exact, else ignoring case), `missing` when the
    record has none; an attribute of null is null. NOT_DATA for any other object. The sandbox
    reads data through this too (sandbox.py), so the two paths read fields alike."""
    if type(obj) is dict:  # JSON objects: the common case, checked before the slower ABC test
        return obj[name] if name in obj else lookup(obj, name, missing)
    if obj is None:
        return None
    if isinstance(obj, Absent):
        return obj.child(name)
    if isinstance(obj, Table):
        return obj.find(name)
    if isinstance(obj, Mapping):
        return lookup(obj, name, missing)
    return NOT_DATA


def element(obj: Any, key: Any, missing: Missing = Absent, *, past_end: bool = True) -> Any:
    """`obj[key]` where obj is record data, as `field` reads it; with past_end, an index past
    the end of a list reads as `missing` too. NOT_DATA for anything else (an item of a list
    within it among them: the callers take those first, or leave them to Jinja)."""
    if obj is None:
        return None
    if isinstance(obj, Absent):
        return obj.child(key)
    if isinstance(obj, Table):
        return obj.find(key)
    if isinstance(obj, Mapping) and isinstance(key, str):
        return lookup(obj, key, missing)
    if past_end and type(obj) is list and type(key) is int and not -len(obj) <= key < len(obj):
        return missing(obj, f"[{key}]")
    return NOT_DATA


def attribute(obj: Any, name: str) -> Any:
    """`obj.name` in a mapping: a field of record data, a method of text, else the sandbox's rule."""
    if name[:1] == "_":
        raise Refused(f"access to {name!r} is not allowed in a mapping")
    found = field(obj, name)
    if found is not NOT_DATA:
        return found
    if type(obj) is str and name in _TEXT_METHODS:
        return getattr(obj, name)  # a method of text, none of which changes anything
    return _sandbox().getattr(obj, name)


def item(obj: Any, key: Any) -> Any:
    """`obj[key]` in a mapping: an element of record data, else the sandbox's rule."""
    if type(obj) is list and type(key) is int and -len(obj) <= key < len(obj):
        return obj[key]  # the common case, first
    found = element(obj, key)
    return found if found is not NOT_DATA else _sandbox().getitem(obj, key)


def lookup(obj: Mapping[Any, Any], key: str, missing: Missing = Absent) -> Any:
    found = fields.field(obj, key, fields.MISSING)
    return missing(obj, key) if found is fields.MISSING else found


_OPERATORS = {"+": operator.add, "*": operator.mul, "%": operator.mod, "**": operator.pow}


def binop(symbol: str, left: Any, right: Any) -> Any:
    """`+`, `*`, `%` and `**`: a step, refused where the result would outgrow the size cap."""
    budget.step()
    if symbol == "%" and isinstance(left, str | bytes):
        raise Refused("% formatting is not allowed in a mapping; join text with ~")
    if symbol == "**":
        sizes.check_power(left, right)
    elif symbol == "*":
        sizes.check_product(left, right)
    elif symbol == "+" and isinstance(left, str | bytes | list | tuple) and isinstance(right, type(left)):
        cap = budget.cap()
        check_size(sizes.size(left, cap) + sizes.size(right, cap))
    return checked(_OPERATORS[symbol](left, right))


def call(function: Any, /, *args: Any, **kwargs: Any) -> Any:
    """A method call: one of text a step, charged for walking the text; any other to the sandbox."""
    owner = getattr(function, "__self__", None)
    if type(owner) is not str or type(function) is not BuiltinMethodType:
        return _sandbox().call(_context(), function, *args, **kwargs)
    budget.step()
    if function.__name__ == "join":
        args = (sizes.joinable(owner, args[0]),) if len(args) == 1 else args
    else:
        sizes.check_method(function, args, kwargs)
        weigh(owner)  # its method walks it (count, index, ...)
    return checked(function(*args, **kwargs))


def concat(parts: list[Any]) -> str:
    """The `~` operator: its parts joined, once their size is known to fit."""
    budget.step()
    texts = ["" if part is None else part if type(part) is str else str(weigh(part)) for part in parts]
    total = sum(map(len, texts))
    check_size(total)
    budget.charge(total // CHARS_PER_STEP)  # the copy joining makes
    return "".join(texts)


@cache
def _sandbox() -> Any:
    from scmapper.mapping import expressions  # only for what the plain rules leave to it

    return expressions.environment()


def _context() -> Any:
    env = _sandbox()
    return env.context_class(env, {}, None, {})
