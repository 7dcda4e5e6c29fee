"""The field paths an expression reads: for `validate` against samples, for a preview's
lineage, and for naming the absent fields behind an empty required column.

Vocabulary: a *field path* is a chain of keys an expression reads from a root name
(`person.Details.Gender`, `contract.Department.ExternalId`, `inputs.jobProfiles[..].fullName`);
a key read with a computed value is `*` (any). A path is *present* in a value when the value
has it (keys match as expressions match them: exactly, else ignoring case; a list is looked
into; a null stops the walk, since null says nothing about the keys below it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes

from scmapper.mapping import expressions
from scmapper.mapping.document import Place
from scmapper.mapping.model import Column, Mapping

ANY = "*"


@dataclass(frozen=True)
class Read:
    """A field path an expression reads, and where the expression is."""

    root: str
    keys: tuple[str, ...]
    what: str  # "column 'geslacht'", "vars.name", "when"
    position: Place

    def __str__(self) -> str:
        return ".".join((self.root, *self.keys)).replace(f".{ANY}", "[...]")


def expression_reads(source: str, *, expression: bool = False) -> Iterator[Read]:
    """The field paths one template (or bare expression) reads, whatever their root."""
    return reads_of(source, "", Place(""), expression=expression)


def reads_of(source: str, what: str, position: Place, *, expression: bool = False) -> Iterator[Read]:
    try:
        tree = expressions.environment().parse("{{ (" + source + ") }}" if expression else source)
    except Exception:  # noqa: BLE001 - static_problems reports unparsable expressions
        return
    found = [n for n in tree.find_all((nodes.Getattr, nodes.Getitem)) if isinstance(n, nodes.Getattr | nodes.Getitem)]
    inner = {id(n.node) for n in found}
    for node in found:
        if id(node) in inner:
            continue  # part of a longer chain, read with it
        found_chain = chain(node)
        if found_chain:
            yield Read(found_chain[0], found_chain[1], what, position.down(node.lineno - 1))


def chain(node: nodes.Node) -> tuple[str, tuple[str, ...]] | None:
    keys: list[str] = []
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        if isinstance(node, nodes.Getattr):
            keys.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            keys.append(node.arg.value)
        else:
            keys.append(ANY)  # an index or a computed key: any item
        node = node.node
    return (node.name, tuple(reversed(keys))) if isinstance(node, nodes.Name) else None


def present(value: Any, keys: tuple[str, ...]) -> bool:
    if not keys or value is None:
        return True
    if isinstance(value, list):
        return any(present(item, keys) for item in value)
    if not isinstance(value, dict):
        return False
    key, rest = keys[0], keys[1:]
    if key == ANY:
        return any(present(item, rest) for item in value.values())
    if key in value:
        return present(value[key], rest)
    lowered = key.lower()
    return any(present(item, rest) for name, item in value.items() if str(name).lower() == lowered)


def absent_behind(mapping: Mapping, column: Column, context: dict[str, Any]) -> str | None:
    """The fields an empty column read, itself or through its vars, that the record does not
    have, whatever wrapped them (`(person.UPN or '')` tests the absence away): "person.UPN" says
    more than an empty column alone. Fields of lookup inputs are left out: which record is read
    depends on an id known only at run time."""
    found = []
    for read in behind(mapping, column):
        root = context.get(read.root)
        if read.root in ("lookups", "today", "inputs") or not isinstance(root, dict | list):
            continue
        if not present(root, read.keys):
            found.append(str(read))
    found = list(dict.fromkeys(found))
    if not found:
        return None
    return found[0] if len(found) == 1 else ", ".join(found[:-1]) + " and " + found[-1]


def behind(mapping: Mapping, column: Column) -> list[Read]:
    """The field paths a column reads, itself (a lookup column's default too) and through every
    var it uses, in the order met; the `vars.X` reads themselves left out."""
    return [read for read, _ in _walk(mapping, column) if read.root != "vars"]


def used_vars(mapping: Mapping, column: Column) -> list[str]:
    """The vars a column uses, itself or through the vars those use, in the order met."""
    return [name for _, name in _walk(mapping, column) if name]


def _walk(mapping: Mapping, column: Column) -> Iterator[tuple[Read, str]]:
    """Each read of the column, a var's reads right after the read that uses it (once per var);
    with the var's name where a read opens one."""
    sources = {v.name: v.expression for v in mapping.vars}
    own = [] if column.kind == "fixed" else list(expression_reads(column.source))
    if column.kind == "lookup":
        own += expression_reads(column.default)
    seen: set[str] = set()

    def walk(found: list[Read]) -> Iterator[tuple[Read, str]]:
        for read in found:
            name = read.keys[0] if read.root == "vars" and read.keys else ""
            if name in sources and name not in seen:
                seen.add(name)
                yield read, name
                yield from walk(list(expression_reads(sources[name], expression=True)))
            else:
                yield read, ""

    yield from walk(own)
