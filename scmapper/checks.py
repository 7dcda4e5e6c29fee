"""Pure checks on an export before anything is written: preflight, diff and thresholds.

Vocabulary: a *snapshot* is the active persons (key, row) and their roles (owner key,
row) at one moment; the *previous* export is the last one recorded in the database; a
*removal* is a person Spend Cloud would deactivate: a leaver, or a username change
(Spend Cloud keys on username, so the old employee goes and a new one comes).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from scmapper.mapping import Column, Mapping, Threshold

Row = dict[str, str]


@dataclass(frozen=True)
class ThresholdCheck:
    name: str
    removed: int
    base: int
    limit: Threshold
    tripped: bool

    def as_dict(self) -> dict[str, Any]:
        percent = round(100 * self.removed / self.base, 2) if self.base else 0.0
        return {
            "name": self.name,
            "removed": self.removed,
            "of": self.base,
            "percent": percent,
            "limit": {"count": self.limit.count, "percent": self.limit.percent},
            "tripped": self.tripped,
        }

    def describe(self) -> str:
        what = "persons" if self.name == "removed_persons" else "roles"
        limits = " or ".join(
            part
            for part in (
                f"{self.limit.count}" if self.limit.count else "",
                f"{self.limit.percent:g}%" if self.limit.percent else "",
            )
            if part
        )
        share = f"{100 * self.removed / self.base:.1f}%" if self.base else "0%"
        return f"{self.name}: {self.removed} of {self.base} {what} ({share}) would be removed; the limit is {limits}"


# --- preflight -------------------------------------------------------------------------------
# The export's scan (`scan.py`) finds the rows that may fail; these functions judge them.


def checked_columns(
    columns: Sequence[Column], exported: Sequence[str], encoding: str
) -> list[tuple[Column, bool, str | None]]:
    """(column, must be non-empty, encoding to check) for each column worth checking."""
    wanted = set(exported)
    return [
        (c, c.required, encoding if encoding == "cp1252" and c.name in wanted else None)
        for c in columns
        if c.required or c.max_length or c.name in wanted
    ]


def row_problems(who: str, row: Row, checks: list[tuple[Column, bool, str | None]]) -> list[str]:
    problems = []
    for column, required, encoding in checks:
        value = row.get(column.name, "")
        if required and not value.strip():
            problems.append(f"{who}: column {column.name!r} is empty")
        if column.max_length and len(value) > column.max_length:
            problems.append(f"{who}: column {column.name!r} is {len(value)} characters, more than {column.max_length}")
        if encoding:
            bad = next((ch for ch in value if not _encodes(ch, encoding)), None)
            if bad is not None:
                problems.append(
                    f"{who}: column {column.name!r} holds {bad!r} (U+{ord(bad):04X}), which {encoding} cannot hold"
                )
    return problems


def _encodes(char: str, encoding: str) -> bool:
    try:
        char.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


@cache
def outside_cp1252_glob() -> str:
    """A SQLite GLOB pattern matching text that holds a character cp1252 cannot encode (or a NUL)."""
    allowed = sorted(ord(ch) for ch in bytes(range(1, 256)).decode("cp1252", errors="ignore"))
    ranges: list[list[int]] = []
    for point in allowed:
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1][1] = point
        else:
            ranges.append([point, point])
    # The first range starts at U+0001, so no ']' or '^' opens the class.
    return "*[^" + "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in ranges) + "]*"


def duplicates(column: str, holders: Sequence[tuple[str, str]]) -> list[str]:
    """Values of `column` that several persons hold, compared by casefold; (key, value) in key order."""
    groups: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for key, value in holders:
        if value:
            groups[value.casefold()].append((key, value))
    return [
        f"{column} {found[0][1]!r} is used by persons {', '.join(repr(k) for k, _ in found)}"
        for found in groups.values()
        if len(found) > 1
    ]


# --- diff ------------------------------------------------------------------------------------


DIFF_SECTIONS = ("joiners", "leavers", "changed", "usernameChanges", "rolesAdded", "rolesRemoved")


@dataclass
class Diff:
    """What Spend Cloud will see change against the last export. Before the first export
    (`listed` false) every person and role is new: they are counted, not listed."""

    joiners: list[dict[str, str]] = field(default_factory=list)
    leavers: list[dict[str, str]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    username_changes: list[dict[str, str]] = field(default_factory=list)
    roles_added: list[Row] = field(default_factory=list)
    roles_removed: list[Row] = field(default_factory=list)
    listed: bool = True
    totals: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "listed": self.listed,
            "totals": {name: self.totals[name] for name in DIFF_SECTIONS},
            "joiners": self.joiners,
            "leavers": self.leavers,
            "changed": self.changed,
            "usernameChanges": self.username_changes,
            "rolesAdded": self.roles_added,
            "rolesRemoved": self.roles_removed,
        }

    def leaver(self, key: str, username: str) -> None:
        self.totals["leavers"] += 1
        self.leavers.append({"key": key, "username": username})

    def person(self, key: str, before: Row | None, after_text: str, compared: Sequence[str], username: str) -> None:
        """A person whose row may differ from what the last export held (`before`, None for a joiner)."""
        if before is None:
            self.totals["joiners"] += 1
            if self.listed:
                self.joiners.append({"key": key, "username": json.loads(after_text).get(username, "")})
            return
        after = json.loads(after_text)
        fields = {
            c: {"before": before.get(c, ""), "after": after.get(c, "")}
            for c in compared
            if before.get(c, "") != after.get(c, "")
        }
        if fields:
            self.totals["changed"] += 1
            self.changed.append({"key": key, "username": after.get(username, ""), "fields": fields})
        if username in fields:
            self.totals["usernameChanges"] += 1
            self.username_changes.append({"key": key, **fields[username]})

    def roles(self, owner: str, old: list[Row], new: list[Row], columns: Sequence[str]) -> None:
        """An owner whose roles may differ from the last export's: the roles added and removed, as multisets."""
        before = Counter(_role_identity(owner, r, columns) for r in old)
        after = Counter(_role_identity(owner, r, columns) for r in new)
        added, removed = list((after - before).elements()), list((before - after).elements())
        self.totals["rolesAdded"] += len(added)
        self.totals["rolesRemoved"] += len(removed)
        if self.listed:
            self.roles_added += [_role_dict(i, columns) for i in added]
        self.roles_removed += [_role_dict(i, columns) for i in removed]


def _role_identity(owner: str, row: Row, columns: Sequence[str]) -> tuple[str, ...]:
    return (owner, *(row.get(c, "") for c in columns))


def _role_dict(identity: tuple[str, ...], columns: Sequence[str]) -> Row:
    return {"person": identity[0], **dict(zip(columns, identity[1:], strict=True))}


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


def threshold(name: str, limit: Threshold | None, removed: int, base: int) -> ThresholdCheck | None:
    """One mass-removal check: trips at greater-or-equal, count OR percent of base (HelloID's rule)."""
    if limit is None or base == 0:
        return None
    tripped = bool(
        (limit.count is not None and removed >= limit.count)
        or (limit.percent is not None and removed > 0 and 100 * removed / base >= limit.percent)
    )
    return ThresholdCheck(name, removed, base, limit, tripped)
