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
from typing import Any

from scmapper.mapping import Column, Mapping, Threshold

Row = dict[str, str]
Keyed = Sequence[tuple[str, Row]]


@dataclass
class Diff:
    joiners: list[dict[str, str]] = field(default_factory=list)
    leavers: list[dict[str, str]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    username_changes: list[dict[str, str]] = field(default_factory=list)
    roles_added: list[Row] = field(default_factory=list)
    roles_removed: list[Row] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "joiners": self.joiners,
            "leavers": self.leavers,
            "changed": self.changed,
            "usernameChanges": self.username_changes,
            "rolesAdded": self.roles_added,
            "rolesRemoved": self.roles_removed,
        }


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


def preflight(mapping: Mapping, persons: Keyed, roles: Keyed) -> list[str]:
    """Every reason the snapshot must not become Spend Cloud's full list, all at once."""
    export = mapping.export
    assert export is not None
    problems: list[str] = []
    if not persons:
        problems.append("no active persons: an empty persons file would deactivate everyone in Spend Cloud")
    person_checks = _checked_columns(mapping.columns, export.persons.columns, export.persons.encoding)
    for key, row in persons:
        problems += _row_problems(f"person {key!r}", row, person_checks)
    for column in (mapping.username, *mapping.unique):
        if column:
            problems += _duplicates(column, persons)
    if export.roles and mapping.roles:
        role_checks = _checked_columns(mapping.roles.columns, export.roles.columns, export.roles.encoding)
        role_checks = [(c, True, enc) for c, _, enc in role_checks]  # every exported role cell is needed
        usernames = {row.get(mapping.username or "", "") for _, row in persons}
        owner_column = mapping.username if mapping.username in mapping.role_column_names else None
        for owner, row in roles:
            who = f"role of person {owner!r}"
            problems += _row_problems(who, row, role_checks)
            if owner_column and row[owner_column] not in usernames:
                problems.append(f"{who}: {owner_column} {row[owner_column]!r} belongs to no exported person")
    return problems


def _checked_columns(
    columns: Sequence[Column], exported: Sequence[str], encoding: str
) -> list[tuple[Column, bool, str | None]]:
    """(column, must be non-empty, encoding to check) for each column worth checking."""
    wanted = set(exported)
    return [
        (c, c.required, encoding if encoding == "cp1252" and c.name in wanted else None)
        for c in columns
        if c.required or c.max_length or c.name in wanted
    ]


def _row_problems(who: str, row: Row, checks: list[tuple[Column, bool, str | None]]) -> list[str]:
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


def _duplicates(column: str, persons: Keyed) -> list[str]:
    holders: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for key, row in persons:
        value = row.get(column, "")
        if value:
            holders[value.casefold()].append((key, value))
    return [
        f"{column} {found[0][1]!r} is used by persons {', '.join(repr(k) for k, _ in found)}"
        for found in holders.values()
        if len(found) > 1
    ]


# --- diff ------------------------------------------------------------------------------------


@dataclass
class Baseline:
    """The last export as the database keeps it: each person's row, and each person's roles, as
    compact JSON text. Compared as text, an unchanged person costs no decoding and no rewrite."""

    persons: dict[str, str] = field(default_factory=dict)  # key -> row
    roles: dict[str, str] = field(default_factory=dict)  # owner key -> [role row, ...]
    role_count: int = 0


@dataclass
class Changes:
    """What recording an export must change in the baseline: only what differs."""

    persons: list[tuple[str, str]] = field(default_factory=list)
    gone_persons: list[str] = field(default_factory=list)
    roles: list[tuple[str, int, str]] = field(default_factory=list)  # owner, count, text
    gone_roles: list[str] = field(default_factory=list)


def encode(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def diff(mapping: Mapping, baseline: Baseline, persons: Keyed, roles: Keyed) -> tuple[Diff, Changes]:
    """What Spend Cloud will see change against the last export, and what to record for the next."""
    export = mapping.export
    assert export is not None
    username = mapping.username or ""
    compared = list(dict.fromkeys([*export.persons.columns, *([username] if username else [])]))
    result, changes = Diff(), Changes()
    current: set[str] = set()
    for key, row in persons:
        current.add(key)
        text = encode(row)
        old = baseline.persons.get(key)
        if old == text:
            continue
        changes.persons.append((key, text))
        if old is None:
            result.joiners.append({"key": key, "username": row.get(username, "")})
            continue
        before = json.loads(old)
        fields = {
            c: {"before": before.get(c, ""), "after": row.get(c, "")}
            for c in compared
            if before.get(c, "") != row.get(c, "")
        }
        if fields:
            result.changed.append({"key": key, "username": row.get(username, ""), "fields": fields})
        if username in fields:
            result.username_changes.append({"key": key, **fields[username]})
    for key in sorted(set(baseline.persons) - current):
        changes.gone_persons.append(key)
        result.leavers.append({"key": key, "username": json.loads(baseline.persons[key]).get(username, "")})
    _diff_roles(export.roles.columns if export.roles else (), baseline, roles, result, changes)
    return result, changes


def _diff_roles(columns: Sequence[str], baseline: Baseline, roles: Keyed, result: Diff, changes: Changes) -> None:
    owned: dict[str, list[Row]] = {}
    for owner, row in roles:
        owned.setdefault(owner, []).append(row)
    for owner, rows in owned.items():
        text = encode(rows)
        old = baseline.roles.get(owner)
        if old != text:
            changes.roles.append((owner, len(rows), text))
            _compare_roles(owner, json.loads(old) if old else [], rows, columns, result)
    for owner in sorted(set(baseline.roles) - set(owned)):
        changes.gone_roles.append(owner)
        _compare_roles(owner, json.loads(baseline.roles[owner]), [], columns, result)


def _compare_roles(owner: str, old: list[Row], new: list[Row], columns: Sequence[str], result: Diff) -> None:
    if not old or not new:  # a joiner or a leaver: every role is added or removed, nothing to match
        result.roles_added += [_role_dict(_role_identity(owner, r, columns), columns) for r in new]
        result.roles_removed += [_role_dict(_role_identity(owner, r, columns), columns) for r in old]
        return
    before = Counter(_role_identity(owner, r, columns) for r in old)
    after = Counter(_role_identity(owner, r, columns) for r in new)
    result.roles_added += [_role_dict(i, columns) for i in (after - before).elements()]
    result.roles_removed += [_role_dict(i, columns) for i in (before - after).elements()]


def _role_identity(owner: str, row: Row, columns: Sequence[str]) -> tuple[str, ...]:
    return (owner, *(row.get(c, "") for c in columns))


def _role_dict(identity: tuple[str, ...], columns: Sequence[str]) -> Row:
    return {"person": identity[0], **dict(zip(columns, identity[1:], strict=True))}


# --- thresholds ------------------------------------------------------------------------------


def thresholds(mapping: Mapping, found: Diff, previous_persons: int, previous_roles: int) -> list[ThresholdCheck]:
    """Mass-removal checks against the previous export; none before the first export."""
    export = mapping.export
    assert export is not None
    removed_persons = len(found.leavers) + len(found.username_changes)
    found_checks = (
        threshold("removed_persons", export.removed_persons, removed_persons, previous_persons),
        threshold("removed_roles", export.removed_roles, len(found.roles_removed), previous_roles),
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
