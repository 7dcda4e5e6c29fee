"""`compare`: what a mapping would change in Spend Cloud, before it goes live. Writes nothing.

Vocabulary: each *event* (a HelloID action context, a native event, or a bare person as
HelloID's person preview shows it; one per file, a JSON array, or JSON lines) carries a person; the
mapping's rows for that person are compared with the *stored* rows of the account the event
names (its reference, an alias included, or else the person's key). A *difference* is one
column whose mapped value is not the stored one: a person column, or a role column of a role
paired with a stored role (identical roles pair first, the rest in order); roles with no
partner are *added* or *removed*. Counts are per column over all persons. An implementer tunes
the mapping until there are none: then the first export after going live changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scmapper import jsontext
from scmapper.core.reports import section
from scmapper.errors import EXIT_DATA, EXIT_OK, DataError, EventError
from scmapper.lifecycle import events
from scmapper.mapping.rows import Row
from scmapper.mapping.rules import MappedPerson, Rules
from scmapper.store import Store, StoredPerson


@dataclass(frozen=True)
class Difference:
    column: str  # a person column, or roles[i].column for the i-th stored role
    stored: str
    mapped: str

    def as_dict(self) -> dict[str, str]:
        return {"column": self.column, "stored": self.stored, "mapped": self.mapped}

    def text(self) -> str:
        return f"{self.column}: {self.stored!r} -> {self.mapped!r}"


@dataclass
class Compared:
    """One event's person against their stored account."""

    origin: str
    reference: str | None  # the reference the event named
    account: str
    differences: list[Difference]

    def as_dict(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "reference": self.reference,
            "account": self.account,
            "differences": [d.as_dict() for d in self.differences],
        }


@dataclass
class CompareReport:
    mapping: str
    events: int = 0
    persons: list[Compared] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)  # no stored account
    failed: list[dict[str, Any]] = field(default_factory=list)  # could not be read or mapped
    skipped: list[dict[str, Any]] = field(default_factory=list)  # no person in the event

    @property
    def columns(self) -> Counter[str]:
        """Differences per column: person columns by name, role columns as roles.<name>."""
        found: Counter[str] = Counter()
        for person in self.persons:
            found.update(_column_family(d.column) for d in person.differences)
        return found

    @property
    def exit_code(self) -> int:
        changed = any(p.differences for p in self.persons)
        return EXIT_DATA if changed or self.missing or self.failed else EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        changed = [p for p in self.persons if p.differences]
        return {
            "mapping": self.mapping,
            "events": self.events,
            "compared": len(self.persons),
            "unchanged": len(self.persons) - len(changed),
            "changed": len(changed),
            "columns": dict(sorted(self.columns.items())),
            "persons": [p.as_dict() for p in changed],
            "missing": self.missing,
            "failed": self.failed,
            "skipped": self.skipped,
        }

    def text(self) -> list[str]:
        found = self.as_dict()
        lines = [
            f"{self.events} events: {found['compared']} persons compared with {self.mapping},"
            f" {found['unchanged']} unchanged, {found['changed']} would change in Spend Cloud"
        ]
        counts = ", ".join(f"{column} {n}" for column, n in found["columns"].items())
        if counts:
            lines.append(f"Differences per column: {counts}")
        for person in self.persons:
            if person.differences:
                named = f" (reference {person.reference!r})" if person.reference not in (None, person.account) else ""
                lines.append(f"Account {person.account!r}{named}, {person.origin}:")
                lines += [f"  {d.text()}" for d in person.differences]
        lines += section("No stored account", [f"{m['origin']}: {m['reason']}" for m in self.missing])
        lines += section("Not compared", [f"{f['origin']}: {f['reason']}" for f in self.failed])
        lines += section("Without a person (nothing to compare)", [s["origin"] for s in self.skipped])
        if not any(p.differences for p in self.persons) and not self.missing and not self.failed:
            lines.append("No differences: going live with this mapping changes nothing in Spend Cloud for them.")
        return lines


def _column_family(column: str) -> str:
    """roles[2].functiecode -> roles.functiecode, roles[2] -> roles.removed, roles[+1] ->
    roles.added; a person column stays as it is."""
    if not column.startswith("roles["):
        return column
    if "]." in column:
        return "roles." + column.partition("].")[2]
    return "roles.added" if column.startswith("roles[+") else "roles.removed"


def run_compare(rules: Rules, store: Store, paths: Sequence[Path]) -> CompareReport:
    report = CompareReport(rules.mapping.file)
    for origin, data in _events(paths):
        report.events += 1
        try:
            event = _event(data)
            if event.person is None:
                report.skipped.append({"origin": origin})
                continue
            mapped = rules.map_person(event.person)
        except (EventError, DataError) as exc:
            report.failed.append({"origin": origin, "reason": str(exc)})
            continue
        stored, reason = _stored(store, rules, event.account_ref, mapped)
        if stored is None:
            report.missing.append({"origin": origin, "key": mapped.key, "reason": reason})
            continue
        found = differences(rules, stored, mapped)
        report.persons.append(Compared(origin, event.account_ref, stored.ref, found))
    return report


def _events(paths: Sequence[Path]) -> Iterator[tuple[str, Any]]:
    """(origin, decoded JSON) per event: a file holding one JSON event, or JSON lines."""
    for path in paths:
        text = jsontext.read_text(path)
        try:
            whole = jsontext.loads(text)
        except jsontext.JsonError:
            pass
        else:
            if isinstance(whole, list):
                yield from ((f"{path}#{i}", item) for i, item in enumerate(whole, start=1))
            else:
                yield str(path), whole
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    yield f"{path}:{number}", jsontext.loads(line)
                except jsontext.JsonError as exc:
                    yield f"{path}:{number}", _Unreadable(str(exc).removeprefix("is "))


@dataclass(frozen=True)
class _Unreadable:
    reason: str


def _event(data: Any) -> events.Event:
    """The event, whatever action it was sent for (HelloID's name none, a native event its own),
    or a bare person (HelloID's person preview), to be found by key."""
    if isinstance(data, _Unreadable):
        raise EventError(data.reason)
    keys = {str(k).lower() for k in data} if isinstance(data, dict) else set()
    native = keys <= events.NATIVE_KEYS and bool(keys & {"person", "action"})
    if native or keys & {"actioncontext", "personcontext"}:
        return events.parse(data, action=None if "action" in keys else "update")
    if isinstance(data, dict):
        return events.Event("update", data)
    return events.parse(data)  # not an object: parse says what it is


def _stored(store: Store, rules: Rules, ref: str | None, mapped: MappedPerson) -> tuple[StoredPerson | None, str]:
    if ref:
        found = store.persons.account(ref)
        return found, f"no account with reference {ref!r}"
    holder = store.persons.find(rules.mapping.key, mapped.key) if mapped.key else None
    found = store.persons.get(holder) if holder else None
    return found, f"no account with {rules.mapping.key} {mapped.key!r}"


def differences(rules: Rules, stored: StoredPerson, mapped: MappedPerson) -> list[Difference]:
    found = [
        Difference(c, stored.row.get(c, ""), mapped.row[c])
        for c in rules.mapping.column_names
        if stored.row.get(c, "") != mapped.row[c]
    ]
    return found + _role_differences(rules.mapping.role_column_names, stored.roles, mapped.roles)


def _role_differences(columns: Sequence[str], stored: list[Row], mapped: list[Row]) -> list[Difference]:
    """Identical roles pair first; the others pair in order, column by column; the rest are
    roles added or removed."""
    old = list(enumerate(stored))
    new = list(mapped)
    for role in mapped:
        match = next((i for i, (_, r) in enumerate(old) if r == role), None)
        if match is not None:
            del old[match]
            new.remove(role)
    found = []
    for (index, before), after in zip(old, new, strict=False):
        found += [
            Difference(f"roles[{index}].{c}", before.get(c, ""), after.get(c, ""))
            for c in columns
            if before.get(c, "") != after.get(c, "")
        ]
    found += [Difference(f"roles[{index}]", _show(before), "") for index, before in old[len(new) :]]
    found += [Difference(f"roles[+{i}]", "", _show(after)) for i, after in enumerate(new[len(old) :], start=1)]
    return found


def _show(role: Row) -> str:
    return ", ".join(f"{k}={v}" for k, v in role.items())
