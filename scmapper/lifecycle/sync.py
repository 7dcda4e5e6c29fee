"""`sync`: bring the store in line with a full snapshot of source records.

Vocabulary: a *plan* is the list of lifecycle events a snapshot calls for (create for
a new key, update for a changed person, enable for one who returns, disable or delete
for an active person whose key is missing or who is no longer active in the source);
*protected* keys belong to records that failed mapping: they are never removed, so a
broken record cannot take its person out of Spend Cloud. The export's removed_persons
threshold guards the plan as a whole. The report's *diff* is the plan as Spend Cloud would
see it: joiners (create, enable), leavers (disable, delete), changed columns with their old
and new values, username changes, roles added and removed. Its warnings hold the snapshot's
join notes and, counted, what mapping the written persons warned about (absent fields, no
roles).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date

from scmapper.core.diff import Diff, ThresholdCheck, threshold
from scmapper.core.progress import Meters
from scmapper.errors import DataError, Interrupted
from scmapper.lifecycle import actions as lifecycle
from scmapper.lifecycle.events import Event
from scmapper.lifecycle.syncreport import SyncReport, count_name
from scmapper.mapping import day as run_day
from scmapper.mapping.model import Mapping
from scmapper.mapping.rules import MappedPerson, Rules
from scmapper.sources.inputs import Snapshot
from scmapper.sources.records import Line, Record
from scmapper.store import KeyState, Store, now


@dataclass(frozen=True)
class _Present:
    """A record in the snapshot: mapped, or (record and mapped None) when its fingerprint says
    nothing changed, so nothing of it is kept but where it came from."""

    origin: str
    record: Record | Line | None
    mapped: MappedPerson | None
    digest: str


@dataclass(frozen=True)
class _Step:
    action: str
    key: str
    ref: str | None = None
    mapped: MappedPerson | None = None
    record: Record | Line | None = None


def run_sync(
    rules: Rules,
    store: Store,
    records: Snapshot | Iterable[Record | Line],
    *,
    dry_run: bool,
    force: bool = False,
    today: date | None = None,
    meters: Meters | None = None,
) -> SyncReport:
    meters = meters or Meters(None, None)
    snapshot = records if isinstance(records, Snapshot) else Snapshot(records)
    report = SyncReport(dry_run=dry_run, warnings=list(snapshot.notes))
    states = store.persons.key_states()
    day = today or run_day.today()
    reading = meters.meter("sync: reading", None, "records")
    present, protected, absent = _map_all(
        rules, replace(snapshot, records=reading.track(snapshot.records)), report, day, states
    )
    reading.close()
    report.read = reading.items
    report.absent = _absent_in_most(rules, report, absent)
    if report.absent:
        report.forced = force
        if not dry_run:
            _log_verdict(store, report)
        if not force:
            report.refused = True
            return report
    steps = _plan(states, store, present, protected, rules.mapping.missing, report)
    report.diff = _diff(steps, store, rules.mapping)
    removals = [s for s in steps if s.action in ("disable", "delete")]
    report.threshold = _threshold(rules, len(removals), sum(1 for s in states.values() if s.live))
    if report.threshold and report.threshold.tripped:
        report.forced = force
        if not dry_run:
            _log_verdict(store, report)
        if not force:
            report.refused = True
            for step in steps:
                report.counts[count_name(step.action)] += 1
            return report
    applying = meters.meter("sync: applying", len(steps), "changes")
    applied: set[str] = set()
    try:
        for step in applying.track(steps):
            if _apply(step, rules, store, report):
                applied.add(step.key)
    except KeyboardInterrupt:
        _interrupted(store, report, done=applying.items, planned=len(steps))
    applying.close()
    if len(applied) < len(steps):  # the lists say what was done, as the counts do
        report.diff = report.diff.only(applied)
    if not dry_run:
        _remember(store, states, present, {step.key for step in steps}, applied)
    return report


def fingerprints(rules: Rules, day: date, tables: str = "") -> Callable[[Record | Line], str]:
    """The fingerprint of a record's content as this mapping sees it on this day, with these
    lookup tables (their digest): an equal fingerprint means an equal mapping result, so the
    record need not be mapped again. A JSON-lines record is identified by its bytes as read
    (no decoding, no parsing: an unchanged line costs a hash). The mapping, the day and the
    tables are hashed once a run."""
    # Without tables the seed is what it always was, so fingerprints already stored stay valid.
    seed = f"{rules.mapping.fingerprint}\0{day.isoformat()}\0" + (f"{tables}\0" if tables else "")
    base = hashlib.blake2b(seed.encode(), digest_size=16)

    def digest(record: Record | Line) -> str:
        found = base.copy()
        if isinstance(record, Line):
            found.update(b"L")
            found.update(record.raw)
        else:
            text = json.dumps(record.data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
            found.update(b"J" + text.encode())
        return found.hexdigest()

    return digest


def _map_all(
    rules: Rules,
    snapshot: Snapshot,
    report: SyncReport,
    day: date,
    states: dict[str, KeyState],
) -> tuple[dict[str, _Present], set[str], Counter[str]]:
    """Maps every record whose fingerprint is new; failures are reported and their keys
    protected, and so is a person whose record does not say whether they are active. Counts,
    for each absent field, the records it left undecided or failed."""
    known = {s.source: key for key, s in states.items() if s.source}
    present: dict[str, _Present] = {}
    protected: set[str] = set()
    absent: Counter[str] = Counter()
    digest_of = fingerprints(rules, day, snapshot.digest)
    warned: Counter[str] = Counter()
    for record in snapshot.records:
        digest = digest_of(record)
        mapped = None
        key = known.get(digest)
        if key is None:
            try:
                mapped = rules.map_person(record.data, day, check_inactive=False, inputs=snapshot.tables)
            except DataError as exc:
                key = _key_of(rules, record, snapshot)
                _fail(report, record.origin, key, str(exc))
                absent.update(dict.fromkeys(_ABSENT.findall(str(exc)), 1))
                if key:
                    protected.add(key)
                else:
                    report.unplaced += 1
                continue
            key = mapped.key
            if mapped.undecided:  # the source did not say: neither taken out nor brought in
                absent.update(mapped.undecided)
                fields = ", ".join(mapped.undecided)
                warned[f"left as they are: {fields} absent, so whether they are active is unknown"] += 1
                report.counts["undecided"] += 1
                if key:
                    protected.add(key)
                else:
                    report.unplaced += 1
                continue
            if mapped.active:
                warned.update(_general(w, key) for w in mapped.warnings)
            elif not key:  # an inactive record without a key (a directory's service account): nobody to take out
                report.counts["skipped"] += 1
                continue
        if key in present:
            _fail(report, record.origin, key, f"duplicate key: {present[key].origin} has it too")
            protected.add(key)
            continue
        # A step needs the record: an active one, or an inactive one whose person is still live.
        state = states.get(key)
        needed = mapped is not None and (mapped.active or (state is not None and state.live))
        present[key] = _Present(record.origin, record if needed else None, mapped, digest)
    report.warnings += [f"{count} person{'s' if count > 1 else ''}: {text}" for text, count in warned.items()]
    return present, protected, absent


_ABSENT = re.compile(r"\(([\w.\[\]'\"-]+) is absent\)")


def _absent_in_most(rules: Rules, report: SyncReport, absent: Counter[str]) -> list[str]:
    """A field that most records lack, where it decides whether a person is active or fills a
    required column: the snapshot is of the wrong shape (fetched without it), and read as it is
    it would take everyone out. Each such field in words, with the input's fetch."""
    main = rules.mapping.source.main
    fetch = f" Fetch it as: {main.fetch}" if main.fetch else " Check how the file was fetched: the field is left out."
    return [
        f"input {main.name}: {count} of {report.read} records lack {name}, which decides whether a person is active"
        f" or fills a required column; read as it is, this snapshot would take them out.{fetch}"
        for name, count in absent.most_common()
        if report.read and 2 * count > report.read
    ]


def _key_of(rules: Rules, record: Record | Line, snapshot: Snapshot) -> str | None:
    """The key of a record that failed, if it has one (a line that is no record has none)."""
    try:
        return rules.key_of(record.data, snapshot.tables)
    except DataError:
        return None


def _general(warning: str, key: str) -> str:
    """A mapping warning without the person it is about, so equal ones count together."""
    return warning.removeprefix(f"person {key!r}: ").removeprefix(f"person {key!r} ")


def _plan(
    states: dict[str, KeyState],
    store: Store,
    present: dict[str, _Present],
    protected: set[str],
    missing: str,
    report: SyncReport,
) -> list[_Step]:
    steps = []
    for key, item in present.items():
        state, mapped = states.get(key), item.mapped
        if mapped is None:  # same fingerprint as the row already reflects
            report.counts["unchanged" if state and state.live else "skipped"] += 1
        elif not mapped.active:
            if state and state.live:
                steps.append(_Step(missing, key, state.ref, record=item.record))
            else:
                report.counts["skipped"] += 1
        elif state is None or state.deleted:
            steps.append(_Step("create", key, None, mapped, item.record))
        elif not state.active:
            steps.append(_Step("enable", key, state.ref, mapped, item.record))
        elif _changed(store, state.ref, mapped):
            steps.append(_Step("update", key, state.ref, mapped, item.record))
        else:
            report.counts["unchanged"] += 1
    gone = [key for key, state in states.items() if state.live and key not in present and key not in protected]
    if gone and report.unplaced:
        # A record that failed before its key was known could be any of them.
        report.warnings.append(
            f"{report.unplaced} record(s) failed before their key was known, so {len(gone)} person(s) missing"
            f" from the snapshot are not {missing}d this run; mend those records and sync again"
        )
        return steps
    steps += [_Step(missing, key, states[key].ref) for key in sorted(gone)]
    return steps


def _diff(steps: list[_Step], store: Store, mapping: Mapping) -> Diff:
    """The plan as Spend Cloud would see it, by key as the export's diff is; a returning person
    (enable) is a joiner."""
    found = Diff()
    columns, username, role_columns = mapping.column_names, mapping.username or "", mapping.role_column_names
    for step in sorted(steps, key=lambda s: s.key):
        stored = store.persons.get(step.ref) if step.ref else None
        if step.mapped is None:  # disable or delete
            found.leaver(step.key, stored.row.get(username, "") if stored else "")
            found.roles(step.key, stored.roles if stored else [], [], role_columns)
            continue
        before = stored if stored is not None and step.action == "update" else None
        row = json.dumps(step.mapped.row, ensure_ascii=False)
        found.person(step.key, before.row if before else None, row, columns, username)
        found.roles(step.key, before.roles if before else [], step.mapped.roles, role_columns)
    return found


def _interrupted(store: Store, report: SyncReport, *, done: int, planned: int) -> None:
    """Ctrl+C while applying: what was committed stays; the log and the message say how far."""
    said = f"sync interrupted after {done:,} of {planned:,} changes; those are committed, rerun to finish"
    if not report.dry_run:
        with store.transaction():
            store.audit.add(time=now(), action="SyncInterrupted", ref=None, success=False, message=said, details=[])
    raise Interrupted(said) from None


def _log_verdict(store: Store, report: SyncReport) -> None:
    """A refused snapshot, or one forced past the threshold, in the audit log."""
    action = "SyncForced" if report.forced else "SyncRefused"
    verdict = "applied with --force" if report.forced else "refused, nothing written"
    way_out = "" if report.forced else " (--dry-run lists the changes; --force applies them)"
    reasons = [*report.absent] + ([f"threshold {report.threshold.describe()}"] if report.threshold else [])
    with store.transaction():
        store.audit.add(
            time=now(),
            action=action,
            ref=None,
            success=report.forced,
            message=f"Snapshot {verdict}: {'; '.join(reasons)}{way_out}",
            details=[
                {
                    "threshold": report.threshold.as_dict() if report.threshold else None,
                    "absent": report.absent,
                    "forced": report.forced,
                }
            ],
        )


def _changed(store: Store, ref: str, mapped: MappedPerson) -> bool:
    stored = store.persons.get(ref)
    return stored is None or stored.row != mapped.row or stored.roles != mapped.roles


def _remember(
    store: Store, states: dict[str, KeyState], present: dict[str, _Present], stepped: set[str], applied: set[str]
) -> None:
    """Stores the fingerprint of each record its person's row now reflects exactly: one just
    written, or one that needed no change (an active record and a live person, or an inactive
    record and a person already out). A failed step stores nothing."""
    pairs = []
    for key, item in present.items():
        state, mapped = states.get(key), item.mapped
        if mapped is None:
            continue
        settled = (
            key not in stepped and state is not None and state.live == mapped.active and state.source != item.digest
        )
        if key in applied or settled:
            pairs.append((item.digest, state.ref if state else key))
    if pairs:
        with store.transaction():
            store.persons.set_sources(pairs)


def _threshold(rules: Rules, removed: int, active: int) -> ThresholdCheck | None:
    """The export's removed_persons threshold, against the persons active now."""
    export = rules.mapping.export
    return threshold("removed_persons", export.removed_persons if export else None, removed, active)


def _apply(step: _Step, rules: Rules, store: Store, report: SyncReport) -> bool:
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
        report.counts[count_name(step.action)] += 1
        return True
    reason = next((e.message for e in result.audit if e.is_error), "failed")
    _fail(report, step.record.origin if step.record else "database", step.key, reason)
    return False


def _fail(report: SyncReport, origin: str, key: str | None, reason: str) -> None:
    report.counts["failed"] += 1
    report.failures.append({"origin": origin, "key": key, "reason": reason})
