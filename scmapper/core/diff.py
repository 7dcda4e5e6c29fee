"""The diff an export and a sync judge by, and the mass-removal thresholds they hold it to.

Vocabulary: the *diff* is what Spend Cloud will see change against the last export (joiners,
leavers, changed persons, username changes, roles added and removed); a *removal* is a person
Spend Cloud would deactivate: a leaver, or a username change (Spend Cloud keys on username). A
*threshold* trips at greater-or-equal, a count OR a percentage of the base.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypedDict

Row = dict[str, str]


class Person(TypedDict):
    """A joiner or a leaver: the key and the username Spend Cloud knows them by."""

    key: str
    username: str


class Change(TypedDict):
    """One column's value in the last export and now."""

    before: str
    after: str


class Changed(TypedDict):
    """A person whose exported columns changed."""

    key: str
    username: str
    fields: dict[str, Change]


class UsernameChange(TypedDict):
    """A username change: to Spend Cloud a leaver and a joiner."""

    key: str
    before: str
    after: str


class Limit(Protocol):
    """A threshold as a mapping sets it (mapping.exportspec.Threshold)."""

    @property
    def count(self) -> int | None: ...
    @property
    def percent(self) -> float | None: ...
    @property
    def minimum(self) -> int: ...


DIFF_SECTIONS = ("joiners", "leavers", "changed", "usernameChanges", "rolesAdded", "rolesRemoved")


@dataclass
class Diff:
    """What Spend Cloud will see change against the last export. Before the first export
    (`listed` false) every person and role is new: they are counted, not listed."""

    joiners: list[Person] = field(default_factory=list)
    leavers: list[Person] = field(default_factory=list)
    changed: list[Changed] = field(default_factory=list)
    username_changes: list[UsernameChange] = field(default_factory=list)
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

    def only(self, keys: set[str]) -> Diff:
        """This diff of the persons `keys` alone (what was done, when some of the plan failed)."""
        kept = Diff(listed=self.listed)
        kept.joiners = [p for p in self.joiners if p["key"] in keys]
        kept.leavers = [p for p in self.leavers if p["key"] in keys]
        kept.changed = [c for c in self.changed if c["key"] in keys]
        kept.username_changes = [c for c in self.username_changes if c["key"] in keys]
        kept.roles_added = [r for r in self.roles_added if r["person"] in keys]
        kept.roles_removed = [r for r in self.roles_removed if r["person"] in keys]
        for name, found in (
            ("joiners", kept.joiners),
            ("leavers", kept.leavers),
            ("changed", kept.changed),
            ("usernameChanges", kept.username_changes),
            ("rolesAdded", kept.roles_added),
            ("rolesRemoved", kept.roles_removed),
        ):
            kept.totals[name] = len(found)
        return kept

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
        fields: dict[str, Change] = {
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


@dataclass(frozen=True)
class ThresholdCheck:
    name: str
    removed: int
    base: int
    limit: Limit
    tripped: bool

    def as_dict(self) -> dict[str, Any]:
        percent = round(100 * self.removed / self.base, 2) if self.base else 0.0
        return {
            "name": self.name,
            "removed": self.removed,
            "of": self.base,
            "percent": percent,
            "limit": {"count": self.limit.count, "percent": self.limit.percent, "minimum": self.limit.minimum},
            "tripped": self.tripped,
        }

    def describe(self) -> str:
        if self.name == "held":
            return (
                f"held: {self.removed} of {self.base} persons fail a check; the limit (export.held) is"
                f" {self._limits('held persons')}: something upstream is likely wrong"
            )
        what = "persons" if self.name == "removed_persons" else "roles"
        share = f"{100 * self.removed / self.base:.1f}%" if self.base else "0%"
        limits = self._limits("removals")
        return f"{self.name}: {self.removed} of {self.base} {what} ({share}) would be removed; the limit is {limits}"

    def _limits(self, counted: str) -> str:
        parts = (
            f"{self.limit.count}" if self.limit.count else "",
            f"{self.limit.percent:g}% (from {self.limit.minimum} {counted} on)" if self.limit.percent else "",
        )
        return " or ".join(p for p in parts if p)


def threshold(name: str, limit: Limit | None, removed: int, base: int) -> ThresholdCheck | None:
    """One mass-removal check: trips at greater-or-equal, count OR percent of base (HelloID's
    rule); the percent rule only from the limit's minimum number of removals on."""
    if limit is None or base == 0:
        return None
    tripped = bool(
        (limit.count is not None and removed >= limit.count)
        or (limit.percent is not None and removed >= max(limit.minimum, 1) and 100 * removed / base >= limit.percent)
    )
    return ThresholdCheck(name, removed, base, limit, tripped)
