"""The one path from a mapping file on disk to compiled rules.

read bytes -> YAML with positions -> JSON Schema -> frozen Mapping -> Rules (static
checks). Each stage reports every problem it finds before the next one runs. A mapping
that passed all of them before, unchanged since, comes from `cache` instead: the per-event
`apply` then imports neither the YAML parser nor JSON Schema.
"""

from __future__ import annotations

from pathlib import Path

from scmapper import cache
from scmapper import mapping as mapping_mod
from scmapper.document import Document
from scmapper.errors import MappingError, Problem
from scmapper.mapping import Mapping
from scmapper.rules import Rules

MAX_EXTENDS = 4


def load_mapping(path: str | Path) -> Mapping:
    """A validated Mapping, or MappingError naming every problem as file:line:col."""
    doc, files = _validated(Path(path))
    return mapping_mod.build(doc, _joined(files))


def load_rules(path: str | Path) -> Rules:
    """Compiled rules for a mapping, from the cache when the mapping is unchanged."""
    path = Path(path)
    hit = cache.lookup(path)
    if hit is not None:
        data, files = hit
        try:
            return Rules(mapping_mod.build(Document(str(path), data), _joined(files)), checked=True)
        except Exception:  # noqa: BLE001, S110 - an entry someone edited is a miss, never a crash
            pass
    doc, files = _validated(path)
    rules = Rules(mapping_mod.build(doc, _joined(files)))
    cache.store(path, doc.data, files)
    return rules


def _validated(path: Path) -> tuple[Document, cache.Files]:
    from scmapper import schema  # JSON Schema is heavy: only a first load pays for it

    doc, files = _load_chain(path, [])
    problems = schema.validate_document(doc)
    if problems:
        raise MappingError(problems)
    return doc, files


def _joined(files: cache.Files) -> bytes:
    return b"\0".join(raw for _, raw in files)


def _load_chain(path: Path, seen: list[Path]) -> tuple[Document, cache.Files]:
    """A mapping file with the base files it `extends` merged under it, and every file's bytes."""
    from scmapper import yamlio

    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MappingError([Problem(name, 1, 1, f"cannot read mapping: {exc.strerror}")]) from None
    doc = yamlio.load_bytes(raw, name)
    base_name = doc.data.get("extends") if isinstance(doc.data, dict) else None
    if not isinstance(base_name, str):
        return doc, [(path, raw)]
    base_path = path.parent / base_name
    if not base_path.is_file():
        raise MappingError([doc.problem(("extends",), f"extends {base_name!r}: no such file {base_path}")])
    if base_path.resolve() in [p.resolve() for p in (*seen, path)] or len(seen) >= MAX_EXTENDS:
        raise MappingError(
            [doc.problem(("extends",), f"extends {base_name!r} makes a loop or a chain deeper than {MAX_EXTENDS}")]
        )
    base, base_files = _load_chain(base_path, [*seen, path])
    merged = base.extended_by(doc)
    merged.data.pop("extends", None)
    return merged, [*base_files, (path, raw)]
