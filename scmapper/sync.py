"""`sync`: bring the store in line with a full snapshot of source records.

Vocabulary: a *plan* is the list of lifecycle events a snapshot calls for (create for
a new key, update for a changed person, enable for one who returns, disable or delete
for an active person whose key is missing or who is no longer active in the source);
*protected* keys belong to records that failed mapping: they are never removed, so a
broken record cannot take its person out of Spend Cloud. The export's removed_persons
threshold guards the plan as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from scmapper import lifecycle
from scmapper.checks import ThresholdCheck
from scmapper.errors import EXIT_DATA, EXIT_OK, DataError
from scmapper.events import Event
from scmapper.rules import MappedPerson, Rules
from scmapper.sources import Record
from scmapper.store import Store

COUNTS = ("created", "updated", "enabled", "unchanged", "disabled", "deleted", "skipped", "failed")


@dataclass
class SyncReport:
    dry_run: bool
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    failures: list[dict[str, str | None]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    threshold: ThresholdCheck | None = None
    refused: bool = False
    forced: bool = False

    @property
    def exit_code(self) -> int:
        return EXIT_DATA if self.refused or self.failures else EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "refused" if self.refused else ("checked" if self.dry_run else "applied"),
            "dryRun": self.dry_run,
            "counts": self.counts,
            "failures": self.failures,
            "warnings": self.warnings,
            "threshold": self.threshold.as_dict() if self.threshold else None,
            "forced": self.forced,
        }

    def text(self) -> list[str]:
        c = self.counts
        verb = "would be" if self.dry_run or self.refused else ""
        lines = [
            f"{'Dry run: ' if self.dry_run else ''}{c['created']} created, {c['updated']} updated,"
            f" {c['enabled']} enabled,"
            f" {c['disabled']} disabled, {c['deleted']} deleted, {c['unchanged']} unchanged,"
            f" {c['skipped']} skipped (inactive in the source), {c['failed']} failed"
            + (f" ({verb} applied)" if verb else ""),
        ]
        if not self.dry_run and not self.refused and sum(c[k] for k in COUNTS[:6] if k != "unchanged") == 0:
            lines.append("Nothing changed.")
        if self.threshold and self.threshold.tripped:
            verdict = "OVERRIDDEN with --force" if self.forced else "REFUSED, nothing written"
            lines.append(f"{verdict}: threshold {self.threshold.describe()}")
        lines += [f"WARNING: {w}" for w in self.warnings]
        lines += [f"FAILED {f['origin']} (key {f['key'] or '?'}): {f['reason']}" for f in self.failures]
        return lines


@dataclass(frozen=True)
class _Step:
    action: str
    key: str
    ref: str | None = None
    mapped: MappedPerson | None = None
    record: Record | None = None


def run_sync(
    rules: Rules,
    store: Store,
    records: list[Record],
    *,
    dry_run: bool,
    force: bool = False,
    today: date | None = None,
) -> SyncReport:
    report = SyncReport(dry_run=dry_run)
    present, protected = _map_all(rules, records, report, today)
    steps = _plan(store, present, protected, rules.mapping.missing, report)
    removals = [s for s in steps if s.action in ("disable", "delete")]
    active_now = sum(1 for _, active, deleted in store.key_states().values() if active and not deleted)
    report.threshold = _threshold(rules, len(removals), active_now)
    if report.threshold and report.threshold.tripped:
        report.forced = force
        if not force:
            report.refused = True
            for step in steps:
                report.counts[_count_name(step.action)] += 1
            return report
    for step in steps:
        _apply(step, rules, store, report)
    return report


def _map_all(
    rules: Rules,
    records: list[Record],
    report: SyncReport,
    today: date | None,
) -> tuple[dict[str, tuple[Record, MappedPerson]], set[str]]:
    """Maps every record once; failures are reported and their keys protected."""
    present: dict[str, tuple[Record, MappedPerson]] = {}
    protected: set[str] = set()
    for record in records:
        try:
            mapped = rules.map_person(record.data, today, check_inactive=False)
        except DataError as exc:
            key = rules.key_of(record.data)
            _fail(report, record.origin, key, str(exc))
            if key:
                protected.add(key)
            continue
        if mapped.key in present:
            _fail(report, record.origin, mapped.key, f"duplicate key: {present[mapped.key][0].origin} has it too")
            protected.add(mapped.key)
            continue
        present[mapped.key] = (record, mapped)
    return present, protected


def _plan(
    store: Store,
    present: dict[str, tuple[Record, MappedPerson]],
    protected: set[str],
    missing: str,
    report: SyncReport,
) -> list[_Step]:
    states = store.key_states()
    steps = []
    for key, (record, mapped) in present.items():
        state = states.get(key)
        if not mapped.active:
            if state and state[1] and not state[2]:
                steps.append(_Step(missing, key, state[0], record=record))
            else:
                report.counts["skipped"] += 1
            continue
        if state is None or state[2]:
            steps.append(_Step("create", key, None, mapped, record))
        elif not state[1]:
            steps.append(_Step("enable", key, state[0], mapped, record))
        elif _changed(store, state[0], mapped):
            steps.append(_Step("update", key, state[0], mapped, record))
        else:
            report.counts["unchanged"] += 1
    for key, (ref, active, deleted) in sorted(states.items()):
        if active and not deleted and key not in present and key not in protected:
            steps.append(_Step(missing, key, ref))
    return steps


def _changed(store: Store, ref: str, mapped: MappedPerson) -> bool:
    stored = store.person(ref)
    return stored is None or stored.row != mapped.row or stored.roles != mapped.roles


def _threshold(rules: Rules, removed: int, active: int) -> ThresholdCheck | None:
    export = rules.mapping.export
    limit = export.removed_persons if export else None
    if limit is None or active == 0:
        return None
    tripped = bool(
        (limit.count is not None and removed >= limit.count)
        or (limit.percent is not None and removed > 0 and 100 * removed / active >= limit.percent)
    )
    return ThresholdCheck("removed_persons", removed, active, limit, tripped)


def _apply(step: _Step, rules: Rules, store: Store, report: SyncReport) -> None:
    person = step.record.data if step.record else None
    event = Event(
        step.action,
        person if step.mapped else None,
        step.ref,
        report.dry_run,
        mapped=step.mapped,
        source="sync",
    )
    result = lifecycle.apply(event, rules, store)
    if result.success:
        report.counts[_count_name(step.action)] += 1
    else:
        reason = next((e.message for e in result.audit if e.is_error), "failed")
        _fail(report, step.record.origin if step.record else "database", step.key, reason)


def _count_name(action: str) -> str:
    return {"create": "created", "update": "updated", "enable": "enabled", "disable": "disabled", "delete": "deleted"}[
        action
    ]


def _fail(report: SyncReport, origin: str, key: str | None, reason: str) -> None:
    report.counts["failed"] += 1
    report.failures.append({"origin": origin, "key": key, "reason": reason})
