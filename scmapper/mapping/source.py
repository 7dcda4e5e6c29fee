"""The source section of a mapping: the inputs sync and test read, and how they join.

Vocabulary: an *input* is the records of one endpoint or connector (main, attached or lookup);
a *source* is the inputs of one system, or a single input with its record path and grouping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from scmapper.errors import Problem
from scmapper.mapping.document import Document, Place, expression_source


@dataclass(frozen=True)
class Input:
    """One input of a source: the records of one endpoint or connector, in one or more files.

    The *main* input has one record per person. An *attached* input's records join a parent
    (the main input, or `to`) where their `on` field equals the parent's `key`, as a list
    named `attach` on each parent record. A *lookup* input is a table by its `lookup` field,
    read in expressions as `inputs.NAME[value]`. Field names may be dotted paths."""

    name: str
    records: str | None = None  # dotted path to the record list in a file; default: found
    key: str | None = None  # the field attached records match on
    attach: str | None = None
    on: str | None = None
    to: str | None = None  # the parent input of an attached one (default: the main input)
    lookup: str | None = None
    optional: bool = False  # sync runs without a file for it (no attached records, an empty table)
    fetch: str | None = None  # how the system's API is asked for it (named when a file lacks fields)
    encoding: str | None = None  # its files' encoding where not UTF-8 (cp1252, utf-16); a BOM always says
    valid_from: str | None = None  # effective-dated: the field of each version's first day (versions.py)
    valid_until: str | None = None  # and of its last day
    early_days: int = 0  # an attached version counts this many days before its first day
    position: Place = Place("")

    @property
    def kind(self) -> Literal["main", "attach", "lookup"]:
        return "attach" if self.attach else "lookup" if self.lookup else "main"


@dataclass(frozen=True)
class Source:
    """How sync and test read source records: one input (`records`, `group_by`) or several."""

    records: str | None = None  # dotted path to the record list in a file
    group_by: str | None = None  # merge records sharing this field into one person
    active: str | None = None  # expression: is this record an active employee (sync)
    inputs: tuple[Input, ...] = ()
    samples: str | None = None  # folder of sample files, relative to the mapping
    encoding: str | None = None  # a single-input source's files' encoding where not UTF-8

    @property
    def main(self) -> Input:
        """The input with one record per person; a single-input source's is named "source"."""
        found = next((i for i in self.inputs if i.kind == "main"), None)
        return found or Input("source", records=self.records)

    @property
    def lookups(self) -> tuple[Input, ...]:
        return tuple(i for i in self.inputs if i.kind == "lookup")

    def named(self, name: str) -> Input | None:
        return next((i for i in self.inputs if i.name == name), None)

    def children(self, parent: Input) -> tuple[Input, ...]:
        """The inputs attached to parent."""
        return tuple(i for i in self.inputs if i.kind == "attach" and (i.to or self.main.name) == parent.name)


def build_source(doc: Document, spec: dict[str, Any]) -> Source:
    active = spec.get("active")
    inputs = tuple(
        Input(name, **value, position=doc.place(("source", "inputs", name), key=True))
        for name, value in spec.get("inputs", {}).items()
    )
    return Source(
        spec.get("records"),
        spec.get("group_by"),
        expression_source(active) if active else None,
        inputs,
        spec.get("samples"),
        spec.get("encoding"),
    )


def source_problems(doc: Document, source: Source) -> list[Problem]:
    """How the inputs join: one main input, every attached one to a parent with a key, no loops."""
    if not source.inputs:
        return []
    problems = []
    mains = [i for i in source.inputs if i.kind == "main"]
    if len(mains) != 1:
        names = ", ".join(i.name for i in mains) or "none"
        message = f"a source needs exactly one main input (neither attach nor lookup); it has {names}"
        problems.append(doc.problem(("source", "inputs"), message))
    by_name = {i.name: i for i in source.inputs}
    for item in source.inputs:
        if item.kind == "main" and item.optional:
            where = ("source", "inputs", item.name, "optional")
            problems.append(doc.problem(where, "the main input cannot be optional"))
        if item.kind == "main" and (item.valid_from or item.valid_until) and not item.key:
            where = ("source", "inputs", item.name, "valid_from" if item.valid_from else "valid_until")
            message = "an effective-dated main input needs a key: the field its versions of one person share"
            problems.append(doc.problem(where, message))
        if item.early_days and item.kind != "attach":
            where = ("source", "inputs", item.name, "early_days")
            problems.append(
                doc.problem(where, "early_days is for attached inputs (an employment before its first day)")
            )
        if item.kind != "attach" or not mains:
            continue
        parent = by_name.get(item.to or mains[0].name)
        where = ("source", "inputs", item.name, "to" if item.to else "attach")
        if parent is None or parent.kind == "lookup":
            problems.append(doc.problem(where, f"attach to {item.to!r}: not an input records can attach to"))
        elif not parent.key:
            problems.append(doc.problem(where, f"input {parent.name!r} needs a key for {item.name!r} to attach on"))
        elif _loops(item, by_name, mains[0].name):
            problems.append(doc.problem(where, f"input {item.name!r} attaches in a loop"))
    return problems


def _loops(item: Input, by_name: dict[str, Input], main: str) -> bool:
    seen = {item.name}
    while item.kind == "attach":
        parent = by_name.get(item.to or main)
        if parent is None or parent.name in seen:
            return parent is not None
        seen.add(parent.name)
        item = parent
    return False
