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

MAX_EXTENDS = 4


def load_mapping(path: str | Path) -> Mapping:
    """A validated Mapping, or MappingError naming every problem as file:line:col."""
    doc, raw = _load_chain(Path(path), [])
    problems = schema.validate_document(doc)
    if problems:
        raise MappingError(problems)
    return mapping_mod.build(doc, raw)


def _load_chain(path: Path, seen: list[Path]) -> tuple[yamlio.Document, bytes]:
    """A mapping file with the base files it `extends` merged under it, and all their bytes."""
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MappingError([Problem(name, 1, 1, f"cannot read mapping: {exc.strerror}")]) from None
    doc = yamlio.load_bytes(raw, name)
    base_name = doc.data.get("extends") if isinstance(doc.data, dict) else None
    if not isinstance(base_name, str):
        return doc, raw
    base_path = path.parent / base_name
    if not base_path.is_file():
        raise MappingError([doc.problem(("extends",), f"extends {base_name!r}: no such file {base_path}")])
    if base_path.resolve() in [p.resolve() for p in (*seen, path)] or len(seen) >= MAX_EXTENDS:
        raise MappingError(
            [doc.problem(("extends",), f"extends {base_name!r} makes a loop or a chain deeper than {MAX_EXTENDS}")]
        )
    base, base_raw = _load_chain(base_path, [*seen, path])
    merged = base.extended_by(doc)
    merged.data.pop("extends", None)
    return merged, base_raw + b"\0" + raw


def load_rules(path: str | Path) -> Rules:
    return Rules(load_mapping(path))
