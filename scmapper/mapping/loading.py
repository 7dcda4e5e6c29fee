"""The one path from a mapping file on disk to compiled rules.

read bytes -> YAML with positions -> JSON Schema -> frozen Mapping -> Rules (static
checks). Each stage reports every problem it finds before the next one runs. A mapping
that passed all of them before, unchanged since, comes from `cache` instead: the per-event
`apply` then imports neither the YAML parser nor JSON Schema.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from scmapper.errors import MappingError, Problem
from scmapper.mapping import cache
from scmapper.mapping import model as mapping_mod
from scmapper.mapping.document import Document
from scmapper.mapping.model import Mapping
from scmapper.mapping.program import INTERPRETED, evaluation
from scmapper.mapping.rules import Rules
from scmapper.mapping.trust import OutsideRoot, Root

MAX_EXTENDS = 4


def load_mapping(path: str | Path, root: str | Path | None = None) -> Mapping:
    """A validated Mapping, or MappingError naming every problem as file:line:col. `root`:
    the folder the mapping may read from (--root), by default SCMAPPER_ROOT or its own folder."""
    trusted = Root.of(path, root)
    doc, files = _validated(Path(path), trusted)
    mapping = mapping_mod.build(doc, _joined(files), trusted)
    return replace(mapping, bases=tuple(str(base) for base, _ in files[:-1]))


def resolved_data(path: str | Path, root: str | Path | None = None) -> dict[str, Any]:
    """A mapping's data with every base it extends merged under it, as plain data."""
    data = _validated(Path(path), Root.of(path, root))[0].data
    assert isinstance(data, dict)  # the schema says a mapping is an object
    return data


def load_rules(path: str | Path, root: str | Path | None = None) -> Rules:
    """Compiled rules for a mapping, from the cache when the mapping is unchanged."""
    path = Path(path)
    trusted = Root.of(path, root)
    hit = cache.lookup(path, trusted.folder)
    if hit is not None:
        data, files = hit
        try:
            return _built(path, trusted, Document(str(path), data), files, checked=True)
        except Exception:  # noqa: BLE001, S110 - an entry someone edited is a miss, never a crash
            pass
    doc, files = _validated(path, trusted)
    rules = _built(path, trusted, doc, files, checked=False)
    cache.store(path, trusted.folder, doc.data, files)
    return rules


def _built(path: Path, root: Root, doc: Document, files: cache.Files, *, checked: bool) -> Rules:
    """The rules, with the code kept for them (when checked, so from the cache) or compiled
    now and kept: the program, and the Jinja code of the pieces it leaves to Jinja. A mapping
    that compiled whole, from the cache, imports no Jinja."""
    raw = _joined(files)  # the kept code is that of these very files, bases included
    kept = cache.lookup_code(path, root.folder, raw) if checked else cache.Kept()
    mapping = mapping_mod.build(doc, _joined(files), root)
    if not checked:  # the static checks first: the compiler only sees a mapping that passed them
        from scmapper.mapping.static import static_problems

        problems = static_problems(mapping)
        if problems:
            raise MappingError(problems)
        checked = True
    compiled = evaluation() != INTERPRETED
    ready = kept.program() if compiled else None
    fresh = compiled and ready is None
    if fresh:
        from scmapper.mapping.compiler import compile_mapping

        ready = compile_mapping(mapping)
    if ready is not None and not ready.fallbacks:
        rules = Rules(mapping, checked=checked, program=ready)
        if fresh:
            cache.store_code(path, root.folder, raw, ready, {})
        return rules
    from scmapper.mapping.sandbox import CODES

    with CODES.recording(kept.jinja()) as codes:
        rules = Rules(mapping, checked=checked, program=ready)
    if fresh or codes.missed:
        cache.store_code(path, root.folder, raw, ready or kept.program(), codes.used)
    return rules


def _validated(path: Path, root: Root) -> tuple[Document, cache.Files]:
    from scmapper.mapping import schema

    doc, files = _load_chain(path, root, [])
    problems = schema.validate_document(doc)
    if problems:
        raise MappingError(problems)
    return doc, files


def _joined(files: cache.Files) -> bytes:
    return b"\0".join(raw for _, raw in files)


def _load_chain(path: Path, root: Root, seen: list[Path]) -> tuple[Document, cache.Files]:
    """A mapping file with the base files it `extends` merged under it, and every file's bytes;
    a base must lie inside the root and be a mapping file (a `version` key), or nothing of it
    is shown."""
    from scmapper.mapping import yamlio

    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MappingError([Problem(name, 1, 1, f"cannot read mapping: {exc.strerror}")]) from None
    doc = yamlio.load_bytes(raw, name)
    base_name = doc.data.get("extends") if isinstance(doc.data, dict) else None
    if not isinstance(base_name, str):
        return doc, [(path, raw)]
    try:
        base_path = root.resolve(base_name, path.parent, "extends")
    except OutsideRoot as exc:
        raise MappingError([doc.problem(("extends",), str(exc))]) from None
    if not base_path.is_file():
        raise MappingError([doc.problem(("extends",), f"extends {base_name!r}: no such file {base_path}")])
    if base_path.resolve() in [p.resolve() for p in (*seen, path)] or len(seen) >= MAX_EXTENDS:
        raise MappingError(
            [doc.problem(("extends",), f"extends {base_name!r} makes a loop or a chain deeper than {MAX_EXTENDS}")]
        )
    base, base_files = _base(base_path, base_name, doc, root, [*seen, path])
    misspelt = _near_misses(base, doc, base_name)
    if misspelt:
        raise MappingError(misspelt)
    merged = base.extended_by(doc)
    merged.data.pop("extends", None)
    return merged, [*base_files, (path, raw)]


_SECTIONS = ((("vars",), "vars", "var"), (("lookups",), "lookups", "lookup"), (("source", "inputs"), "inputs", "input"))


def _near_misses(base: Document, child: Document, name: str) -> list[Problem]:
    """A var, lookup or input the child adds whose name is close to one the base has: taken for
    a misspelling (the base's rule would silently stay), unless the child's `adds` names it."""
    from scmapper.core.suggest import closest

    adds = child.data.get("adds") if isinstance(child.data, dict) else None
    found = []
    for path, section, noun in _SECTIONS:
        mine, theirs = _names(child.data, path), _names(base.data, path)
        declared = set((adds or {}).get(section) or [])
        for key in sorted(mine - theirs - declared):
            near = closest(key, theirs)
            if near is not None:
                found.append(
                    child.problem(
                        (*path, key),
                        f"{noun} {key!r} is not in {name}, which has {near!r}: did you mean {near!r}? A new"
                        f" {noun} on purpose is named in adds.{section}",
                        key=True,
                    )
                )
    return found


def _names(data: Any, path: tuple[str, ...]) -> set[str]:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return set(data) if isinstance(data, dict) else set()


def _base(path: Path, name: str, child: Document, root: Root, seen: list[Path]) -> tuple[Document, cache.Files]:
    """A base file, loaded as a mapping; a file that is not one is refused without quoting it."""
    try:
        base, files = _load_chain(path, root, seen)
    except MappingError as exc:
        if any(problem.file == str(path) for problem in exc.problems) and not _looks_like_mapping(path):
            raise MappingError(
                [child.problem(("extends",), f"extends {name!r}: {path} is not a mapping file")]
            ) from None
        raise MappingError([_via(child, name, problem) for problem in exc.problems]) from None
    if not isinstance(base.data, dict) or "version" not in base.data:
        raise MappingError(
            [child.problem(("extends",), f"extends {name!r}: {path} is not a mapping file (no version key)")]
        )
    return base, files


def _looks_like_mapping(path: Path) -> bool:
    """Whether a file that failed to load at least starts like a mapping (a `version:` line)."""
    try:
        head = path.read_bytes()[:4096].decode("utf-8-sig", "replace")
    except OSError:
        return False
    return any(line.startswith("version:") for line in head.splitlines())


def _via(child: Document, name: str, problem: Problem) -> Problem:
    """A problem found while loading a base, reported in the file that extends it, at its
    `extends` line, with the base's own place after it (as for the base's merged values)."""
    line, col = child.position(("extends",))
    inner = _VIA.search(problem.message)
    if inner:  # found further down the chain: one more hop in front
        message = f"{problem.message[: inner.start()]} (via extends at line {line}: {name}, whose {inner.group(1)})"
    else:
        message = f"{problem.message} (via extends at line {line}: {name}:{problem.line}:{problem.col})"
    return Problem(child.file, line, col, message, problem.severity)


_VIA = re.compile(r" \(via (extends at line \d+: .*)\)$")
