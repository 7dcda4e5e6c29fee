"""Effective-dated inputs: a record that names its validity counts only while it is in effect.

Vocabulary: an input with `valid_from` and/or `valid_until` (field paths) holds *versions*: the
records of one person, employment or unit as they were, are, and will be (Visma Raet publishes
an employee as one version per change; SuccessFactors' EmpJob has startDate and endDate). A
version is *in effect* on a day when its from is on or before it and its until on or after it;
an empty date or an open-ended sentinel (9999-12-31) leaves that side open. The *day* is the
run's (`--as-of`, a test case's `today`, else today).

- The main input and lookup inputs keep one version per key: the one in effect (the latest
  begun when versions overlap), else the latest that has ended (the last that was true: whether
  the person still works is the employments' business, not the data's), never one that begins
  later; a key with only future versions waits, named in a note.
- An attached input keeps the versions in effect, `early_days` before their from included (a
  joiner who needs Spend Cloud on day one); an ended or future employment attaches nothing.
A version whose dates cannot be read is kept as if in effect and named: dropping it could
take its person out of Spend Cloud.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from scmapper.mapping import filters
from scmapper.mapping.source import Input
from scmapper.sources.records import Record

_NAMED = 3  # origins a note names before "..."
Window = tuple[date | None, date | None]


def dated(item: Input) -> bool:
    return bool(item.valid_from or item.valid_until)


def window(item: Input, record: Record) -> Window:
    """The record's from and until (None: open); ValueError when one cannot be read as a date."""
    start = filters.to_date(filters.get(record.data, item.valid_from), open_end=False) if item.valid_from else None
    end = filters.to_date(filters.get(record.data, item.valid_until)) if item.valid_until else None
    return start, end


def one_per_key(item: Input, key: str | None, records: list[Record], day: date, notes: list[str]) -> list[Record]:
    """One version for each key (records without a key stay as they are, for the join to name)."""
    by_key: dict[str, list[tuple[Window, Record]]] = {}
    unreadable: dict[str, list[Record]] = {}  # by key: versions whose dates cannot be read
    kept: list[Record] = []
    for record in records:
        value = filters.text(filters.get(record.data, key)) if key else ""
        try:
            span = window(item, record)
        except ValueError:
            unreadable.setdefault(value, []).append(record)
            continue
        if not value:
            kept.append(record)
        else:
            by_key.setdefault(value, []).append((span, record))
    waiting: list[str] = []
    for value, versions in by_key.items():
        chosen = _current(versions, day)
        if chosen is None:
            waiting.append(value)
        else:
            kept.append(chosen)
    used, passed = [], []  # unreadable versions used as in effect; those left for a readable one
    for value, found in unreadable.items():
        if value and value in by_key:
            passed += [r.origin for r in found]
        else:  # the key's only versions: kept (no key: each stands, for the join to name)
            chosen_ones = found if not value else found[-1:]
            kept += chosen_ones
            used += [r.origin for r in chosen_ones]
    note(notes, used, f"{item.name}: {{n}} record(s) with a validity date that is no date, used as in effect")
    note(
        notes,
        passed,
        f"{item.name}: {{n}} record(s) with a validity date that is no date,"
        f" left for a readable version of the same {key}",
    )
    note(notes, waiting, f"{item.name}: {{n}} {key} with versions that begin after {day.isoformat()} only; they wait")
    return kept


def in_effect(item: Input, records: Iterable[Record], day: date, notes: list[str]) -> list[Record]:
    """The versions in effect on day, counted from `early_days` before their from."""
    kept, unreadable = [], []
    early = timedelta(days=item.early_days or 0)
    for record in records:
        try:
            start, end = window(item, record)
        except ValueError:
            unreadable.append(record.origin)
            kept.append(record)
            continue
        if (start is None or start - early <= day) and (end is None or day <= end):
            kept.append(record)
    note(notes, unreadable, f"{item.name}: {{n}} record(s) with a validity date that is no date, used as in effect")
    return kept


def _current(versions: list[tuple[Window, Record]], day: date) -> Record | None:
    effective = [(start or date.min, record) for (start, end), record in versions if _covers(start, end, day)]
    ended = [(end, record) for (start, end), record in versions if end is not None and end < day]
    return _latest(effective) or _latest(ended)


def _latest(pairs: list[tuple[date, Record]]) -> Record | None:
    """The record with the latest date; of equal dates, the last one read."""
    found: tuple[date, Record] | None = None
    for pair in pairs:
        if found is None or pair[0] >= found[0]:
            found = pair
    return found[1] if found else None


def _covers(start: date | None, end: date | None, day: date) -> bool:
    return (start is None or start <= day) and (end is None or day <= end)


def note(notes: list[str], found: list[str], text: str) -> None:
    """A note for `found` origins, if any: `text` with {n} their count, and the first few named."""
    if found:
        shown = ", ".join(found[:_NAMED]) + (", ..." if len(found) > _NAMED else "")
        notes.append(text.format(n=len(found)) + f" ({shown})")
