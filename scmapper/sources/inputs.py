"""A source of several inputs: which file belongs to which input, and the join that makes
one record per person.

Vocabulary: an *input* (mapping_source.Input) is one endpoint or connector of the source system,
in one file or several pages. A *snapshot* is what sync maps: the main input's records,
each carrying the records attached to it in named lists; the lookup inputs as *tables*
(`inputs.NAME[id]` in expressions); *notes* on records that joined nothing; and a
*digest* of the tables, part of every record's fingerprint since a changed table can
change any person's rows. Join fields are compared as text, so `10001` matches "10001".
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from scmapper.core.values import check_record
from scmapper.errors import DataError, UsageError
from scmapper.mapping import day as run_day
from scmapper.mapping import filters
from scmapper.mapping.absence import Table
from scmapper.mapping.source import Input, Source
from scmapper.sources import versions
from scmapper.sources.records import Line, Record, read_files, records_from, stream_files

# A file named after its input: users.json, or users.2.json for the second page.
_PAGE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:\.\d+)?$")
LOOKUP_VALUE_LENGTH = 65_536  # the longest text a lookup record may hold (as a person record's default)


@dataclass(frozen=True)
class Snapshot:
    records: Iterable[Record | Line]
    tables: dict[str, Table] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    digest: str = ""


def assign(source: Source, args: Sequence[str]) -> dict[str, list[Path]]:
    """Files by input name, from `NAME=FILE`, or a bare FILE named after its input (NAME.json,
    NAME.2.json), or any bare FILE when the main input is the only one sync needs."""
    files: dict[str, list[Path]] = {i.name: [] for i in source.inputs} or {source.main.name: []}
    required = [i.name for i in source.inputs if not i.optional] or [source.main.name]
    for arg in expanded(args):
        name, sep, rest = arg.partition("=")
        if sep and name in files:
            files[name].append(Path(rest))
        elif sep and source.inputs and _PAGE.match(name):
            raise UsageError(f"--source {arg}: the mapping has no input {name!r} (inputs: {', '.join(files)})")
        elif (named := input_of(Path(arg), files)) is not None:
            files[named].append(Path(arg))
        elif len(required) == 1:
            files[required[0]].append(Path(arg))
        else:
            raise UsageError(
                f"--source {arg}: which input is it? Name it, as --source NAME={arg} (inputs: {', '.join(files)})"
            )
    missing = [name for name in required if not files[name]]
    if missing:
        raise UsageError(f"no file for input {', '.join(missing)}: give it as --source {missing[0]}=FILE")
    return files


def expanded(args: Sequence[str]) -> list[str]:
    """The --source arguments with their wildcards expanded, as a POSIX shell would have done
    (Windows PowerShell and cmd pass `export/*.json` on as it is): `NAME=export/*.json` gives one
    `NAME=FILE` per match, in name order. A pattern that matches nothing is a UsageError saying so."""
    found = []
    for arg in args:
        name, sep, rest = arg.partition("=")
        pattern = rest if sep and _PAGE.match(name) else arg
        prefix = f"{name}=" if pattern is rest else ""
        if not _WILDCARD.search(pattern) or Path(pattern).exists():
            found.append(arg)
            continue
        folder, glob = Path(pattern).parent, Path(pattern).name
        matches = sorted(str(p) for p in folder.glob(glob) if p.is_file()) if folder.is_dir() else []
        if not matches:
            raise UsageError(f"--source {arg}: no file matches {pattern} (in {folder.resolve()})")
        found += [prefix + match for match in matches]
    return found


_WILDCARD = re.compile(r"[*?\[]")


def input_of(path: Path, names: Iterable[str]) -> str | None:
    """The input a file is named after (users.json, users.2.json), if any."""
    stem = path.name.removesuffix(".json").removesuffix(".jsonl") if path.suffix in (".json", ".jsonl") else ""
    match = _PAGE.match(stem)
    return match.group("name") if match and match.group("name") in set(names) else None


def read(
    source: Source,
    files: Mapping[str, Sequence[Path]],
    encodings: Mapping[Path, str] | None = None,
    day: date | None = None,
) -> Snapshot:
    """The snapshot the files give on `day` (effective-dated inputs keep the versions in effect
    then; default today). A main input nothing attaches to and that has no versions is streamed
    (JSON lines one record at a time); everything else is read whole, as a join needs it. Each
    file is read in the encoding given with it (`encodings`), else its input's, else UTF-8 (a
    BOM always says)."""
    declared = _encodings(source, files, encodings or {})
    main = source.main
    if not source.inputs:
        return Snapshot(stream_files(files[main.name], source.records, source.group_by, declared))
    loaded = {
        i.name: read_files(files.get(i.name, ()), i.records, None, declared) for i in source.inputs if i is not main
    }
    if source.children(main) or versions.dated(main):
        return join(source, read_files(files[main.name], main.records, None, declared), loaded, day)
    return join(source, stream_files(files[main.name], main.records, None, declared), loaded, day)


def _encodings(source: Source, files: Mapping[str, Sequence[Path]], given: Mapping[Path, str]) -> dict[Path, str]:
    by_input = {i.name: i.encoding for i in source.inputs} or {source.main.name: source.encoding}
    found = {}
    for name, paths in files.items():
        for path in paths:
            encoding = given.get(path) or by_input.get(name)
            if encoding:
                found[path] = encoding
    return found


# A file given with its encoding: --source NAME=FILE:cp1252 (the suffix only when it names one).
_ENCODED = re.compile(
    r"^(?P<file>.+):(?P<encoding>cp1252|windows-1252|utf-8|utf-8-sig|utf-16|utf-16-le|utf-16-be|latin-1"
    r"|iso-8859-1|iso-8859-15)$",
    re.IGNORECASE,
)


def with_encodings(args: Sequence[str]) -> tuple[list[str], dict[Path, str]]:
    """The --source arguments without their encoding suffixes, and each file's encoding."""
    plain, encodings = [], {}
    for arg in args:
        match = _ENCODED.match(arg)
        if match is None:
            plain.append(arg)
            continue
        plain.append(match.group("file"))
        encodings[Path(match.group("file").partition("=")[2] or match.group("file"))] = match.group("encoding").lower()
    return plain, encodings


def from_items(
    source: Source, items: Mapping[str, list[Any]], name: str = "case", day: date | None = None
) -> Snapshot:
    """The snapshot records given as lists (a test case's inputs) make on `day`."""
    loaded = {n: records_from(list(records), name=f"{name}.{n}") for n, records in items.items()}
    main = loaded.pop(source.main.name, [])
    return join(source, main, loaded, day)


def join(
    source: Source, main: Iterable[Record | Line], others: Mapping[str, list[Record]], day: date | None = None
) -> Snapshot:
    notes: list[str] = []
    on = day or run_day.today()
    others = {name: _versions(source.named(name), records, on, notes) for name, records in others.items()}
    if versions.dated(source.main):
        whole = [r if isinstance(r, Record) else Record(r.data, r.origin) for r in main]
        main = versions.one_per_key(source.main, source.main.key, whole, on, notes)
    tables = {i.name: _table(i, others.get(i.name, []), notes) for i in source.lookups}
    if source.children(source.main):
        whole = [r if isinstance(r, Record) else Record(r.data, r.origin) for r in main]
        main = _attach(source, source.main, whole, others, notes)
    return Snapshot(main, tables, tuple(notes), _digest(tables))


def _versions(item: Input | None, records: list[Record], day: date, notes: list[str]) -> list[Record]:
    """An input's records as in effect on day: one version per lookup key, or the attached ones in effect."""
    if item is None or not versions.dated(item):
        return records
    if item.kind == "lookup":
        return versions.one_per_key(item, item.lookup, records, day, notes)
    return versions.in_effect(item, records, day, notes)


def _attach(
    source: Source, parent: Input, records: list[Record], others: Mapping[str, list[Record]], notes: list[str]
) -> list[Record]:
    """Parent records with each child input's records in their lists (grandchildren first)."""
    children = source.children(parent)
    if not children:
        return records
    keys = [_text(r.data, parent.key) for r in records]
    groups = {
        str(child.attach): _group(child, _attach(source, child, others.get(child.name, []), others, notes))
        for child in children
    }
    known = {key for key in keys if key}  # a record without a key takes nothing, not even keyless ones
    for child, grouped in zip(children, groups.values(), strict=True):
        alone = [origin for key, members in grouped.items() if key not in known for origin, _ in members]
        versions.note(notes, alone, f"{child.name}: {{n}} record(s) attach to no {parent.name} record on {child.on}")
    joined = []
    for record, key in zip(records, keys, strict=True):
        lists = {name: [data for _, data in grouped.get(key, [])] if key else [] for name, grouped in groups.items()}
        joined.append(Record({**record.data, **lists}, record.origin))
    return joined


def _group(child: Input, records: list[Record]) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    grouped: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for record in records:
        grouped.setdefault(_text(record.data, child.on), []).append((record.origin, record.data))
    return grouped


def _table(item: Input, records: list[Record], notes: list[str]) -> Table:
    """A lookup input by its field. A record that fails the one check of every value (a control
    or invisible character, a runaway text) is left out of the table and named: it could forge
    a role, or reach a file or the terminal, through every person that looks it up."""
    found: dict[str, dict[str, Any]] = {}
    repeated = 0
    for record in records:
        try:
            check_record(record.data, LOOKUP_VALUE_LENGTH, f"{item.name} {record.origin}", "record")
        except DataError as exc:
            notes.append(f"lookup input {exc}; left out of the table")
            continue
        key = _text(record.data, item.lookup)
        if key in found:
            repeated += 1
        elif key:
            found[key] = record.data
    if repeated:
        notes.append(f"{item.name}: {repeated} record(s) repeat a {item.lookup} seen before; the first one is used")
    return Table(item.name, found)


def _text(data: dict[str, Any], path: str | None) -> str:
    return filters.text(filters.get(data, path)) if path else ""


def _digest(tables: Mapping[str, Table]) -> str:
    if not tables:
        return ""
    content = {name: dict(table) for name, table in tables.items()}
    return hashlib.blake2b(json.dumps(content, sort_keys=True, default=str).encode(), digest_size=16).hexdigest()
