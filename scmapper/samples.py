"""A mapping's sample files, and the fields its expressions read that none of them has.

Vocabulary: a *field path* is a chain of keys an expression reads from a root name
(`person.Details.Gender`, `contract.Department.ExternalId`, `inputs.jobProfiles[..].fullName`);
a key read with a computed value is `*` (any). A path is *seen* when some sample record has it
(keys match as expressions match them: exactly, else ignoring case; a list is looked into; a
null stops the walk, since a sample with null there says nothing against the rest). Paths a
mapping reads but no sample has are `validate` warnings: at runtime they are absent fields, so
a typo would only show as warnings, person after person.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes

from scmapper import expressions, inputs
from scmapper.errors import Problem, ScmapperError
from scmapper.mapping import Mapping, Roles, problem_at
from scmapper.trust import OutsideRoot

ANY = "*"


@dataclass(frozen=True)
class Read:
    """A field path an expression reads, and where the expression is."""

    root: str
    keys: tuple[str, ...]
    what: str  # "column 'geslacht'", "vars.name", "when"
    position: tuple[int, int]

    def __str__(self) -> str:
        return ".".join((self.root, *self.keys)).replace(f".{ANY}", "[...]")


@dataclass(frozen=True)
class Samples:
    """The joined sample records (what `person` is) and each lookup input's records."""

    folder: str
    persons: list[dict[str, Any]]
    tables: dict[str, list[dict[str, Any]]]


def load(mapping: Mapping) -> Samples | Problem | None:
    """The samples `source.samples` names, or a problem saying why they cannot be read; None
    when the mapping names none."""
    name = mapping.source.samples
    if name is None:
        return None
    where = mapping.source_position
    try:
        folder = mapping.root.resolve(name, mapping.base_dir, "source.samples")
    except OutsideRoot as exc:
        return problem_at(mapping.file, where, str(exc))
    if not folder.is_dir():
        return problem_at(mapping.file, where, f"source.samples {name!r} is not a folder")
    files = sorted(str(p) for p in folder.iterdir() if p.suffix in (".json", ".jsonl"))
    try:
        snapshot = inputs.read(mapping.source, inputs.assign(mapping.source, files))
        persons = [record.data for record in snapshot.records]
    except ScmapperError as exc:
        return problem_at(mapping.file, where, f"source.samples {name!r}: {exc}")
    tables = {table_name: list(table.values()) for table_name, table in snapshot.tables.items()}
    return Samples(name, persons, tables)


def unseen(mapping: Mapping, samples: Samples) -> list[Problem]:
    """A warning for every field path the mapping reads that no sample has."""
    found = []
    for read in reads(mapping):
        if read.root == "person":
            records: list[Any] = samples.persons
            keys = read.keys
        elif read.root == "inputs" and len(read.keys) > 1 and read.keys[0] in samples.tables:
            records, keys = samples.tables[read.keys[0]], read.keys[2:]  # inputs.NAME[id].keys...
        else:
            continue
        if keys and not any(_has(record, keys) for record in records):
            message = f"{read.what}: {read} is in none of the samples ({samples.folder})"
            found.append(Problem(mapping.file, *read.position, message, severity="warning"))
    return found


def reads(mapping: Mapping) -> Iterator[Read]:
    """Every field path the mapping's expressions read from person or inputs; a path from the
    roles' loop variable counts from its for_each list when that list is a plain path. A path
    read through a var is checked where the var reads it, not where the var is used."""
    for var in mapping.vars:
        yield from _reads(var.expression, f"vars.{var.name}", var.position, expression=True)
    for column in mapping.columns:
        if column.kind != "fixed":
            yield from _reads(column.source, f"column {column.name!r}", column.position)
    roles = mapping.roles
    if roles is None:
        return
    yield from _reads(roles.items, "for_each", roles.positions["for_each"], expression=True)
    plain = _plain(roles.items)
    for read in _role_reads(roles):
        if read.root == roles.var and plain is not None:
            yield Read(plain.root, plain.keys + read.keys, read.what, read.position)
        elif read.root != roles.var:
            yield read


def _role_reads(roles: Roles) -> Iterator[Read]:
    yield from _reads(roles.when, "when", roles.positions["when"], expression=True)
    for column in roles.columns:
        if column.kind != "fixed":
            yield from _reads(column.source, f"role column {column.name!r}", column.position)


def _plain(source: str) -> Read | None:
    """The for_each list as a path, when it is nothing but a path."""
    tree = expressions.environment().parse("{{ (" + source + ") }}")
    outputs = list(tree.find_all(nodes.Output))
    node = outputs[0].nodes[0] if outputs and len(outputs[0].nodes) == 1 else None
    chain = _chain(node) if isinstance(node, nodes.Getattr | nodes.Getitem) else None
    return Read(chain[0], chain[1], "for_each", (1, 1)) if chain else None


def _reads(source: str, what: str, position: tuple[int, int], *, expression: bool = False) -> Iterator[Read]:
    try:
        tree = expressions.environment().parse("{{ (" + source + ") }}" if expression else source)
    except Exception:  # noqa: BLE001 - static_problems reports unparsable expressions
        return
    found = [n for n in tree.find_all((nodes.Getattr, nodes.Getitem)) if isinstance(n, nodes.Getattr | nodes.Getitem)]
    inner = {id(n.node) for n in found}
    for node in found:
        if id(node) in inner:
            continue  # part of a longer chain, read with it
        chain = _chain(node)
        if chain:
            line = position[0] + max(node.lineno - 1, 0)
            yield Read(chain[0], chain[1], what, (line, position[1]))


def _chain(node: nodes.Node) -> tuple[str, tuple[str, ...]] | None:
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


def _has(value: Any, keys: tuple[str, ...]) -> bool:
    if not keys or value is None:
        return True
    if isinstance(value, list):
        return any(_has(item, keys) for item in value)
    if not isinstance(value, dict):
        return False
    key, rest = keys[0], keys[1:]
    if key == ANY:
        return any(_has(item, rest) for item in value.values())
    if key in value:
        return _has(value[key], rest)
    lowered = key.lower()
    return any(_has(item, rest) for name, item in value.items() if str(name).lower() == lowered)
