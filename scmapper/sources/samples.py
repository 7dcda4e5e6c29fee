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
from dataclasses import dataclass, replace
from typing import Any

from jinja2 import nodes

from scmapper.core.suggest import closest
from scmapper.errors import Problem, ScmapperError
from scmapper.mapping import expressions
from scmapper.mapping.document import Place
from scmapper.mapping.model import Mapping, Roles
from scmapper.mapping.reads import ANY, Read, chain, present, reads_of, used_vars
from scmapper.mapping.trust import OutsideRoot
from scmapper.sources import inputs


@dataclass(frozen=True)
class Samples:
    """The joined sample records (what `person` is) and each lookup input's records, and what
    they are called in a warning ("the samples (samples/afas)")."""

    label: str
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
        folder = mapping.root.resolve(name, mapping.folder_of(where), "source.samples")
    except OutsideRoot as exc:
        return where.problem(str(exc))
    if not folder.is_dir():
        return where.problem(f"source.samples {name!r} is not a folder")
    paths = sorted(p for p in folder.iterdir() if p.suffix in (".json", ".jsonl"))
    outside = [p.name for p in paths if not mapping.root.holds(p, folder)]
    if outside:  # a link planted among the samples: its fields must not turn up in suggestions
        return where.problem(
            f"source.samples {name!r}: {outside[0]} leads outside the mapping's folder"
            f" {mapping.root.folder}: no sample was read"
        )
    files = [str(p) for p in paths]
    try:
        snapshot = inputs.read(mapping.source, inputs.assign(mapping.source, files))
        persons = [record.data for record in snapshot.records]
    except ScmapperError as exc:
        return where.problem(f"source.samples {name!r}: {exc}")
    tables = {table_name: list(table.values()) for table_name, table in snapshot.tables.items()}
    return Samples(f"the samples ({name})", persons, tables)


def unseen(mapping: Mapping, samples: Samples) -> list[Problem]:
    """A warning for every field path the mapping reads that no sample has; a problem where the
    path feeds a required column (itself or through a var) and nothing else that column reads is
    in the samples: every record would then fail. A path of an optional input only warns."""
    feeding = _feeding_required(mapping)
    optional = {i.name for i in mapping.source.inputs if i.optional}
    missing: list[tuple[Read, str]] = []
    fed: set[str] = set()  # required columns that read at least one field the samples have
    for read in reads(mapping):
        if read.root == "person":
            records: list[Any] = samples.persons
            keys = read.keys
        elif read.root == "inputs" and len(read.keys) > 1 and read.keys[0] in samples.tables:
            records, keys = samples.tables[read.keys[0]], read.keys[2:]  # inputs.NAME[id].keys...
        else:
            continue
        if not keys or any(present(record, keys) for record in records):
            if read.what in feeding:
                fed.add(feeding[read.what])
            continue
        message = f"{read.what}: {read} is in none of {samples.label}{_did_you_mean(read, records, keys)}"
        missing.append((read, message))
    found = []
    for read, message in missing:
        required = feeding.get(read.what)
        from_optional = read.root == "inputs" and read.keys[0] in optional
        if required and required not in fed and not from_optional:
            found.append(read.position.problem(f"{message}; it feeds the required column {required!r}"))
        else:
            found.append(read.position.problem(message, severity="warning"))
    return found


def _feeding_required(mapping: Mapping) -> dict[str, str]:
    """What a read is about ("column 'x'", "vars.y") -> the required column it feeds, for the
    required columns and the vars they use, through vars that use vars."""
    found: dict[str, str] = {}
    required = [(f"column {c.name!r}", c) for c in mapping.columns if c.required and c.kind != "fixed"]
    if mapping.roles:
        required += [(f"role column {c.name!r}", c) for c in mapping.roles.columns if c.required and c.kind != "fixed"]
    for what, column in required:
        found[what] = column.name
        for name in used_vars(mapping, column):
            found.setdefault(f"vars.{name}", column.name)
    return found


def _did_you_mean(read: Read, records: list[Any], keys: tuple[str, ...]) -> str:
    """'; did you mean person.Email_werk?' when the first key no record has is close to a key
    the records do have at that place."""
    for depth in range(len(keys)):
        if any(present(record, keys[: depth + 1]) for record in records):
            continue
        names = {name for record in records for name in _keys_at(record, keys[:depth])}
        guess = closest(keys[depth], names) if keys[depth] != ANY else None
        if guess is None:
            return ""
        start = len(read.keys) - len(keys)  # keys is the tail of read.keys that names fields
        fixed = replace(read, keys=read.keys[: start + depth] + (guess,) + keys[depth + 1 :])
        return f"; did you mean {fixed}?"
    return ""


def _keys_at(value: Any, keys: tuple[str, ...]) -> Iterator[str]:
    """The keys of the maps at the end of path `keys` (walked as _has walks it)."""
    if isinstance(value, list):
        for item in value:
            yield from _keys_at(item, keys)
    elif isinstance(value, dict):
        if not keys:
            yield from (str(name) for name in value)
            return
        key, rest = keys[0], keys[1:]
        for name, item in value.items():
            if key == ANY or str(name) == key or str(name).lower() == key.lower():
                yield from _keys_at(item, rest)


def reads(mapping: Mapping) -> Iterator[Read]:
    """Every field path the mapping's expressions read from person or inputs; a path from the
    roles' loop variable counts from its for_each list when that list is a plain path. A path
    read through a var is checked where the var reads it, not where the var is used."""
    for var in mapping.vars:
        yield from reads_of(var.expression, f"vars.{var.name}", var.position, expression=True)
    for column in mapping.columns:
        if column.kind != "fixed":
            yield from reads_of(column.source, f"column {column.name!r}", column.position)
    roles = mapping.roles
    if roles is None:
        return
    yield from reads_of(roles.items, "for_each", roles.positions["for_each"], expression=True)
    plain = _plain(roles.items)
    for read in _role_reads(roles):
        if read.root == roles.var and plain is not None:
            yield Read(plain.root, plain.keys + read.keys, read.what, read.position)
        elif read.root != roles.var:
            yield read


def _role_reads(roles: Roles) -> Iterator[Read]:
    yield from reads_of(roles.when, "when", roles.positions["when"], expression=True)
    for column in roles.columns:
        if column.kind != "fixed":
            yield from reads_of(column.source, f"role column {column.name!r}", column.position)


def _plain(source: str) -> Read | None:
    """The for_each list as a path, when it is nothing but a path."""
    tree = expressions.environment().parse("{{ (" + source + ") }}")
    outputs = list(tree.find_all(nodes.Output))
    node = outputs[0].nodes[0] if outputs and len(outputs[0].nodes) == 1 else None
    path = chain(node) if isinstance(node, nodes.Getattr | nodes.Getitem) else None
    return Read(path[0], path[1], "for_each", Place("")) if path else None
