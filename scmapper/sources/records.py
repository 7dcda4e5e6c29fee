"""Reading source snapshots: the records an HR system or directory exports.

Vocabulary: a *record* is one JSON object as the source system writes it; a source
file holds them as a JSON array, JSON lines, or inside the system's own *envelope*
(OData `{"d": {"results": [...]}}`, Graph `{"value": [...]}`, AFAS `{"rows": [...]}`,
ADP `{"workers": [...]}`); `records` names the envelope's path when it is not one of
these. With `group_by`, records sharing a field merge into one person that carries them
all as `rows`. A source of several inputs reads each input's files here and joins them
in `inputs.py`.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from scmapper import jsontext
from scmapper.core import fields
from scmapper.errors import DataError, UsageError

ENVELOPES = (("d", "results"), ("value",), ("rows",), ("workers",), ("results",), ("data",), ("d",))


class SourceError(UsageError):
    """A source file cannot be read as records (not JSON, no record list, not objects)."""


class RecordError(DataError):
    """One line of a JSON-lines file is not a record: that record fails, the others go on."""


@dataclass(frozen=True)
class Record:
    """One person's record, and where it came from (for messages)."""

    data: dict[str, Any]
    origin: str  # "file.json#3"


# A file's declared encoding by its path (None, or a path not in it: UTF-8 unless a BOM says).
Encodings = Mapping[Path, str] | None


class Line:
    """One record of a JSON-lines file as read, its bytes: decoded and parsed only when
    something needs its fields (sync skips records whose bytes it has seen before)."""

    def __init__(self, raw: bytes, path: Path, number: int, index: int) -> None:
        self.raw, self._path, self._number, self._index = raw, path, number, index

    @property
    def origin(self) -> str:
        return f"{self._path.name}#{self._index}"

    @cached_property
    def data(self) -> dict[str, Any]:
        """The record; RecordError (that record's failure, not the run's) when it is none."""
        where = f"{self._path.name}:{self._number}"
        try:
            item = jsontext.loads(self.raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise RecordError(f"{where} is not valid UTF-8 (byte {exc.start} of the line)") from None
        except jsontext.JsonError as exc:
            raise RecordError(f"{where} {exc}") from None
        if not isinstance(item, dict):
            raise RecordError(f"{where} is not a JSON object")
        return item


def stream_files(
    paths: Iterable[Path], records: str | None = None, group_by: str | None = None, encodings: Encodings = None
) -> Iterator[Record | Line]:
    """Records one at a time where the file allows it (JSON lines in UTF-8, no grouping): the
    memory a snapshot of any size needs stays that of one record. Other files are read whole."""
    if group_by:
        yield from read_files(paths, records, group_by, encodings)
        return
    for path in paths:
        encoding = (encodings or {}).get(path)
        if _is_json_lines(path) and not records and encoding in (None, "utf-8"):
            yield from _lines(path)
        else:
            yield from read_file(path, records, encoding)


def _is_json_lines(path: Path) -> bool:
    """Its first line is a whole JSON object and another line follows."""
    try:
        with path.open("rb") as handle:  # bytes: only these two lines are decoded, not a block
            lines = (line for line in handle if line.strip())
            first, second = next(lines, b""), next(lines, b"")
    except OSError:
        return False  # read_file says what is wrong
    try:
        return isinstance(json.loads(first.decode("utf-8-sig")), dict) and bool(second)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return False


def _lines(path: Path) -> Iterator[Line]:
    try:
        with path.open("rb") as handle:
            index = 0
            for number, raw in enumerate(handle, start=1):
                raw = raw.strip()  # JSON allows only ASCII whitespace around a value
                if number == 1 and raw.startswith(codecs.BOM_UTF8):
                    raw = raw[len(codecs.BOM_UTF8) :].strip()
                if raw:
                    index += 1
                    yield Line(raw, path, number, index)
    except OSError as exc:
        raise SourceError(f"cannot read source {path}: {exc.strerror}") from None


def read_files(
    paths: Iterable[Path], records: str | None = None, group_by: str | None = None, encodings: Encodings = None
) -> list[Record]:
    """Every record of the files in order (pages of one export concatenate), grouped on request."""
    found: list[Record] = []
    for path in paths:
        found += read_file(path, records, (encodings or {}).get(path))
    return group(found, group_by) if group_by else found


def read_file(path: Path, records: str | None = None, encoding: str | None = None) -> list[Record]:
    text = jsontext.read_text(path, SourceError, "source", encoding)
    items = _records(_parse(text, path), records, path)
    result = []
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise SourceError(f"{path}: record {index} is not a JSON object")
        result.append(Record(item, f"{path.name}#{index}"))
    return result


def records_from(items: list[Any], group_by: str | None = None, name: str = "input") -> list[Record]:
    """Records given as a list (a test case's input), grouped as the mapping says."""
    records = [Record(item, f"{name}#{i}") for i, item in enumerate(items, start=1) if isinstance(item, dict)]
    return group(records, group_by) if group_by else records


def _parse(text: str, path: Path) -> Any:
    """A whole file: one JSON document, or JSON lines read whole (grouping needs them all)."""
    try:
        return jsontext.loads(text)
    except jsontext.JsonError as whole:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) < 2 or not _one_value(lines[0]):  # one document spread over lines: say its error
            raise SourceError(f"{path} {whole}") from None
    items = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(jsontext.loads(line))
        except jsontext.JsonError as exc:
            raise SourceError(f"{path}:{number} {exc}") from None
    return items


def _one_value(line: str) -> bool:
    """Whether a line is a JSON value on its own (the first line of JSON lines is)."""
    try:
        jsontext.loads(line)
    except jsontext.JsonError:
        return False
    return True


def records_in(data: Any, records: str | None, path: Path) -> list[Any]:
    """The list of records in a parsed file (the list object itself): at `records`, else the
    document when it is a list, else the first known envelope's."""
    return _records(data, records, path)


def _records(data: Any, records: str | None, path: Path) -> list[Any]:
    if records:
        found = _walk(data, tuple(records.split(".")))
        if isinstance(found, dict):  # one entity, as OData answers for a single key: Picklist('ecEmailType')
            return [found]
        if not isinstance(found, list):
            raise SourceError(f"{path}: records {records!r} does not lead to a list of records or one record")
        return found
    if isinstance(data, list):
        return data
    for envelope in ENVELOPES:
        found = _walk(data, envelope)
        if isinstance(found, list):
            return found
    raise SourceError(f"{path}: no list of records found; name its path with records (e.g. d.results)")


def _walk(data: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def group(records: list[Record], field: str) -> list[Record]:
    """Records sharing `field` become one person: the first record's fields plus `rows`."""
    grouped: dict[str, list[Record]] = {}
    alone: list[Record] = []
    for record in records:
        value = fields.field(record.data, field)
        if value in (None, ""):
            alone.append(record)  # no value to group on: it stands (and likely fails) alone
        else:
            grouped.setdefault(str(value), []).append(record)
    merged = [
        Record({**members[0].data, "rows": [m.data for m in members]}, members[0].origin)
        for members in grouped.values()
    ]
    return merged + [Record({**r.data, "rows": [r.data]}, r.origin) for r in alone]
