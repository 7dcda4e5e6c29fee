"""The one path from a mapping file on disk to compiled rules.

read bytes -> YAML with positions -> JSON Schema -> frozen Mapping -> Rules (static
checks). Each stage reports every problem it finds before the next one runs.
"""

from __future__ import annotations

from pathlib import Path

from scmapper import mapping as mapping_mod
from scmapper import schema, yamlio
from scmapper.errors import MappingError, Problem
from scmapper.mapping import Mapping
from scmapper.rules import Rules


def load_mapping(path: str | Path) -> Mapping:
    """A validated Mapping, or MappingError naming every problem as file:line:col."""
    name = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise MappingError([Problem(name, 1, 1, f"cannot read mapping: {exc.strerror}")]) from None
    doc = yamlio.load_bytes(raw, name)
    problems = schema.validate_document(doc)
    if problems:
        raise MappingError(problems)
    return mapping_mod.build(doc, raw)


def load_rules(path: str | Path) -> Rules:
    return Rules(load_mapping(path))
