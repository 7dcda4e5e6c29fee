"""The export's judgements: preflight problems, the diff against the last export, thresholds.

Vocabulary: a *watched* column is one a preflight check looks at (required, a maximum
length, an encoding); the export session flags *suspects* with cheap SQL tests and
`Preflight` judges each exactly. A *problem* refuses the export unless `--force`; a
*blocking* problem refuses it whatever the flags (no persons at all, a value the file's
encoding cannot hold). A *warning* refuses nothing. The *previous* export is the last one
recorded; a *removal* is a person Spend Cloud would deactivate: a leaver, or a username change
(Spend Cloud keys on username, so the old employee goes and a new one comes).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from scmapper.core.diff import Diff, ThresholdCheck, threshold
from scmapper.core.identity import fold
from scmapper.mapping.model import Column, Mapping
from scmapper.store import Batch, ExportSession, Watch

Row = dict[str, str]
EMPTY = "no active persons: an empty persons file would deactivate everyone in Spend Cloud"


# --- preflight -------------------------------------------------------------------------------


def watched(columns: Sequence[Column], exported: Sequence[str], encoding: str, required: Sequence[str]) -> list[Watch]:
    """The columns worth a check: the file's required ones, those with a maximum length, and
    every exported one when the file's encoding is narrower than Unicode."""
    wanted, needed = set(exported), set(required)
    return [
        Watch(c.name, c.name in needed, c.max_length, encoding == "cp1252" and c.name in wanted)
        for c in columns
        if c.name in needed or c.max_length or c.name in wanted
    ]


def row_problems(who: str, row: Row, watch: Sequence[Watch]) -> list[str]:
    """A row's empty required cells and overlong values (--force overrides them)."""
    problems = []
    for item in watch:
        value = row.get(item.column, "")
        if item.required and not value.strip():
            problems.append(f"{who}: column {item.column!r} is empty")
        if item.max_length and len(value) > item.max_length:
            problems.append(f"{who}: column {item.column!r} is {len(value)} characters, more than {item.max_length}")
    return problems


def encoding_problems(who: str, row: Row, watch: Sequence[Watch]) -> list[str]:
    """A row's characters the file's encoding cannot hold: no flag can write those."""
    problems = []
    for item in watch:
        bad = next((ch for ch in row.get(item.column, "") if not _encodes(ch, "cp1252")), None) if item.cp1252 else None
        if bad is not None:
            problems.append(f"{who}: column {item.column!r} holds {bad!r} (U+{ord(bad):04X}), which cp1252 cannot hold")
    return problems


def _encodes(char: str, encoding: str) -> bool:
    try:
        char.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


def duplicates(column: str, holders: Sequence[tuple[str, str]]) -> list[str]:
    """Values of `column` that several persons hold, compared folded (identity.fold: NFC,
    case-folded, trimmed); (key, value) in key order."""
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for key, value in holders:
        if fold(value):
            groups[fold(value)].append((key, value))
    return [
        f"{column} {found[0][1]!r} is used by persons {', '.join(repr(k) for k, _ in found)}"
        for found in groups.values()
        if len(found) > 1
    ]


class Preflight:
    """Every reason not to write an export's files, gathered as its rows go by. A row that fails
    a check names its person in `failing` (account reference -> reasons): the export may hold
    them back (`skip` them on its second pass) rather than refuse everyone."""

    def __init__(self, mapping: Mapping, session: ExportSession, skip: frozenset[str] = frozenset()) -> None:
        export = mapping.export
        assert export is not None
        self.session, self.key, self.username = session, mapping.key, mapping.username or ""
        people = export.persons
        self.persons = watched(mapping.columns, people.columns, people.encoding, people.required)
        roles = export.roles
        role_columns = mapping.roles.columns if mapping.roles else ()
        self.roles = watched(role_columns, roles.columns, roles.encoding, roles.required) if roles else []
        self.owner = self.username if self.username in mapping.role_column_names else None
        self.counts = dict.fromkeys(("persons", "roles"), 0)
        self._rows: list[str] = []
        self._roles: list[str] = []
        self._unwritable: list[str] = []
        self.failing: dict[str, list[str]] = {}
        self.skip = skip
        identity = list(dict.fromkeys(c for c in (mapping.username, *mapping.unique) if c))
        self._duplicates = [found for column in identity for found in duplicates(column, session.holders(column))]
        self.warnings = [found for column in identity for found in inactive_twins(column, session, self.username)]

    def judged(self, kind: str, batches: Iterable[Batch]) -> Iterator[Any]:
        """A file's rows from the session's batches (a batch of finished lines as one piece of
        text), counted, each batch's suspects judged before its rows go on."""
        for batch in batches:
            for suspect in batch.suspects:
                if kind == "persons":
                    if suspect not in self.skip:  # held: the rows written are what Spend Cloud has
                        self.person(suspect)
                elif suspect[0] not in self.skip:
                    self.role(*suspect)
            self.counts[kind] += len(batch.rows)
            if batch.lines:
                yield "".join(batch.rows)
            else:
                yield from batch.rows

    def person(self, ref: str) -> None:
        """Judges a suspect person."""
        stored = self.session.person(ref)
        self._judge(ref, self._rows, f"person {stored.row[self.key]!r}", stored.row, self.persons)

    def _judge(self, ref: str, found: list[str], who: str, row: Row, watch: Sequence[Watch]) -> None:
        unwritable = encoding_problems(who, row, watch)
        problems = row_problems(who, row, watch) + unwritable
        found += problems
        self._unwritable += unwritable
        if problems:
            self.failing.setdefault(ref, []).extend(problems)

    def role(self, ref: str, seq: int) -> None:
        """Judges a suspect role: its cells, and whether its username belongs to an exported person."""
        stored = self.session.person(ref)
        row = stored.roles[seq]  # a person's roles are numbered from 0 in order
        who = f"role of person {stored.row[self.key]!r}"
        self._judge(ref, self._roles, who, row, self.roles)
        if self.owner and not self.session.active_holder(self.owner, row[self.owner]):
            problem = f"{who}: {self.owner} {row[self.owner]!r} belongs to no exported person"
            self._roles.append(problem)
            self.failing.setdefault(ref, []).append(problem)

    def problems(self) -> list[str]:
        """Everything found, once the rows have gone by."""
        return ([] if self.counts["persons"] else [EMPTY]) + self._rows + self._duplicates + self._roles

    def blocking(self) -> list[str]:
        """The problems no flag overrides: an empty persons file, values the encoding cannot hold."""
        return ([] if self.counts["persons"] else [EMPTY]) + self._unwritable


def inactive_twins(column: str, session: ExportSession, username: str) -> list[str]:
    """Warnings for active persons whose value an inactive person in the store holds too:
    Spend Cloud keeps inactive users, refuses an e-mail any user has, and keys on username."""
    found = []
    for key, value, other in session.inactive_twins(column):
        why = (
            "Spend Cloud keys employees on it and may take this person for that deactivated employee"
            if column == username
            else "Spend Cloud refuses a value that any of its users has, inactive ones included"
        )
        found.append(f"person {key!r}: {column} {value!r} is also held by inactive person {other!r}: {why}")
    return found


# --- diff ------------------------------------------------------------------------------------


def diff(mapping: Mapping, session: ExportSession, persons: int, roles: int) -> Diff:
    """The diff against the last export, from the change log; `persons` and `roles` are the
    counts just exported (the first export counts them all as new, without a list)."""
    found = Diff(listed=session.last is not None)
    if not found.listed:
        found.totals["joiners"], found.totals["rolesAdded"] = persons, roles
        return found
    export = mapping.export
    assert export is not None
    username = mapping.username or ""
    compared = list(dict.fromkeys([*export.persons.columns, *([username] if username else [])]))
    role_columns = export.roles.columns if export.roles else None
    for key, old, old_roles, now, now_roles in session.changes():
        if old is None and now is None:
            continue
        if now is None:
            found.leaver(key, json.loads(old or "{}").get(username, ""))
        else:
            found.person(key, json.loads(old) if old else None, now, compared, username)
        if role_columns is not None:
            found.roles(key, json.loads(old_roles or "[]"), json.loads(now_roles or "[]"), role_columns)
    return found


# --- thresholds ------------------------------------------------------------------------------


def thresholds(mapping: Mapping, found: Diff, previous_persons: int, previous_roles: int) -> list[ThresholdCheck]:
    """Mass-removal checks against the previous export; none before the first export."""
    export = mapping.export
    assert export is not None
    removed_persons = found.totals["leavers"] + found.totals["usernameChanges"]
    found_checks = (
        threshold("removed_persons", export.removed_persons, removed_persons, previous_persons),
        threshold("removed_roles", export.removed_roles, found.totals["rolesRemoved"], previous_roles),
    )
    return [check for check in found_checks if check is not None]
