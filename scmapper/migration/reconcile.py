"""`reconcile`: the store against a user list exported from Spend Cloud. Writes nothing.

Vocabulary: a *user* is one row of Spend Cloud's list, read through the mapping's `reconcile`
section (which header holds which person column, and which users are active). Users and
persons are *linked* by the username, Spend Cloud's key; a linked pair whose identity differs
(the key, when the list has it, else the e-mail) is a *username held by another person*. A
user no person here has is *only in Spend Cloud* (created by hand, or left from before); an
active person no user has is *only here* (the next import creates them). Spend Cloud refuses
a value of a unique column (the e-mail) that any of its users holds, inactive ones included:
such a value *held by a different user* is reported with that user's state.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scmapper.core import fields
from scmapper.core.reports import section
from scmapper.errors import EXIT_DATA, EXIT_OK, UsageError
from scmapper.mapping.exportspec import Reconcile
from scmapper.mapping.model import Mapping
from scmapper.store import StoredPerson


@dataclass(frozen=True)
class User:
    line: int
    values: dict[str, str]  # person column -> the user's value
    active: bool

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line, "active": self.active, **self.values}


@dataclass
class ReconcileReport:
    spendcloud: str
    users: int = 0
    persons: int = 0  # active persons here
    linked: list[dict[str, Any]] = field(default_factory=list)
    only_spendcloud: list[dict[str, Any]] = field(default_factory=list)
    only_here: list[dict[str, Any]] = field(default_factory=list)
    held: list[dict[str, Any]] = field(default_factory=list)  # a unique value another user holds
    taken_usernames: list[dict[str, Any]] = field(default_factory=list)  # a username another person holds

    @property
    def exit_code(self) -> int:
        return EXIT_DATA if self.held or self.taken_usernames else EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "spendcloud": self.spendcloud,
            "users": self.users,
            "persons": self.persons,
            "counts": {
                "linked": len(self.linked),
                "onlyInSpendCloud": len(self.only_spendcloud),
                "onlyHere": len(self.only_here),
                "heldByAnotherUser": len(self.held),
                "usernameOfAnotherPerson": len(self.taken_usernames),
            },
            "linked": self.linked,
            "onlyInSpendCloud": self.only_spendcloud,
            "onlyHere": self.only_here,
            "heldByAnotherUser": self.held,
            "usernameOfAnotherPerson": self.taken_usernames,
        }

    def text(self) -> list[str]:
        counts = self.as_dict()["counts"]
        lines = [
            f"{self.spendcloud}: {self.users} Spend Cloud users against {self.persons} active persons here:"
            f" {counts['linked']} linked, {counts['onlyInSpendCloud']} only in Spend Cloud,"
            f" {counts['onlyHere']} only here",
        ]
        lines += section(
            "Spend Cloud will refuse these values: another of its users holds them",
            [
                f"person {h['key']!r}: {h['column']} {h['value']!r} is held by Spend Cloud user {h['heldBy']!r}"
                f" ({'active' if h['heldByActive'] else 'inactive'}, line {h['line']})"
                for h in self.held
            ],
        )
        lines += section(
            "Usernames Spend Cloud gives to another person: the next import would update that user",
            [
                f"person {t['key']!r}: username {t['username']!r} belongs to another Spend Cloud user"
                f" (line {t['line']}): {t['why']}"
                for t in self.taken_usernames
            ],
        )
        lines += section(
            "Only in Spend Cloud (created there by hand, or left from before)",
            [_user_text(u) for u in self.only_spendcloud],
        )
        lines += section(
            "Only here (the next import creates them)", [f"{p['key']} ({p['username']})" for p in self.only_here]
        )
        return lines


def _user_text(user: dict[str, Any]) -> str:
    shown = ", ".join(f"{k}={v!r}" for k, v in user.items() if k not in ("line", "active"))
    return f"line {user['line']}: {shown} ({'active' if user['active'] else 'inactive'})"


def run_reconcile(mapping: Mapping, persons: list[StoredPerson], path: Path) -> ReconcileReport:
    spec = mapping.reconcile
    if spec is None:
        raise UsageError(
            f"{mapping.file} has no reconcile section: add reconcile.columns naming the headers of"
            " Spend Cloud's user list (docs/implementers.md)"
        )
    username = mapping.username
    assert username is not None  # the mapping's checks require it in reconcile.columns
    users = read_users(spec, path)
    report = ReconcileReport(str(path), users=len(users), persons=sum(p.active for p in persons))
    by_name = {name: found[0] for name, found in _index(users, username).items()}
    holders = {column: _index(users, column) for column in mapping.unique if column != username}
    known = {p.row.get(username, "").casefold() for p in persons if p.row.get(username)}
    identity = _identity(mapping, spec)
    for person in persons:
        if person.active:
            _person(mapping, person, by_name, identity, report)
            _held(mapping, person, holders, report)
    report.only_spendcloud = [u.as_dict() for u in users if u.values.get(username, "").casefold() not in known]
    return report


def _person(
    mapping: Mapping, person: StoredPerson, by_name: dict[str, User], identity: str | None, report: ReconcileReport
) -> None:
    """Links a person to the user with their username, unless that user is another person."""
    username = mapping.username or ""
    key, name = person.row.get(mapping.key, person.ref), person.row.get(username, "")
    user = by_name.get(name.casefold()) if name else None
    theirs = user.values.get(identity, "") if user and identity else ""
    if user is None:
        report.only_here.append({"key": key, "username": name})
    elif identity and theirs and theirs.casefold() != person.row.get(identity, "").casefold():
        report.taken_usernames.append(
            {
                "key": key,
                "username": name,
                "line": user.line,
                "spendcloud": {c: v for c, v in user.values.items() if c != username},
                "why": f"its {identity} is {theirs!r}, this person's {person.row.get(identity, '')!r}",
            }
        )
    else:
        report.linked.append({"key": key, "username": name, "line": user.line, "active": user.active})


def _held(
    mapping: Mapping, person: StoredPerson, holders: dict[str, dict[str, list[User]]], report: ReconcileReport
) -> None:
    """A unique value of the person's (the e-mail) that a user with another username holds."""
    username = mapping.username or ""
    key, name = person.row.get(mapping.key, person.ref), person.row.get(username, "")
    for column, index in holders.items():
        value = person.row.get(column, "")
        for other in index.get(value.casefold(), []) if value else []:
            if other.values.get(username, "").casefold() != name.casefold():
                report.held.append(
                    {
                        "key": key,
                        "column": column,
                        "value": value,
                        "heldBy": other.values.get(username, ""),
                        "heldByActive": other.active,
                        "line": other.line,
                    }
                )


def _identity(mapping: Mapping, spec: Reconcile) -> str | None:
    """The column that tells two persons apart when they share a username: the key, else an e-mail."""
    named = dict(spec.columns)
    if mapping.key in named:
        return mapping.key
    return next((c for c in mapping.unique if c in named and c != mapping.username), None)


def _index(users: list[User], column: str) -> dict[str, list[User]]:
    """The users by their value of a column (ignoring case), in list order; no empty values."""
    found: dict[str, list[User]] = {}
    for user in users:
        value = user.values.get(column, "")
        if value:
            found.setdefault(value.casefold(), []).append(user)
    return found


def read_users(spec: Reconcile, path: Path) -> list[User]:
    """The users of Spend Cloud's list, by the mapping's headers; UsageError when it cannot be read."""
    try:
        text = path.read_bytes().decode(spec.encoding)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not {spec.encoding} (byte {exc.start}): set reconcile.encoding") from None
    first = text.split("\n", 1)[0]
    delimiter = spec.delimiter or max(";,\t", key=first.count)
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return _users(spec, rows, path)
    except csv.Error as exc:  # a cell over the csv module's 128 KiB, a stray quote: not a user list
        raise UsageError(f"{path}:{rows.line_num}: not a user list Spend Cloud exports ({exc})") from None


def _users(spec: Reconcile, rows: Iterator[list[str]], path: Path) -> list[User]:
    header = next(rows, None)
    if not header:
        raise UsageError(f"{path} is empty: expected a header row")
    where = _columns(spec, header, path)
    users = []
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        values = {column: _cell(row, i) for column, i in where.items() if column != "scm_active"}
        active = "scm_active" not in where or _cell(row, where["scm_active"]).casefold() in {
            v.casefold() for v in spec.active_values
        }
        users.append(User(number, values, active))
    return users


def _columns(spec: Reconcile, header: list[str], path: Path) -> dict[str, int]:
    """Person column (and scm_active) -> its index in the list; every named header must be there."""
    names = [h.strip() for h in header]
    wanted = [*spec.columns, *([("scm_active", spec.active)] if spec.active else [])]
    found, missing = {}, []
    for column, label in wanted:
        match = fields.matching(names, label)
        if match is None:
            missing.append(label)
        else:
            found[column] = names.index(match)
    if missing:
        raise UsageError(
            f"{path}:1: no column {', '.join(map(repr, missing))} in the header ({', '.join(names)});"
            " set reconcile.columns (and reconcile.active) in the mapping to this list's headers"
        )
    return found


def _cell(row: list[str], index: int) -> str:
    return row[index].strip() if index < len(row) else ""
