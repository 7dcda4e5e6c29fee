"""`adopt`: take over the old PowerShell connector's SQLite file.

Vocabulary: the *old database* has `persons` and `roles` tables, all TEXT, no keys, an
optional `passief` column ('Ja' = inactive); its known defects leave *exact duplicates*
(retries: collapsed quietly), *conflicting duplicates* (one employee number, different
data), rows with no employee number, and roles whose username belongs to nobody. Those
are reported; nothing is written while the report has errors, unless forced (then the
newest row of a conflict wins and unplaceable rows are left out).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from scmapper.errors import EXIT_DATA, EXIT_OK, UsageError
from scmapper.mapping import Mapping
from scmapper.store import Store, now, read_legacy

Row = dict[str, str]


@dataclass
class AdoptReport:
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            ("persons_read", "roles_read", "adopted", "inactive", "roles_adopted", "duplicates_collapsed"), 0
        )
    )
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    written: bool = False

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.written or not self.errors else EXIT_DATA

    def as_dict(self) -> dict[str, Any]:
        return {"written": self.written, "counts": self.counts, "errors": self.errors, "warnings": self.warnings}

    def text(self) -> list[str]:
        c = self.counts
        lines = [
            f"Read {c['persons_read']} person rows and {c['roles_read']} role rows;"
            f" {c['duplicates_collapsed']} exact duplicates collapsed.",
        ]
        lines += [f"ERROR: {e}" for e in self.errors]
        lines += [f"WARNING: {w}" for w in self.warnings]
        if self.written:
            lines.append(f"Adopted {c['adopted']} persons ({c['inactive']} inactive) and {c['roles_adopted']} roles.")
        else:
            lines.append("Nothing written: resolve the errors above in the old database, or use --force.")
        return lines


@dataclass
class Plan:
    """What adopting an old database would load, and the report on it."""

    report: AdoptReport
    persons: dict[str, tuple[Row, bool]]
    roles: dict[str, list[Row]]


def analyse(mapping: Mapping, old_path: str) -> Plan:
    """Reads the old database and decides what to load; writes nothing."""
    persons, roles = read_legacy(old_path)
    report = AdoptReport()
    report.counts["persons_read"], report.counts["roles_read"] = len(persons), len(roles)
    _check_columns(mapping, persons, roles, report)
    chosen = _persons(mapping, persons, report)
    owned = _roles(mapping, chosen, roles, report)
    _unique(mapping, chosen, report)
    return Plan(report, chosen, owned)


def load(mapping: Mapping, store: Store, plan: Plan) -> None:
    """Loads a plan into an empty store, in one transaction."""
    if store.persons.key_states():
        raise UsageError(f"{store.path} already holds persons: adopt loads into a new, empty database")
    _write(mapping, store, plan.persons, plan.roles, plan.report)


def _check_columns(
    mapping: Mapping, persons: list[dict[str, Any]], roles: list[dict[str, Any]], report: AdoptReport
) -> None:
    old = set(persons[0]) if persons else set()
    if persons and mapping.key not in old:
        raise UsageError(f"the old persons table has no {mapping.key!r} column, the mapping's key")
    missing = [c for c in mapping.column_names if persons and c not in old]
    if missing:
        report.warnings.append(f"the old persons table has no {', '.join(missing)}: adopted persons get empty values")
    old_roles = set(roles[0]) if roles else set()
    missing_roles = [c for c in mapping.role_column_names if roles and c not in old_roles]
    if missing_roles:
        report.warnings.append(f"the old roles table has no {', '.join(missing_roles)}: adopted roles get empty values")


def _persons(mapping: Mapping, rows: list[dict[str, Any]], report: AdoptReport) -> dict[str, tuple[Row, bool]]:
    """key -> (person row, active); duplicates collapsed or reported."""
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for number, row in enumerate(rows, start=1):
        key = (row.get(mapping.key) or "").strip()
        if not key:
            report.errors.append(f"person row {number} has no {mapping.key}: it cannot be placed")
            continue
        by_key[key].append(row)
    chosen: dict[str, tuple[Row, bool]] = {}
    for key, found in by_key.items():
        variants = {_signature(mapping, r) for r in found}
        report.counts["duplicates_collapsed"] += len(found) - len(variants)
        if len(variants) > 1:
            report.errors.append(
                f"{mapping.key} {key!r} has {len(variants)} different rows;"
                " the newest (by createtime) is taken with --force"
            )
        newest = max(found, key=lambda r: r.get("createtime") or "")
        chosen[key] = ({c: (newest.get(c) or "") for c in mapping.column_names}, (newest.get("passief") or "") != "Ja")
    return chosen


def _signature(mapping: Mapping, row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(row.get(c) or "") for c in (*mapping.column_names, "passief"))


def _roles(
    mapping: Mapping,
    persons: dict[str, tuple[Row, bool]],
    rows: list[dict[str, Any]],
    report: AdoptReport,
) -> dict[str, list[Row]]:
    """Roles by owner key, placed through the username; identical rows once."""
    username = mapping.username
    owners: dict[str, list[str]] = defaultdict(list)
    for key, (row, _active) in persons.items():
        if username and row.get(username):
            owners[row[username]].append(key)
    owned: dict[str, list[Row]] = defaultdict(list)
    for number, raw in enumerate(rows, start=1):
        role = {c: (raw.get(c) or "") for c in mapping.role_column_names}
        name = (raw.get(username or "") or "") if username else ""
        keys = owners.get(name, [])
        if len(keys) != 1:
            why = "no person has" if not keys else f"{len(keys)} persons have"
            report.errors.append(f"role row {number}: {why} username {name!r}; it cannot be placed")
            continue
        if role in owned[keys[0]]:
            report.counts["duplicates_collapsed"] += 1
            continue
        owned[keys[0]].append(role)
    return owned


def _unique(mapping: Mapping, persons: dict[str, tuple[Row, bool]], report: AdoptReport) -> None:
    for column in mapping.unique:
        holders: dict[str, list[str]] = defaultdict(list)
        for key, (row, active) in persons.items():
            if active and row.get(column):
                holders[row[column].casefold()].append(key)
        for keys in holders.values():
            if len(keys) > 1:
                value = persons[keys[0]][0][column]
                report.errors.append(f"{column} {value!r} is used by active persons {', '.join(map(repr, keys))}")


def _write(
    mapping: Mapping,
    store: Store,
    persons: dict[str, tuple[Row, bool]],
    roles: dict[str, list[Row]],
    report: AdoptReport,
) -> None:
    time = now()
    taken: set[tuple[str, str]] = set()
    with store.transaction():
        for key, (row, active) in persons.items():
            clash = [c for c in mapping.unique if active and row.get(c) and (c, row[c].casefold()) in taken]
            if clash:  # only with --force: the first active holder keeps the value
                report.warnings.append(f"{key!r} left out: its {', '.join(clash)} is taken by an earlier person")
                continue
            taken.update((c, row[c].casefold()) for c in mapping.unique if active and row.get(c))
            mine = roles.get(key, [])
            store.persons.insert(key, row, time, active=active)
            store.persons.replace_roles(key, mine, new=True)
            report.counts["adopted"] += 1
            report.counts["inactive"] += not active
            report.counts["roles_adopted"] += len(mine)
            store.audit.add(
                time=time,
                action="AdoptAccount",
                ref=key,
                success=True,
                message=f"Adopted {key!r} from the old connector's database ({'active' if active else 'inactive'})",
                details=[],
                after={"person": row, "roles": mine},
            )
    report.written = True
