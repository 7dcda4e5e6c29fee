"""A compiled mapping as it is kept and run: its pieces, its code, and what is left to Jinja.

Vocabulary: a *piece* is one template or expression of a mapping, keyed (`Key`) by what it is
and the name it has: ("column", name) and ("role", name) for a column's value, ("default",
name) and ("role default", name) for a lookup column's default, ("var", name), and ("active",
""), ("for_each", ""), ("when", ""). ("row", "column") and ("row", "role") give a whole row's
values at once (each rendered column's text, in order), where every column compiled. A
*program* is the code object of the module compiler.py wrote, with the pieces it left
*interpreted* and why. Run, it gives each compiled piece as a function of the context dict (the
names expressions see). This module imports no Jinja: an event whose mapping compiled whole
never does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from types import CodeType
from typing import Any

from scmapper.mapping import plain, sizes
from scmapper.mapping.model import Mapping

Key = tuple[str, str]
# Raised whenever the compiler writes different code for the same mapping, so no program an
# older compiler wrote is run (it is part of the cache key, with the Python version).
COMPILER = 3
INTERPRETED = "interpreted"


def pieces(mapping: Mapping) -> Iterator[tuple[Key, str, str]]:
    """Every piece of a mapping: (key, "template" or "expression", source)."""
    roles = mapping.roles.columns if mapping.roles else ()
    for noun, default, columns in (("column", "default", mapping.columns), ("role", "role default", roles)):
        for column in columns:
            if column.kind != "fixed":
                yield (noun, column.name), "template", column.source
            if column.kind == "lookup":
                yield (default, column.name), "template", column.default
    for var in mapping.vars:
        yield ("var", var.name), "expression", var.expression
    if mapping.source.active:
        yield ("active", ""), "expression", mapping.source.active
    if mapping.roles:
        yield ("for_each", ""), "expression", mapping.roles.items
        yield ("when", ""), "expression", mapping.roles.when


def described(key: Key) -> str:
    """A piece as the mapping file names it: "person.columns.email", "roles.when"."""
    noun, name = key
    return {
        "column": f"person.columns.{name}",
        "role": f"roles.columns.{name}",
        "default": f"person.columns.{name}.default",
        "role default": f"roles.columns.{name}.default",
        "var": f"vars.{name}",
        "active": "source.active",
    }.get(noun, f"roles.{noun}")


def evaluation() -> str:
    """How pieces run: compiled (the default), or interpreted where SCMAPPER_EVALUATION says so,
    every piece in Jinja as before the compiler (to compare the two, or to rule it out)."""
    return INTERPRETED if os.environ.get("SCMAPPER_EVALUATION", "").strip().lower() == INTERPRETED else "compiled"


class Program:
    """The compiled module of one mapping, run once on first use, and the pieces it left to Jinja."""

    def __init__(self, code: CodeType, fallbacks: dict[Key, str]) -> None:
        self.code, self.fallbacks = code, fallbacks
        self._functions: dict[Key, Callable[[dict[str, Any]], Any]] | None = None

    def function(self, key: Key) -> Callable[[dict[str, Any]], Any] | None:
        """The compiled piece, or None where it is interpreted."""
        if self._functions is None:
            scope = dict(_namespace())
            exec(self.code, scope)  # noqa: S102 - code the compiler wrote from literals only (compiler.py)
            self._functions = scope["PIECES"]
        return self._functions.get(key)


def _namespace() -> dict[str, Any]:
    from scmapper.mapping import builtins  # the filters import their own modules: only once run

    return {
        "__builtins__": {},
        "attribute": plain.attribute,
        "item": plain.item,
        "binop": plain.binop,
        "call": plain.call,
        "concat": plain.concat,
        "output": plain.output,
        "made": plain.made,
        "weigh": sizes.weigh,
        "FILTERS": builtins.bounded_filters(),
        "TESTS": builtins.bounded_tests(),
    }
