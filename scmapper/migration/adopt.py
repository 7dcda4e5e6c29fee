"""`adopt`: take over the old PowerShell connector's SQLite file.

Vocabulary: the *old database* has `persons` and `roles` tables, all TEXT, no keys, an
optional `passief` column ('Ja' = inactive); its known defects leave *exact duplicates*
(retries: collapsed quietly), *conflicting duplicates* (one employee number, different
data), rows with no employee number, and roles whose username belongs to nobody. Those
are reported; nothing is written while the report has errors, unless forced (then the
newest row of a conflict wins and unplaceable rows are left out). The *old reference* of a
person is the username the old connector returned to HelloID, which HelloID keeps sending:
it becomes an alias of the person (store/aliases.py). The report also says how the first
export will differ from the old connector's export of the same database, and which settings
of `spendcloud-legacy.yaml` the rows fit (oldconnector.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from scmapper.core import values as values_check
from scmapper.errors import EXIT_DATA, EXIT_OK, UsageError
from scmapper.mapping.model import Mapping
from scmapper.migration import oldconnector
from scmapper.store import Store, now, read_legacy

Row = dict[str, str]
OLD_REFERENCE = "gebruikersnaam"  # what the old connector returned as the account reference


@dataclass
class AdoptReport:
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            (
                "persons_read",
                "roles_read",
                "adopted",
                "inactive",
                "roles_adopted",
                "duplicates_collapsed",
                "aliases",
            ),
            0,
        )
    )
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    first_export: list[oldconnector.FileDifference] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    settings: oldconnector.Settings = field(default_factory=oldconnector.Settings)
    written: bool = False

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.written or not self.errors else EXIT_DATA

    def as_dict(self) -> dict[str, Any]:
        return {
            "written": self.written,
            "counts": self.counts,
            "errors": self.errors,
            "warnings": self.warnings,
            "firstExport": {"files": [f.as_dict() for f in self.first_export], "notes": self.notes},
            "legacySettings": self.settings.as_dict(),
        }

    def text(self) -> list[str]:
        c = self.counts
        lines = [
            f"Read {c['persons_read']} person rows and {c['roles_read']} role rows;"
            f" {c['duplicates_collapsed']} exact duplicates collapsed.",
        ]
        lines += [f"ERROR: {e}" for e in self.errors]
        lines += [f"WARNING: {w}" for w in self.warnings]
        if self.written:
            lines.append(
                f"Adopted {c['adopted']} persons ({c['inactive']} inactive) and {c['roles_adopted']} roles;"
                f" {c['aliases']} old references kept as aliases."
            )
        else:
            lines.append("Nothing written: resolve the errors above in the old database, or use --force.")
        lines.append("The first export against the old connector's export of this database:")
        lines += [f"  {f.text()}" for f in self.first_export]
        lines += [f"  {note}" for note in self.notes]
        lines.append("Settings of mappings/spendcloud-legacy.yaml these rows fit:")
        lines += [f"  {line}" for line in self.settings.advice()]
        return lines


@dataclass
class Plan:
    """What adopting an old database would load, and the report on it. `left_out`: persons
    whose unique value an earlier one holds (written without them only when forced)."""

    report: AdoptReport
    persons: dict[str, tuple[Row, bool]]
    roles: dict[str, list[Row]]
    aliases: dict[str, str] = field(default_factory=dict)  # old reference -> key
    left_out: dict[str, list[str]] = field(default_factory=dict)  # key -> the columns taken


def analyse(mapping: Mapping, old_path: str) -> Plan:
    """Reads the old database and decides what to load; writes nothing."""
    persons, roles = read_legacy(old_path)
    report = AdoptReport()
    report.counts["persons_read"], report.counts["roles_read"] = len(persons), len(roles)
    _check_columns(mapping, persons, roles, report)
    sources: dict[str, dict[str, Any]] = {}
    chosen = _persons(mapping, persons, report, sources)
    owned = _roles(mapping, chosen, roles, report)
    _controls(chosen, owned, report)
    _unique(mapping, chosen, report)
    plan = Plan(report, chosen, owned, left_out=_left_out(mapping, chosen))
    plan.aliases = _aliases(mapping, plan, sources, report)
    _compare_with_old(mapping, plan, sources, persons, roles)
    return plan


def _controls(persons: dict[str, tuple[Row, bool]], roles: dict[str, list[Row]], report: AdoptReport) -> None:
    """Values the one check of every value refuses (core.values: a NUL, an escape, an invisible
    or bidi character, half a surrogate pair) are errors; with --force they are adopted without
    those characters, so they never reach Spend Cloud's files."""
    for key, (row, _active) in persons.items():
        for table, found in (("person", [row]), ("role", roles.get(key, []))):
            for values in found:
                for column, value in values.items():
                    if values_check.clean_text(value):
                        continue
                    bad = sorted({c for c in value if not values_check.clean_text(c)})
                    said = ", ".join(values_check.describe(c) for c in bad)
                    report.errors.append(
                        f"{table} of {key!r}: column {column!r} holds {said}; with --force they are left out"
                    )
                    values[column] = "".join(c for c in value if c not in bad)


def load(mapping: Mapping, store: Store, plan: Plan) -> None:
    """Loads a plan into an empty store, in one transaction."""
    if store.persons.key_states():
        raise UsageError(f"{store.path} already holds persons: adopt loads into a new, empty database")
    _write(store, plan)


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


def _persons(
    mapping: Mapping, rows: list[dict[str, Any]], report: AdoptReport, sources: dict[str, dict[str, Any]]
) -> dict[str, tuple[Row, bool]]:
    """key -> (person row, active); duplicates collapsed or reported. `sources` gets the old
    row each person is taken from."""
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for number, row in enumerate(rows, start=1):
        key = str(row.get(mapping.key) or "").strip()
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
        sources[key] = newest
        chosen[key] = ({c: (newest.get(c) or "") for c in mapping.column_names}, (newest.get("passief") or "") != "Ja")
    return chosen


def _signature(mapping: Mapping, row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(row.get(c) or "") for c in (*mapping.column_names, "passief"))


def _role_signature(mapping: Mapping, row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(row.get(c) or "") for c in mapping.role_column_names)


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


def _left_out(mapping: Mapping, persons: dict[str, tuple[Row, bool]]) -> dict[str, list[str]]:
    """Active persons whose unique value an earlier active person holds: the first keeps it."""
    taken: set[tuple[str, str]] = set()
    found: dict[str, list[str]] = {}
    for key, (row, active) in persons.items():
        mine = [(c, row[c].casefold()) for c in mapping.unique if active and row.get(c)]
        clash = [c for c, value in mine if (c, value) in taken]
        if clash:
            found[key] = clash
        else:
            taken.update(mine)
    return found


def _aliases(mapping: Mapping, plan: Plan, sources: dict[str, dict[str, Any]], report: AdoptReport) -> dict[str, str]:
    """Old reference -> the person it names. A reference that is another person's key would be
    ambiguous (an error); one that several persons share goes to an active one."""
    holders: dict[str, list[str]] = defaultdict(list)
    for key, source in sources.items():
        old = str(source.get(OLD_REFERENCE) or "").strip()
        if old and old != key and key not in plan.left_out:
            holders[old].append(key)
    found = {}
    for old, keys in holders.items():
        if old in plan.persons:
            report.errors.append(
                f"the old reference {old!r} of person {keys[0]!r} is also the {mapping.key} of person {old!r}:"
                " HelloID's reference would be ambiguous; with --force it is not kept as an alias"
            )
            continue
        active = [k for k in keys if plan.persons[k][1]] or keys
        found[old] = active[0]
        if len(keys) > 1:
            report.warnings.append(
                f"persons {', '.join(map(repr, keys))} share the old reference {old!r} (the old connector acted on"
                f" them all); it now names {active[0]!r}"
            )
    return found


def _compare_with_old(
    mapping: Mapping,
    plan: Plan,
    sources: dict[str, dict[str, Any]],
    persons: list[dict[str, Any]],
    roles: list[dict[str, Any]],
) -> None:
    """The report's account of the first export against the old export, and the legacy settings."""
    adopted = oldconnector.Adopted(
        mapping.key,
        mapping.username,
        plan.persons,
        set(plan.left_out),
        sources,
        lambda row: _signature(mapping, row),
        lambda row: _role_signature(mapping, row),
    )
    report = plan.report
    report.first_export = oldconnector.first_export(adopted, persons, roles)
    report.notes = oldconnector.notes(persons, mapping.export.persons.columns if mapping.export else None)
    report.settings = oldconnector.settings([sources[k] for k in plan.persons if k not in plan.left_out], roles)


def _write(store: Store, plan: Plan) -> None:
    time = now()
    report = plan.report
    aliases: dict[str, list[str]] = defaultdict(list)
    for alias, owner in plan.aliases.items():
        aliases[owner].append(alias)
    with store.transaction():
        for key, (row, active) in plan.persons.items():
            if key in plan.left_out:  # only with --force: the first active holder keeps the value
                clash = ", ".join(plan.left_out[key])
                report.warnings.append(f"{key!r} left out: its {clash} is taken by an earlier person")
                continue
            mine = plan.roles.get(key, [])
            store.persons.insert(key, row, time, active=active)
            store.persons.replace_roles(key, mine, new=True)
            report.counts["adopted"] += 1
            report.counts["inactive"] += not active
            report.counts["roles_adopted"] += len(mine)
            old = aliases.get(key, [])
            for alias in old:
                store.aliases.add(alias, key, origin="adopt", time=time)
            report.counts["aliases"] += len(old)
            state = "active" if active else "inactive"
            also = f"; old reference {old[0]!r} kept as an alias" if old else ""
            store.audit.add(
                time=time,
                action="AdoptAccount",
                ref=key,
                success=True,
                message=f"Adopted {key!r} from the old connector's database ({state}){also}",
                details=[],
                after={"person": row, "roles": mine},
            )
    report.written = True
